//! Usage errors: the user asked for something invalid (exit code 2), as opposed to a failure
//! while doing something valid (exit code 1).

#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns early with a usage error.
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::usage::UsageError(format!($($arg)*))))
    };
}
pub(crate) use usage;
