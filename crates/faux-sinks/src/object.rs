//! Object storage: `generate --out s3://BUCKET/PREFIX` (feature `s3`), `gs://BUCKET/PREFIX`
//! (feature `gcs`) and `az://CONTAINER/PREFIX` (feature `azure`), and `verify --against` any of
//! them, through the `object_store` crate. The three differ only in how a client is built
//! ([`Client::new`]); writing, reading and the guarantees below are one code path.
//!
//! Writing: every partition is encoded into a local staging folder exactly as into a folder
//! of files (the same bytes, the same checksums, the same Hive layout under the prefix), then
//! uploaded to its final key: in one request up to [`Service::one_put_max`], else as a
//! multipart upload (S3's multipart upload, Azure's staged blocks). A store shows an object
//! only once its PUT, completed multipart upload or committed block list is in, so a reader
//! sees a partition complete or not at all, never torn: a failed or interrupted upload is
//! aborted, and the parts of a killed process stay invisible (on S3 a bucket lifecycle rule
//! for incomplete multipart uploads deletes them; Azure drops uncommitted blocks after a
//! week). The manifest goes last, merged with the one already under the prefix, so it only
//! ever names partitions that are there.
//!
//! Credentials and endpoint come from each service's usual environment variables:
//! - S3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (or
//!   AWS_DEFAULT_REGION), AWS_ENDPOINT_URL for an S3-compatible server (MinIO, Ceph, R2,
//!   moto), and AWS_ALLOW_HTTP=true to let it be plain http.
//! - GCS: GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT (a key file),
//!   GOOGLE_SERVICE_ACCOUNT_KEY (its JSON), else the metadata server; an emulator through
//!   STORAGE_EMULATOR_HOST (the variable Google's own client libraries read: no signing) or
//!   GOOGLE_BASE_URL.
//! - Azure: AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_KEY,
//!   AZURE_STORAGE_TOKEN or the AZURE_CLIENT_ID/AZURE_CLIENT_SECRET/AZURE_TENANT_ID of a
//!   service principal (else managed identity); AZURE_STORAGE_ENDPOINT for another endpoint;
//!   Azurite through AZURE_STORAGE_USE_EMULATOR=true (and AZURITE_BLOB_STORAGE_URL).
//!
//! Reading (`verify`): the data objects under the prefix are downloaded into a staging folder
//! and read as a folder of files ([`crate::verify::files::FileSource`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use faux::{Date, TableDef};
use futures_util::StreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::SinkError;
use crate::files::{FileRun, PartitionStats};
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::verify::files::FileSource;
use crate::verify::{Mode, Source, Val, VerifyError};

/// A partition up to this size goes in one request where multipart uploads are used; a
/// larger one in parts of this size (S3 wants at least 5 MiB for every part but the last).
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// Which object store a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `s3://`: Amazon S3 and S3-compatible servers.
    S3,
    /// `gs://`: Google Cloud Storage.
    Gcs,
    /// `az://`: Azure Blob Storage.
    Azure,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::S3, Service::Gcs, Service::Azure];

    pub fn scheme(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Gcs => "gs",
            Service::Azure => "az",
        }
    }

    /// What the first segment of the URL names.
    fn container(self) -> &'static str {
        match self {
            Service::S3 | Service::Gcs => "bucket",
            Service::Azure => "container",
        }
    }

    /// `s3://BUCKET[/PREFIX]`.
    pub fn form(self) -> String {
        format!(
            "{}://{}[/PREFIX]",
            self.scheme(),
            self.container().to_ascii_uppercase()
        )
    }

    /// Where its credentials and endpoint come from, for messages.
    fn settings(self) -> &'static str {
        match self {
            Service::S3 => "the AWS_* environment variables",
            Service::Gcs => {
                "GOOGLE_APPLICATION_CREDENTIALS, the GOOGLE_* environment variables or STORAGE_EMULATOR_HOST"
            }
            Service::Azure => "the AZURE_STORAGE_* environment variables",
        }
    }

    /// The largest partition sent in one request; a larger one goes up in parts. GCS takes
    /// every partition in one request: a single upload is atomic there up to 5 TiB, and a
    /// killed run leaves nothing behind (the parts of an XML multipart upload would stay,
    /// billed, until aborted).
    pub fn one_put_max(self) -> usize {
        match self {
            Service::S3 | Service::Azure => PART_BYTES,
            Service::Gcs => usize::MAX,
        }
    }

    /// Whether a container name is valid for this service, or the rule it breaks.
    fn check_container(self, name: &str) -> Result<(), String> {
        let edges_ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
        let only = |extra: &[u8]| {
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
        };
        let (ok, rule) = match self {
            Service::S3 => (
                (3..=63).contains(&name.len()) && only(b".-") && edges_ok,
                "3 to 63 lower-case letters, digits, `.` and `-`, starting and ending with a letter or digit",
            ),
            Service::Gcs => (
                // names with dots may be longer (up to 222, 63 per dot-separated part)
                (3..=222).contains(&name.len())
                    && name.split('.').all(|p| p.len() <= 63)
                    && only(b".-_")
                    && edges_ok,
                "3 to 63 lower-case letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
            ),
            Service::Azure => (
                (3..=63).contains(&name.len()) && only(b"-") && edges_ok && !name.contains("--"),
                "3 to 63 lower-case letters, digits and single `-`, starting and ending with a letter or digit",
            ),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{} {name:?} is not a {} name ({rule}); expected {}",
                self.container(),
                self.container(),
                self.form()
            ))
        }
    }
}

/// `s3://BUCKET[/PREFIX]`, `gs://BUCKET[/PREFIX]` or `az://CONTAINER[/PREFIX]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectUrl {
    pub service: Service,
    /// The bucket (Azure: the container).
    pub bucket: String,
    /// Without a leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl ObjectUrl {
    /// The reason is a sentence fragment for
    /// [`crate::destination::DestinationError::ObjectStore`]. The scheme is lower case
    /// ([`crate::destination::Destination::parse`] sees to that).
    pub fn parse(url: &str) -> Result<ObjectUrl, String> {
        let (service, rest) = Service::ALL
            .iter()
            .find_map(|&s| {
                url.strip_prefix(s.scheme())
                    .and_then(|r| r.strip_prefix("://"))
                    .map(|r| (s, r))
            })
            .ok_or(
                "expected s3://BUCKET[/PREFIX], gs://BUCKET[/PREFIX] or az://CONTAINER[/PREFIX]",
            )?;
        if rest.contains(['?', '#']) {
            return Err(format!(
                "a {}:// URL takes no query or fragment: settings come from {}",
                service.scheme(),
                service.settings()
            ));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.contains('@') {
            return Err(format!(
                "credentials go in {}, not in the URL",
                match service {
                    Service::S3 => "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                    Service::Gcs => "GOOGLE_APPLICATION_CREDENTIALS",
                    // az://CONTAINER@ACCOUNT… is fsspec's form; here the account is a variable
                    Service::Azure => "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY",
                }
            ));
        }
        service.check_container(bucket)?;
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            if prefix
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
            {
                return Err(format!(
                    "prefix {prefix:?} has an empty, `.` or `..` segment"
                ));
            }
            Key::parse(prefix).map_err(|e| format!("prefix {prefix:?}: {e}"))?;
        }
        Ok(ObjectUrl {
            service,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The key of `rel` (a `/`-separated path under the prefix).
    fn key(&self, rel: &str) -> Result<Key, SinkError> {
        let full = if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        };
        Key::parse(&full).map_err(|e| SinkError::Invalid(format!("{self}: {e}")))
    }

    /// The part of `key` under the prefix.
    fn relative<'k>(&self, key: &'k str) -> Option<&'k str> {
        if self.prefix.is_empty() {
            Some(key)
        } else {
            key.strip_prefix(self.prefix.as_str())?.strip_prefix('/')
        }
    }
}

impl std::fmt::Display for ObjectUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.service.scheme(), self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

fn remote(url: &ObjectUrl, e: impl std::fmt::Display) -> SinkError {
    SinkError::Invalid(format!("{url}: {e}"))
}

/// The client and the runtime that drives it (the rest of the run is threads, not tasks).
struct Client {
    store: Arc<dyn ObjectStore>,
    one_put_max: usize,
    runtime: tokio::runtime::Runtime,
}

/// A non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The client of `url`'s service, from its environment variables (the module docs list them).
fn store(url: &ObjectUrl) -> Result<Arc<dyn ObjectStore>, String> {
    match url.service {
        #[cfg(feature = "s3")]
        Service::S3 => {
            // from_env reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
            // AWS_DEFAULT_REGION, AWS_ENDPOINT, AWS_ALLOW_HTTP…; the names most tools use for
            // the region and the endpoint are read here as well
            let mut builder =
                object_store::aws::AmazonS3Builder::from_env().with_bucket_name(&url.bucket);
            if let Some(region) = var("AWS_REGION") {
                builder = builder.with_region(region);
            }
            if let Some(endpoint) = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")) {
                builder = builder.with_endpoint(endpoint);
            }
            if let Some(allow) = var("AWS_ALLOW_HTTP") {
                builder = builder.with_allow_http(matches!(
                    allow.to_ascii_lowercase().as_str(),
                    "1" | "true" | "yes" | "on"
                ));
            }
            Ok(Arc::new(builder.build().map_err(|e| e.to_string())?))
        }
        #[cfg(feature = "gcs")]
        Service::Gcs => {
            // from_env reads GOOGLE_SERVICE_ACCOUNT, GOOGLE_SERVICE_ACCOUNT_KEY,
            // GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_BASE_URL…
            let mut builder = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(&url.bucket);
            // what Google's client libraries (and gsutil, fake-gcs-server's docs…) use for an
            // emulator: a host[:port] or URL that wants no credentials
            if let Some(host) = var("STORAGE_EMULATOR_HOST") {
                let base = if host.contains("://") {
                    host
                } else {
                    format!("http://{host}")
                };
                // an empty bearer token rather than skip_signature alone: object_store 0.13
                // still asks the metadata server for a token before an upload when skipping
                // signatures (the `disable_oauth` of a key file does the same as this)
                let none = object_store::gcp::GcpCredential {
                    bearer: String::new(),
                };
                builder = builder
                    .with_base_url(base.trim_end_matches('/'))
                    .with_credentials(Arc::new(object_store::StaticCredentialProvider::new(none)))
                    .with_skip_signature(true);
            }
            Ok(Arc::new(builder.build().map_err(|e| e.to_string())?))
        }
        #[cfg(feature = "azure")]
        Service::Azure => {
            // from_env reads AZURE_STORAGE_ACCOUNT_NAME, AZURE_STORAGE_ACCOUNT_KEY,
            // AZURE_STORAGE_SAS_KEY, AZURE_STORAGE_TOKEN, AZURE_CLIENT_ID…,
            // AZURE_STORAGE_ENDPOINT, AZURE_STORAGE_USE_EMULATOR (Azurite, whose address is
            // AZURITE_BLOB_STORAGE_URL)
            let builder = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_container_name(&url.bucket);
            Ok(Arc::new(builder.build().map_err(|e| e.to_string())?))
        }
        // Destination::parse refuses a scheme whose feature is off before it gets here
        #[allow(unreachable_patterns)]
        other => Err(format!("this build has no {}:// client", other.scheme())),
    }
}

impl Client {
    fn new(url: &ObjectUrl) -> Result<Client, SinkError> {
        let store = store(url).map_err(|e| {
            remote(
                url,
                format!(
                    "{e} (credentials and endpoint come from {})",
                    url.service.settings()
                ),
            )
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(SinkError::UnnamedIo)?;
        Ok(Client {
            store,
            one_put_max: url.service.one_put_max(),
            runtime,
        })
    }

    /// Uploads `bytes` to `key`: visible complete, or not at all.
    fn put(&self, key: &Key, bytes: Bytes, stop: &AtomicBool) -> Result<(), UploadError> {
        self.runtime.block_on(async {
            if bytes.len() <= self.one_put_max {
                self.store.put(key, PutPayload::from(bytes)).await?;
                return Ok(());
            }
            let mut upload = self.store.put_multipart(key).await?;
            for start in (0..bytes.len()).step_by(PART_BYTES) {
                let part = bytes.slice(start..(start + PART_BYTES).min(bytes.len()));
                let sent = if stop.load(Ordering::Relaxed) {
                    Err(UploadError::Interrupted)
                } else {
                    upload
                        .put_part(PutPayload::from(part))
                        .await
                        .map_err(UploadError::from)
                };
                if let Err(e) = sent {
                    let _ = upload.abort().await;
                    return Err(e);
                }
            }
            match upload.complete().await {
                Ok(_) => Ok(()),
                Err(e) => {
                    let _ = upload.abort().await;
                    Err(e.into())
                }
            }
        })
    }

    /// The object at `key`, `None` when there is none.
    fn get(&self, key: &Key) -> Result<Option<Bytes>, object_store::Error> {
        self.runtime.block_on(async {
            match self.store.get(key).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }
}

enum UploadError {
    Store(object_store::Error),
    Interrupted,
}

impl From<object_store::Error> for UploadError {
    fn from(e: object_store::Error) -> UploadError {
        UploadError::Store(e)
    }
}

/// A folder under the system's temporary folder, removed when dropped.
#[derive(Debug)]
struct Staging(PathBuf);

impl Staging {
    fn new(what: &str) -> Result<Staging, SinkError> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "faux-{what}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        // a folder of the same name is a leftover of a killed process of the same id
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| SinkError::io(&dir, e))?;
        Ok(Staging(dir))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// [`FileRun::run_until`] into object storage: `run.out` is ignored (a staging folder takes
/// its place); partitions and manifest are uploaded as the module docs say.
pub fn run_until(
    run: &FileRun<'_>,
    url: &ObjectUrl,
    on_partition: &(dyn Fn(&PartitionStats) + Sync),
    stop: &AtomicBool,
) -> Result<Vec<PartitionStats>, SinkError> {
    let client = Client::new(url)?;
    let staging = Staging::new("upload")?;
    let staged = FileRun {
        out: staging.0.clone(),
        ..run.clone()
    };
    let publish = |p: &PartitionStats| -> Result<(), SinkError> {
        let file = staging.0.join(&p.path);
        let bytes = std::fs::read(&file).map_err(|e| SinkError::io(&file, e))?;
        let key = url.key(&p.path)?;
        let sent = client.put(&key, Bytes::from(bytes), stop);
        let _ = std::fs::remove_file(&file);
        match sent {
            Ok(()) => Ok(()),
            Err(UploadError::Interrupted) => Err(SinkError::Interrupted),
            Err(UploadError::Store(e)) => Err(remote(url, format!("uploading {}: {e}", p.path))),
        }
    };
    let manifest = |stats: &[PartitionStats]| -> Result<(), SinkError> {
        if stats.is_empty() {
            return Ok(());
        }
        let key = url.key(MANIFEST_FILE)?;
        // an unreadable or foreign manifest is replaced, as in a folder
        let old = client
            .get(&key)
            .map_err(|e| remote(url, format!("reading {MANIFEST_FILE}: {e}")))?
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok());
        let json = Manifest::for_run(run, stats).merged_with(old).to_json()?;
        client
            .put(&key, Bytes::from(json), &AtomicBool::new(false))
            .map_err(|e| match e {
                UploadError::Store(e) => remote(url, format!("writing {MANIFEST_FILE}: {e}")),
                UploadError::Interrupted => SinkError::Interrupted,
            })
    };
    staged.run_with(on_partition, stop, &publish, &manifest)
}

/// Objects under a prefix, read back as a folder of files (for `verify`).
#[derive(Debug)]
pub struct ObjectSource {
    url: ObjectUrl,
    files: FileSource,
    _staging: Staging,
}

impl ObjectSource {
    /// Downloads every data object under the prefix (CSV, JSON Lines, Parquet; not the
    /// manifest, nor names starting with `.` or `_`).
    pub fn open(url: &ObjectUrl) -> Result<ObjectSource, VerifyError> {
        let read = |e: &dyn std::fmt::Display| VerifyError::Read(format!("{url}: {e}"));
        let client = Client::new(url).map_err(|e| read(&e))?;
        let staging = Staging::new("download").map_err(|e| read(&e))?;
        let prefix = if url.prefix.is_empty() {
            None
        } else {
            Some(Key::parse(&url.prefix).map_err(|e| read(&e))?)
        };
        let keys: Vec<Key> = client.runtime.block_on(async {
            let mut listing = client.store.list(prefix.as_ref());
            let mut keys = Vec::new();
            while let Some(meta) = listing.next().await {
                keys.push(meta.map_err(|e| read(&e))?.location);
            }
            Ok::<_, VerifyError>(keys)
        })?;
        let mut found = 0;
        for key in keys {
            let Some(rel) = url.relative(key.as_ref()) else {
                continue;
            };
            let hidden = rel
                .split('/')
                .any(|s| s.starts_with('.') || s.starts_with('_'));
            let data = [".csv", ".jsonl", ".parquet"]
                .iter()
                .any(|ext| rel.ends_with(ext));
            if hidden || !data {
                continue;
            }
            let bytes = client
                .get(&key)
                .map_err(|e| read(&e))?
                .ok_or_else(|| read(&format!("{key} vanished while being read")))?;
            let path = staging.0.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| read(&e))?;
            }
            std::fs::write(&path, &bytes).map_err(|e| read(&e))?;
            found += 1;
        }
        if found == 0 {
            return Err(read(
                &"no CSV, JSON Lines or Parquet objects under this prefix",
            ));
        }
        Ok(ObjectSource {
            url: url.clone(),
            files: FileSource::new(&staging.0)?,
            _staging: staging,
        })
    }
}

impl Source for ObjectSource {
    fn describe(&self) -> String {
        self.url.to_string()
    }

    fn mode(&self, table: &TableDef) -> Mode {
        self.files.mode(table)
    }

    fn read(
        &mut self,
        table: &'static TableDef,
        days: Option<(Date, Date)>,
        row: &mut dyn FnMut(Result<Vec<Val>, String>),
    ) -> Result<(), VerifyError> {
        self.files.read(table, days, row).map_err(|e| match e {
            VerifyError::TableMissing { table, .. } => VerifyError::TableMissing {
                table,
                place: self.describe(),
            },
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = ObjectUrl::parse("s3://my-bucket/landing/shop/").unwrap();
        assert_eq!(
            (u.bucket.as_str(), u.prefix.as_str()),
            ("my-bucket", "landing/shop")
        );
        assert_eq!(u.to_string(), "s3://my-bucket/landing/shop");
        assert_eq!(
            u.key("orders/date=2024-01-01/part-0.csv").unwrap().as_ref(),
            "landing/shop/orders/date=2024-01-01/part-0.csv"
        );
        assert_eq!(
            u.relative("landing/shop/orders/x.csv"),
            Some("orders/x.csv")
        );
        assert_eq!(u.relative("landing/shopping/x.csv"), None);
        let root = ObjectUrl::parse("s3://bucket").unwrap();
        assert_eq!(root.prefix, "");
        assert_eq!(
            root.key("_manifest.json").unwrap().as_ref(),
            "_manifest.json"
        );
        for (bad, says) in [
            ("s3://", "is not a bucket name"),
            ("s3://Bucket/x", "is not a bucket name"),
            ("s3://ab", "is not a bucket name"),
            ("s3://me:secret@bucket/x", "AWS_ACCESS_KEY_ID"),
            ("s3://bucket/a//b", "empty, `.` or `..` segment"),
            ("s3://bucket/a/../b", "empty, `.` or `..` segment"),
            ("s3://bucket/x?region=eu", "no query"),
            ("gs://under_score_ok-but-Upper/x", "is not a bucket name"),
            (
                "gs://bucket/x?userProject=p",
                "GOOGLE_APPLICATION_CREDENTIALS",
            ),
            ("az://two--hyphens/x", "is not a container name"),
            ("az://no_underscore/x", "expected az://CONTAINER[/PREFIX]"),
            (
                "az://data@account.dfs.core.windows.net/x",
                "AZURE_STORAGE_ACCOUNT_NAME",
            ),
            ("abfs://data/x", "expected s3://BUCKET[/PREFIX], gs://"),
        ] {
            let e = ObjectUrl::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn google_and_azure_urls() {
        let g = ObjectUrl::parse("gs://my_bucket.example/landing/").unwrap();
        assert_eq!(
            (g.service, g.bucket.as_str(), g.prefix.as_str()),
            (Service::Gcs, "my_bucket.example", "landing")
        );
        assert_eq!(g.to_string(), "gs://my_bucket.example/landing");
        let a = ObjectUrl::parse("az://shop-data").unwrap();
        assert_eq!(
            (a.service, a.bucket.as_str(), a.prefix.as_str()),
            (Service::Azure, "shop-data", "")
        );
        assert_eq!(a.to_string(), "az://shop-data");
        assert_eq!(
            a.key("orders/date=2024-01-01/part-0.csv").unwrap().as_ref(),
            "orders/date=2024-01-01/part-0.csv"
        );
        // one request per partition on GCS, parts above PART_BYTES elsewhere
        assert_eq!(Service::Gcs.one_put_max(), usize::MAX);
        assert_eq!(Service::S3.one_put_max(), PART_BYTES);
        assert_eq!(Service::Azure.one_put_max(), PART_BYTES);
    }
}
