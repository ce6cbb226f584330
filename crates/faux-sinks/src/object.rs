//! Object storage (feature `s3`): `generate --out s3://BUCKET/PREFIX` and
//! `verify --against s3://…`, through the `object_store` crate.
//!
//! Writing: every partition is encoded into a local staging folder exactly as into a folder
//! of files (the same bytes, the same checksums, the same Hive layout under the prefix), then
//! uploaded to its final key: in one PUT up to [`PART_BYTES`], else as a multipart upload.
//! S3 shows an object only once its PUT or its multipart upload has completed, so a reader
//! sees a partition complete or not at all, never torn: a failed or interrupted upload is
//! aborted, and the parts of a killed process stay invisible (a bucket lifecycle rule for
//! incomplete multipart uploads deletes them). The manifest goes last, merged with the one
//! already under the prefix, so it only ever names partitions that are there.
//!
//! Credentials and endpoint come from the usual environment variables: AWS_ACCESS_KEY_ID,
//! AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (or AWS_DEFAULT_REGION),
//! AWS_ENDPOINT_URL for an S3-compatible server (MinIO, Ceph, R2, moto), and
//! AWS_ALLOW_HTTP=true to let it be plain http.
//!
//! Reading (`verify`): the data objects under the prefix are downloaded into a staging folder
//! and read as a folder of files ([`crate::verify::files::FileSource`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use faux::{Date, TableDef};
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::SinkError;
use crate::files::{FileRun, PartitionStats};
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::verify::files::FileSource;
use crate::verify::{Mode, Source, Val, VerifyError};

/// A partition up to this size goes in one PUT; a larger one in parts of this size (S3 wants
/// at least 5 MiB for every part but the last).
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// `s3://BUCKET[/PREFIX]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectUrl {
    pub bucket: String,
    /// Without a leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl ObjectUrl {
    /// The reason is a sentence fragment for
    /// [`crate::destination::DestinationError::ObjectStore`].
    pub fn parse(url: &str) -> Result<ObjectUrl, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or("expected s3://BUCKET[/PREFIX]")?;
        if rest.contains(['?', '#']) {
            return Err("an s3:// URL takes no query or fragment: settings come from the AWS_* environment variables".into());
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.contains('@') {
            return Err(
                "credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not in the URL"
                    .into(),
            );
        }
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err(format!(
                "bucket {bucket:?} is not a bucket name (3 to 63 lower-case letters, digits, `.` and `-`, \
                 starting and ending with a letter or digit); expected s3://BUCKET[/PREFIX]"
            ));
        }
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
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

fn remote(url: &ObjectUrl, e: impl std::fmt::Display) -> SinkError {
    SinkError::Invalid(format!("{url}: {e}"))
}

/// The client and the runtime that drives it (the rest of the run is threads, not tasks).
struct Client {
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    fn new(url: &ObjectUrl) -> Result<Client, SinkError> {
        // from_env reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
        // AWS_DEFAULT_REGION, AWS_ENDPOINT, AWS_ALLOW_HTTP…; the names most tools use for the
        // region and the endpoint are read here as well
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&url.bucket);
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
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
        let store = builder.build().map_err(|e| remote(url, e))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(SinkError::UnnamedIo)?;
        Ok(Client {
            store: Arc::new(store),
            runtime,
        })
    }

    /// Uploads `bytes` to `key`: visible complete, or not at all.
    fn put(&self, key: &Key, bytes: Bytes, stop: &AtomicBool) -> Result<(), UploadError> {
        self.runtime.block_on(async {
            if bytes.len() <= PART_BYTES {
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
        ] {
            let e = ObjectUrl::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
