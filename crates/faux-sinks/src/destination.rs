//! Where rows go or are read from, parsed once from what a user typed: a folder,
//! `postgres://…`, `sqlite://…`, `amqp://…`, `nats://…`, `s3://…`, `gs://…`, `az://…` (object
//! storage) or `-` (standard output).
//!
//! [`Destination::parse`] knows every scheme, whatever this build supports (a scheme whose
//! feature is off is an error that names the feature), and checks a URL without connecting.
//! Which kinds a caller takes is its own business — a reader cannot read a broker — so it
//! matches on the result and refuses the rest, naming what it takes ([`Kind::form`]).
//! Nothing here shows a password: errors and [`BrokerUrl::shown`] hide credentials.

use std::ffi::OsStr;
use std::path::PathBuf;

#[cfg(feature = "postgres")]
use crate::postgres::{PgError, PgTarget};
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteError;

/// What a destination is, without its details: for a caller to say what it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Folder,
    Postgres,
    Sqlite,
    Amqp,
    Nats,
    /// `s3://BUCKET/PREFIX`, `gs://BUCKET/PREFIX`, `az://CONTAINER/PREFIX`.
    ObjectStore,
    Stdout,
}

impl Kind {
    /// What a destination of this kind is: "`x` is a SQLite database".
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Folder => "a file or folder name",
            Kind::Postgres => "a PostgreSQL database",
            Kind::Sqlite => "a SQLite database",
            Kind::Amqp => "a RabbitMQ (AMQP) broker",
            Kind::Nats => "a NATS server",
            Kind::ObjectStore => "object storage",
            Kind::Stdout => "standard output",
        }
    }

    /// How to write one: "takes a folder or sqlite://PATH.db".
    pub fn form(self) -> &'static str {
        match self {
            Kind::Folder => "a folder",
            Kind::Postgres => "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
            Kind::Sqlite => "sqlite://PATH.db",
            Kind::Amqp => "amqp://USER:PASSWORD@HOST[:PORT]/VHOST",
            Kind::Nats => "nats://HOST[:PORT]",
            Kind::ObjectStore => {
                "s3://BUCKET[/PREFIX], gs://BUCKET[/PREFIX] or az://CONTAINER[/PREFIX]"
            }
            Kind::Stdout => "- (standard output)",
        }
    }

    /// The kind a URL scheme names (case-insensitive, as schemes are) and the cargo feature
    /// that supports it.
    fn of_scheme(scheme: &str) -> Option<(Kind, &'static str)> {
        SCHEMES
            .iter()
            .find(|(s, ..)| s.eq_ignore_ascii_case(scheme))
            .map(|&(_, kind, feature)| (kind, feature))
    }
}

/// Every scheme a destination can have: (scheme, kind, cargo feature).
const SCHEMES: [(&str, Kind, &str); 10] = [
    ("postgres", Kind::Postgres, "postgres"),
    ("postgresql", Kind::Postgres, "postgres"),
    ("sqlite", Kind::Sqlite, "sqlite"),
    ("amqp", Kind::Amqp, "amqp"),
    ("amqps", Kind::Amqp, "amqp"),
    ("nats", Kind::Nats, "nats"),
    ("tls", Kind::Nats, "nats"),
    ("s3", Kind::ObjectStore, "s3"),
    ("gs", Kind::ObjectStore, "gcs"),
    ("az", Kind::ObjectStore, "azure"),
];

/// A broker URL: as given, to connect with, and as shown to people, without credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub url: String,
    pub shown: String,
}

// the URL may hold a password: debug output shows what messages show
impl std::fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BrokerUrl").field(&self.shown).finish()
    }
}

/// A parsed destination (see the module docs).
#[derive(Debug, Clone)]
pub enum Destination {
    Folder(PathBuf),
    /// In schema `public`; [`PgTarget::with_schema`] picks another.
    #[cfg(feature = "postgres")]
    Postgres(Box<PgTarget>),
    #[cfg(feature = "sqlite")]
    Sqlite(PathBuf),
    #[cfg(feature = "amqp")]
    Amqp(BrokerUrl),
    #[cfg(feature = "nats")]
    Nats(BrokerUrl),
    #[cfg(feature = "object")]
    ObjectStore(crate::object::ObjectUrl),
    Stdout,
}

/// Why a string names no destination. Every variant shows the value with its password hidden.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("an empty string names no destination")]
    Empty,
    #[error("unknown scheme {scheme}:// in {shown}")]
    UnknownScheme { shown: String, scheme: String },
    #[error(
        "{shown} looks like a {scheme}: URL but is not one: a URL needs `{scheme}://`, and a folder name has no `{scheme}:`"
    )]
    NotAUrl { shown: String, scheme: String },
    #[error("{shown} is {}, which this build cannot use (cargo feature {feature})", .kind.noun())]
    NotBuilt {
        shown: String,
        kind: Kind,
        feature: &'static str,
    },
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Postgres(#[from] PgError),
    #[cfg(feature = "sqlite")]
    #[error(transparent)]
    Sqlite(#[from] SqliteError),
    #[error("invalid object-storage URL {shown}: {reason}")]
    ObjectStore { shown: String, reason: String },
    #[error("invalid {} URL {shown}: {reason} (expected {})", broker_name(*.kind), .kind.form())]
    Broker {
        shown: String,
        kind: Kind,
        reason: String,
    },
}

fn broker_name(kind: Kind) -> &'static str {
    if kind == Kind::Amqp {
        "RabbitMQ"
    } else {
        "NATS"
    }
}

impl DestinationError {
    /// The kind the value was meant as, when its scheme says so: a caller that does not take
    /// that kind says so rather than what is wrong with the URL.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            DestinationError::Empty
            | DestinationError::UnknownScheme { .. }
            | DestinationError::NotAUrl { .. } => None,
            DestinationError::NotBuilt { kind, .. } | DestinationError::Broker { kind, .. } => {
                Some(*kind)
            }
            DestinationError::ObjectStore { .. } => Some(Kind::ObjectStore),
            #[cfg(feature = "postgres")]
            DestinationError::Postgres(_) => Some(Kind::Postgres),
            #[cfg(feature = "sqlite")]
            DestinationError::Sqlite(_) => Some(Kind::Sqlite),
        }
    }
}

impl Destination {
    /// `-`, a URL of a known scheme (checked, not connected to), or a folder. A string that
    /// starts like a URL without being one (`postgres:me@host/db`, `sqlite:shop.db`) is an
    /// error, not a folder of that name.
    pub fn parse(s: &str) -> Result<Destination, DestinationError> {
        if s == "-" {
            return Ok(Destination::Stdout);
        }
        if s.is_empty() {
            return Err(DestinationError::Empty);
        }
        if let Some((scheme, rest)) = s.split_once("://") {
            let Some((kind, feature)) = Kind::of_scheme(scheme) else {
                return Err(DestinationError::UnknownScheme {
                    shown: redact(s),
                    scheme: scheme.to_string(),
                });
            };
            // the clients want the scheme in lower case
            return url(
                kind,
                feature,
                &format!("{}://{rest}", scheme.to_ascii_lowercase()),
            );
        }
        if let Some(scheme) = url_like_scheme(s) {
            return Err(DestinationError::NotAUrl {
                shown: redact(s),
                scheme: scheme.to_string(),
            });
        }
        Ok(Destination::Folder(PathBuf::from(s)))
    }

    /// As [`Destination::parse`]; a name that is not UTF-8 cannot be a URL: a folder.
    pub fn parse_os(s: &OsStr) -> Result<Destination, DestinationError> {
        match s.to_str() {
            Some(s) => Destination::parse(s),
            None => Ok(Destination::Folder(PathBuf::from(s))),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Destination::Folder(_) => Kind::Folder,
            #[cfg(feature = "postgres")]
            Destination::Postgres(_) => Kind::Postgres,
            #[cfg(feature = "sqlite")]
            Destination::Sqlite(_) => Kind::Sqlite,
            #[cfg(feature = "amqp")]
            Destination::Amqp(_) => Kind::Amqp,
            #[cfg(feature = "nats")]
            Destination::Nats(_) => Kind::Nats,
            #[cfg(feature = "object")]
            Destination::ObjectStore(_) => Kind::ObjectStore,
            Destination::Stdout => Kind::Stdout,
        }
    }
}

/// A URL of a known scheme, as its client reads it.
fn url(kind: Kind, feature: &'static str, url: &str) -> Result<Destination, DestinationError> {
    match kind {
        #[cfg(feature = "postgres")]
        Kind::Postgres => Ok(Destination::Postgres(Box::new(PgTarget::parse(url, None)?))),
        #[cfg(feature = "sqlite")]
        Kind::Sqlite => Ok(Destination::Sqlite(crate::sqlite::path_of(url)?)),
        #[cfg(feature = "amqp")]
        Kind::Amqp => broker(kind, url, crate::stream::amqp::parse_url).map(Destination::Amqp),
        #[cfg(feature = "nats")]
        Kind::Nats => broker(kind, url, crate::stream::nats::parse_url).map(Destination::Nats),
        #[cfg(feature = "object")]
        Kind::ObjectStore if object_client_built(feature) => crate::object::ObjectUrl::parse(url)
            .map(Destination::ObjectStore)
            .map_err(|reason| DestinationError::ObjectStore {
                shown: redact(url),
                reason,
            }),
        _ => Err(DestinationError::NotBuilt {
            shown: redact(url),
            kind,
            feature,
        }),
    }
}

/// Whether the object-storage client of a scheme's cargo feature is in this build (a build
/// may have `s3` without `gcs`, say).
#[cfg(feature = "object")]
fn object_client_built(feature: &str) -> bool {
    const BUILT: [(&str, bool); 3] = [
        ("s3", cfg!(feature = "s3")),
        ("gcs", cfg!(feature = "gcs")),
        ("azure", cfg!(feature = "azure")),
    ];
    BUILT.iter().any(|&(f, built)| built && f == feature)
}

#[cfg(any(feature = "amqp", feature = "nats"))]
fn broker(
    kind: Kind,
    url: &str,
    parse: fn(&str) -> Result<String, String>,
) -> Result<BrokerUrl, DestinationError> {
    match parse(url) {
        Ok(shown) => Ok(BrokerUrl {
            url: url.to_string(),
            shown,
        }),
        Err(reason) => Err(DestinationError::Broker {
            shown: redact(url),
            kind,
            reason,
        }),
    }
}

/// The scheme of a string that starts like a URL without being one (`postgres:/x`,
/// `sqlite:shop.db`, `postgres:me@host/db`): a scheme name of two or more characters (one is a
/// Windows drive) followed by `:`, then a `/`, or a known scheme followed by anything.
fn url_like_scheme(s: &str) -> Option<&str> {
    let (scheme, rest) = s.split_once(':')?;
    let is_scheme = scheme.len() >= 2
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let known = Kind::of_scheme(scheme).is_some()
        || ["http", "https", "file", "mysql"].contains(&scheme.to_ascii_lowercase().as_str());
    (is_scheme && (rest.starts_with('/') || known)).then_some(scheme)
}

/// A command-line flag that names a destination (`--against`, `--out`, `--database-url`):
/// the CLIs (aladdin and genie) declare their flags with this, so that a bad value gets the
/// same message, naming the flag, the value and what the flag takes, whichever binary read it.
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
    pub fn parse(&self, value: &str) -> Result<Destination, FlagError> {
        Destination::parse(value).map_err(|e| self.invalid(value, e))
    }

    /// [`Flag::parse`] for a path argument (which need not be UTF-8).
    pub fn parse_os(&self, value: &OsStr) -> Result<Destination, FlagError> {
        Destination::parse_os(value).map_err(|e| self.invalid(&value.to_string_lossy(), e))
    }

    fn invalid(&self, value: &str, e: DestinationError) -> FlagError {
        match e.kind() {
            // a broken URL of a kind the flag does not take anyway: say that, not the flaw
            Some(kind) if !self.kinds.contains(&kind) => self.refuse_kind(value, kind),
            // the error says what a URL of its kind looks like
            Some(_) => FlagError(format!("{}: {e}", self.name)),
            None => FlagError(format!("{}: {e}; {}", self.name, self.takes())),
        }
    }

    /// The usage error for a destination this flag does not take.
    pub fn refuse(&self, value: &str, d: &Destination) -> FlagError {
        self.refuse_kind(value, d.kind())
    }

    fn refuse_kind(&self, value: &str, kind: Kind) -> FlagError {
        let shown = match kind {
            Kind::Folder => value.to_string(),
            _ => redact(value),
        };
        FlagError(format!(
            "{} {shown} is {}: {}{}",
            self.name,
            kind.noun(),
            self.takes(),
            self.hint.map(|h| format!(" ({h})")).unwrap_or_default()
        ))
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

/// A value a [`Flag`] does not take; the message names the flag (a usage error to the CLI).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FlagError(pub String);

/// The URL with any password masked, for messages: `postgres://ann:***@db/shop`; also in a
/// string that only starts like one (`postgres:ann:secret@db/shop`).
pub fn redact(url: &str) -> String {
    let Some(colon) = url.find(':') else {
        return url.to_string();
    };
    let slashes = url[colon + 1..].len() - url[colon + 1..].trim_start_matches('/').len();
    let (head, rest) = url.split_at(colon + 1 + slashes);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((auth, host)) => match auth.split_once(':') {
            Some((user, _)) => format!("{head}{user}:***@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        Destination::parse(s).unwrap_err().to_string()
    }

    #[test]
    fn folders_and_standard_output() {
        assert!(matches!(Destination::parse("-"), Ok(Destination::Stdout)));
        for folder in ["data", "out/", "/tmp/x", "./a:b", "C:\\data", "data:2024"] {
            match Destination::parse(folder) {
                Ok(Destination::Folder(p)) => assert_eq!(p, PathBuf::from(folder)),
                other => panic!("{folder}: {other:?}"),
            }
        }
        assert_eq!(err(""), "an empty string names no destination");
    }

    #[test]
    fn unknown_schemes_are_named_with_the_password_hidden() {
        let e = err("kafka://me:secret@localhost:9092");
        assert_eq!(
            e,
            "unknown scheme kafka:// in kafka://me:***@localhost:9092"
        );
        assert_eq!(Destination::parse("ftp://x").unwrap_err().kind(), None);
    }

    #[test]
    fn what_looks_like_a_url_is_not_taken_for_a_folder() {
        for (bad, scheme) in [
            ("postgres:me@host/db", "postgres"),
            ("postgresql:/postgres@127.0.0.1/x", "postgresql"),
            ("sqlite:shop.db", "sqlite"),
            ("nats:host:4222", "nats"),
            ("mysql:h/db", "mysql"),
            ("whatever:/x", "whatever"),
        ] {
            let e = err(bad);
            assert!(e.contains(bad), "{e}");
            assert!(e.contains(&format!("`{scheme}://`")), "{e}");
        }
        let e = err("postgres:me:secret@host/db");
        assert!(e.contains("postgres:me:***@host/db"), "{e}");
    }

    #[test]
    #[cfg(feature = "postgres")]
    fn postgres_urls() {
        for url in [
            "postgres://ann@db:6543/shop",
            "postgresql://ann@db:6543/shop",
            "POSTGRES://ann@db:6543/shop",
        ] {
            match Destination::parse(url).unwrap() {
                Destination::Postgres(t) => {
                    assert_eq!(t.describe(), "db:6543/shop as user ann, schema public");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        let e = Destination::parse("postgres://ann:secret@db:notaport/shop").unwrap_err();
        assert_eq!(e.kind(), Some(Kind::Postgres));
        let msg = e.to_string();
        assert!(msg.contains("postgres://ann:***@db:notaport/shop"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
    }

    #[test]
    #[cfg(feature = "sqlite")]
    fn sqlite_urls() {
        match Destination::parse("sqlite://data/shop.db").unwrap() {
            Destination::Sqlite(p) => assert_eq!(p, PathBuf::from("data/shop.db")),
            other => panic!("{other:?}"),
        }
        match Destination::parse("sqlite:///tmp/shop.db").unwrap() {
            Destination::Sqlite(p) => assert_eq!(p, PathBuf::from("/tmp/shop.db")),
            other => panic!("{other:?}"),
        }
        let e = Destination::parse("sqlite://").unwrap_err();
        assert_eq!(e.kind(), Some(Kind::Sqlite));
        assert!(e.to_string().contains("no file name"), "{e}");
    }

    #[test]
    #[cfg(feature = "amqp")]
    fn amqp_urls_are_shown_without_credentials() {
        match Destination::parse("amqp://guest:secret@127.0.0.1:5672/%2f").unwrap() {
            Destination::Amqp(b) => {
                assert_eq!(b.url, "amqp://guest:secret@127.0.0.1:5672/%2f");
                assert_eq!(b.shown, "amqp://127.0.0.1:5672");
                assert!(!format!("{b:?}").contains("secret"));
            }
            other => panic!("{other:?}"),
        }
        let e = Destination::parse("amqp://guest:secret@h:notaport").unwrap_err();
        assert_eq!(e.kind(), Some(Kind::Amqp));
        let msg = e.to_string();
        assert!(
            msg.starts_with("invalid RabbitMQ URL amqp://guest:***@h:notaport: "),
            "{msg}"
        );
        assert!(msg.contains("expected amqp://"), "{msg}");
        assert!(err("amqps://h").contains("TLS"));
    }

    #[test]
    #[cfg(feature = "nats")]
    fn nats_urls_are_shown_without_credentials() {
        for (url, shown) in [
            ("nats://user:pw@127.0.0.1:4222", "nats://127.0.0.1:4222"),
            ("tls://127.0.0.1", "tls://127.0.0.1:4222"),
        ] {
            match Destination::parse(url).unwrap() {
                Destination::Nats(b) => assert_eq!(b.shown, shown),
                other => panic!("{url}: {other:?}"),
            }
        }
        let e = Destination::parse("nats://h:notaport").unwrap_err();
        assert_eq!(e.kind(), Some(Kind::Nats));
        assert!(
            e.to_string()
                .starts_with("invalid NATS URL nats://h:notaport: "),
            "{e}"
        );
    }

    #[test]
    #[cfg(not(feature = "amqp"))]
    fn a_scheme_this_build_lacks_names_its_feature() {
        let e = Destination::parse("amqp://h").unwrap_err();
        assert_eq!(e.kind(), Some(Kind::Amqp));
        assert!(e.to_string().contains("feature amqp"), "{e}");
    }

    #[test]
    #[cfg(feature = "s3")]
    fn object_storage_urls() {
        match Destination::parse("S3://shop-data/landing/").unwrap() {
            Destination::ObjectStore(u) => {
                assert_eq!(u.to_string(), "s3://shop-data/landing");
            }
            other => panic!("{other:?}"),
        }
        let e = Destination::parse("s3://me:secret@bucket/x").unwrap_err();
        assert_eq!(e.kind(), Some(Kind::ObjectStore));
        let msg = e.to_string();
        assert!(!msg.contains("secret"), "{msg}");
        assert!(msg.contains("AWS_ACCESS_KEY_ID"), "{msg}");
    }

    #[test]
    #[cfg(all(feature = "gcs", feature = "azure"))]
    fn google_and_azure_urls() {
        for (url, shown) in [
            ("GS://shop-data/landing/", "gs://shop-data/landing"),
            ("az://shop-data", "az://shop-data"),
        ] {
            match Destination::parse(url).unwrap() {
                Destination::ObjectStore(u) => assert_eq!(u.to_string(), shown),
                other => panic!("{url}: {other:?}"),
            }
        }
        let e = Destination::parse("az://Shop/x").unwrap_err();
        assert_eq!(e.kind(), Some(Kind::ObjectStore));
        assert!(e.to_string().contains("is not a container name"), "{e}");
    }

    #[test]
    #[cfg(not(feature = "gcs"))]
    fn google_without_its_feature_names_it() {
        let e = Destination::parse("gs://bucket/x").unwrap_err();
        assert_eq!(e.kind(), Some(Kind::ObjectStore));
        assert!(e.to_string().contains("feature gcs"), "{e}");
    }

    #[test]
    #[cfg(not(feature = "azure"))]
    fn azure_without_its_feature_names_it() {
        let e = Destination::parse("az://container/x").unwrap_err();
        assert_eq!(e.kind(), Some(Kind::ObjectStore));
        assert!(e.to_string().contains("feature azure"), "{e}");
    }

    #[test]
    #[cfg(not(feature = "s3"))]
    fn object_storage_without_its_feature_names_it() {
        let e = Destination::parse("s3://bucket/x").unwrap_err();
        assert!(e.to_string().contains("feature s3"), "{e}");
    }

    #[test]
    #[cfg(unix)]
    fn non_utf8_names_are_folders() {
        use std::os::unix::ffi::OsStrExt;
        let name = OsStr::from_bytes(b"postgres:\xff");
        assert!(matches!(
            Destination::parse_os(name),
            Ok(Destination::Folder(_))
        ));
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact("postgres://ann:secret@db.example/shop"),
            "postgres://ann:***@db.example/shop"
        );
        assert_eq!(redact("nats://db:4222"), "nats://db:4222");
        assert_eq!(redact("amqp://ann@h/v"), "amqp://ann@h/v");
        // an `@` in the path is not the authority's
        assert_eq!(redact("x://h/a:b@c"), "x://h/a:b@c");
        assert_eq!(redact("plain"), "plain");
    }
}

// the URLs below parse with their sinks' features, as in the binaries (and the workspace's
// tests, which unify the features)
#[cfg(all(
    test,
    feature = "postgres",
    feature = "sqlite",
    feature = "nats",
    feature = "amqp"
))]
mod flag_tests {
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
