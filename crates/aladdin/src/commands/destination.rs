//! The flags that name where data goes or comes from — `generate --out`, `verify --against`,
//! `stream --out`, `chart --database-url` and `--from-dir` — all parsed by
//! `faux_sinks::destination`. Each flag says which kinds it takes; anything else is a usage
//! error naming the flag, the value and what the flag takes.

use std::ffi::OsStr;

use faux_sinks::destination::{Destination, DestinationError, Kind, redact};

use crate::usage::UsageError;

/// A destination flag of a command.
#[derive(Debug)]
pub struct Flag {
    /// `--against`.
    pub name: &'static str,
    /// What the command does with it: `verify reads`.
    pub verb: &'static str,
    /// The kinds it takes, in the order they are offered.
    pub kinds: &'static [Kind],
    /// Where a value of another kind goes, if anywhere: `a folder goes to --from-dir`.
    pub hint: Option<&'static str>,
}

impl Flag {
    /// Parses `value`. A destination of a kind this flag does not take is returned: the
    /// command matches the kinds it takes and hands the rest to [`Flag::refuse`].
    pub fn parse(&self, value: &str) -> anyhow::Result<Destination> {
        Destination::parse(value).map_err(|e| self.invalid(value, e))
    }

    /// [`Flag::parse`] for a path argument (which need not be UTF-8).
    pub fn parse_os(&self, value: &OsStr) -> anyhow::Result<Destination> {
        Destination::parse_os(value).map_err(|e| self.invalid(&value.to_string_lossy(), e))
    }

    fn invalid(&self, value: &str, e: DestinationError) -> anyhow::Error {
        match e.kind() {
            // a broken URL of a kind the flag does not take anyway: say that, not the flaw
            Some(kind) if !self.kinds.contains(&kind) => self.refuse_kind(value, kind),
            // the error says what a URL of its kind looks like
            Some(_) => UsageError(format!("{}: {e}", self.name)).into(),
            None => UsageError(format!("{}: {e}; {}", self.name, self.takes())).into(),
        }
    }

    /// The usage error for a destination this flag does not take.
    pub fn refuse(&self, value: &str, d: &Destination) -> anyhow::Error {
        self.refuse_kind(value, d.kind())
    }

    fn refuse_kind(&self, value: &str, kind: Kind) -> anyhow::Error {
        let shown = match kind {
            Kind::Folder => value.to_string(),
            _ => redact(value),
        };
        UsageError(format!(
            "{} {shown} is {}: {}{}",
            self.name,
            kind.noun(),
            self.takes(),
            self.hint.map(|h| format!(" ({h})")).unwrap_or_default()
        ))
        .into()
    }

    /// `verify reads a folder, postgres://… or sqlite://…`.
    fn takes(&self) -> String {
        let forms: Vec<&str> = self.kinds.iter().map(|k| k.form()).collect();
        let list = match forms.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        format!("{} {list}", self.verb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGAINST: Flag = Flag {
        name: "--against",
        verb: "verify reads",
        kinds: &[Kind::Folder, Kind::Postgres, Kind::Sqlite],
        hint: None,
    };

    #[test]
    fn a_kind_the_flag_does_not_take_is_named_with_what_it_takes() {
        let d = AGAINST.parse("nats://127.0.0.1:4222").unwrap();
        assert_eq!(
            AGAINST.refuse("nats://127.0.0.1:4222", &d).to_string(),
            "--against nats://127.0.0.1:4222 is a NATS server: verify reads a folder, \
             postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE or sqlite://PATH.db"
        );
        // a broken URL of such a kind: the kind is the problem, and no password is shown
        let e = AGAINST.parse("amqp://u:secret@h:notaport").unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some());
        let e = e.to_string();
        assert!(
            e.starts_with("--against amqp://u:***@h:notaport is a RabbitMQ (AMQP) broker: verify reads a folder"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_value_is_named_with_what_the_flag_takes() {
        let e = AGAINST.parse("ftp://x").unwrap_err().to_string();
        assert_eq!(
            e,
            "--against: unknown scheme ftp:// in ftp://x; verify reads a folder, \
             postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE or sqlite://PATH.db"
        );
        let e = AGAINST.parse("sqlite://").unwrap_err().to_string();
        assert_eq!(
            e,
            "--against: invalid SQLite URL sqlite://: no file name \
             (expected sqlite://relative/path.db or sqlite:///absolute/path.db)"
        );
    }
}
