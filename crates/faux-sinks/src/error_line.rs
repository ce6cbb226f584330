//! An error and its causes on one line, as the binaries print it (`error: <this>`): never a
//! backtrace, whatever `RUST_BACKTRACE` says — that is for us, not for users.

/// `e` and its sources, `: `-separated, each said once: an error that shows its source in its
/// own message (`path: No such file or directory (os error 2)`) is not followed by it again.
pub fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut cause = Some(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.ends_with(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[derive(Debug)]
    struct Wrapped(&'static str, Option<std::io::Error>);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_ref().map(|e| e as _)
        }
    }

    #[test]
    fn causes_follow_once() {
        let io = || std::io::Error::other("disk full");
        assert_eq!(
            one_line(&Wrapped("writing data/x.csv", Some(io()))),
            "writing data/x.csv: disk full"
        );
        // a message that already ends with its source's is not followed by it again
        assert_eq!(
            one_line(&Wrapped("data/x.csv: disk full", Some(io()))),
            "data/x.csv: disk full"
        );
        assert_eq!(one_line(&Wrapped("alone", None)), "alone");
    }
}
