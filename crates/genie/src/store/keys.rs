//! API keys: created with a random secret, stored as its SHA-256 only, listed, revoked and
//! looked up by secret.

use faux::Timestamp;
use rusqlite::types::Value;
use sha2::{Digest, Sha256};

use super::backend::{Arg, int, text};
use super::{Store, StoreError};

/// An API key as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// Length of the visible part of a key, stored and listed in clear.
const PREFIX_LEN: usize = 12;

pub fn hash_key(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// The resources a key can be scoped to: the bound scenario's, or the one the store
    /// records (`None`: not known yet — a store never served, or one of a scenario file).
    fn scopable(&self) -> Result<Option<Vec<String>>, StoreError> {
        if !self.resources().is_empty() {
            return Ok(Some(
                self.resources()
                    .iter()
                    .map(|r| r.name().to_string())
                    .collect(),
            ));
        }
        let stored = self.tx(false, |c| {
            c.select("SELECT scenario FROM meta WHERE id = 1", &[])
        })?;
        Ok(stored
            .first()
            .and_then(|r| faux::Scenario::by_name(&text(&r[0]), 0).ok())
            .map(|s| s.tables().iter().map(|t| t.name.to_string()).collect()))
    }

    /// Refuses a scope no request would ever match (`write:everything`, `read:order`): a
    /// key made with it would answer 403 everywhere, or look broader than it is.
    fn check_scopes(&self, scopes: &[String]) -> Result<(), StoreError> {
        let resources = self.scopable()?;
        for scope in scopes {
            let ok = match scope.strip_prefix("read:") {
                Some("all" | "changes") => true,
                Some(r) => match &resources {
                    Some(known) => known.iter().any(|k| k == r),
                    None => {
                        !r.is_empty()
                            && r.bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    }
                },
                None => false,
            };
            if !ok {
                let valid = match &resources {
                    Some(known) => format!(
                        "read:all, read:changes or read:<resource> with a resource of {}",
                        known.join(", ")
                    ),
                    None => "read:all, read:changes or read:<resource>".to_string(),
                };
                return Err(StoreError::UnknownScope {
                    scope: scope.clone(),
                    valid,
                });
            }
        }
        Ok(())
    }

    /// Creates a key; returns its listing and the secret (the only time it exists in clear).
    pub fn create_key(
        &self,
        name: &str,
        scopes: &[String],
    ) -> Result<(ApiKey, String), StoreError> {
        self.check_scopes(scopes)?;
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|e| StoreError::Random(e.to_string()))?;
        use base64::Engine;
        let secret = format!(
            "fg_live_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        );
        let prefix = secret[..PREFIX_LEN].to_string();
        let now = now_rfc3339();
        let scopes_text = scopes.join(" ");
        let id = self.tx(true, |c| {
            c.one_int(
                "INSERT INTO api_keys (name, prefix, hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    Arg::T(name.into()),
                    Arg::T(prefix.clone()),
                    Arg::T(hash_key(&secret)),
                    Arg::T(scopes_text),
                    Arg::T(now.clone()),
                ],
            )
        })?;
        Ok((
            ApiKey {
                id: id.unwrap_or(0),
                name: name.to_string(),
                prefix,
                scopes: scopes.to_vec(),
                created_at: now,
                revoked_at: None,
            },
            secret,
        ))
    }

    pub fn list_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.tx(false, |c| {
            Ok(c.select(
                "SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys ORDER BY id",
                &[],
            )?
            .iter()
            .map(|r| key_row(r))
            .collect())
        })
    }

    pub fn revoke_key(&self, id: i64) -> Result<(), StoreError> {
        let n = self.tx(true, |c| {
            c.exec(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1",
                &[Arg::I(id), Arg::T(now_rfc3339())],
            )
        })?;
        self.keys.forget_all();
        if n == 0 {
            return Err(StoreError::UnknownKey(id));
        }
        Ok(())
    }

    /// The key a secret belongs to (revoked keys included: the caller decides).
    pub fn find_key(&self, secret: &str) -> Result<Option<ApiKey>, StoreError> {
        let h = hash_key(secret);
        let key = self.tx(false, |c| {
            Ok(c.select(
                "SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys WHERE hash = $1",
                &[Arg::T(h.clone())],
            )?
            .first()
            .map(|r| key_row(r)))
        })?;
        if let Some(k) = &key {
            self.keys.put(h, k.clone());
        }
        Ok(key)
    }

    /// The key a secret belongs to if it was read in the last [`KEY_CACHE_TTL`] — without
    /// touching the database (a request then needs no blocking hop to authenticate).
    pub fn cached_key(&self, secret: &str) -> Option<ApiKey> {
        self.keys.get(&hash_key(secret))
    }
}

/// How long a key read from the database is trusted without reading it again. A revoke made
/// through this process takes effect at once; one made by another (`genie keys revoke` beside
/// a running server) within this time.
pub const KEY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Keys read recently, by the hash of their secret.
#[derive(Debug, Default)]
pub(super) struct KeyCache {
    known: std::sync::Mutex<std::collections::HashMap<String, (ApiKey, std::time::Instant)>>,
}

impl KeyCache {
    /// Distinct keys remembered at most; beyond, the memory starts over.
    const MAX: usize = 1024;

    fn get(&self, hash: &str) -> Option<ApiKey> {
        let known = self.known.lock().expect("keys");
        let (k, at) = known.get(hash)?;
        (at.elapsed() < KEY_CACHE_TTL).then(|| k.clone())
    }

    fn put(&self, hash: String, key: ApiKey) {
        let mut known = self.known.lock().expect("keys");
        if known.len() >= Self::MAX {
            known.clear();
        }
        known.insert(hash, (key, std::time::Instant::now()));
    }

    fn forget_all(&self) {
        self.known.lock().expect("keys").clear();
    }
}

fn key_row(r: &[Value]) -> ApiKey {
    ApiKey {
        id: int(&r[0]),
        name: text(&r[1]),
        prefix: text(&r[2]),
        scopes: text(&r[3]).split_whitespace().map(str::to_string).collect(),
        created_at: text(&r[4]),
        revoked_at: match &r[5] {
            Value::Null => None,
            v => Some(text(v)),
        },
    }
}

pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Timestamp(secs).to_string()
}

#[cfg(test)]
mod tests {
    use faux::Scenario;

    use super::*;

    #[test]
    fn keys_are_hashed_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let st = Store::open(dir.path()).unwrap();
        st.bind_scenario(
            &std::sync::Arc::new(Scenario::by_name("ecommerce", 1).unwrap()),
            "ecommerce",
        )
        .unwrap();
        let (k, secret) = st.create_key("ci", &["read:all".into()]).unwrap();
        assert!(secret.starts_with("fg_live_") && secret.len() > 40);
        assert!(secret.starts_with(&k.prefix));
        // neither the database nor its WAL holds the secret
        let needle = secret.as_bytes();
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let raw = std::fs::read(f.unwrap().path()).unwrap();
            assert!(!raw.windows(needle.len()).any(|w| w == needle));
        }
        let hash = hash_key(&secret);
        assert_eq!(st.ids("customers", true, None).unwrap().len(), 0);
        let stored = st
            .tx(false, |c| c.select("SELECT hash FROM api_keys", &[]))
            .unwrap();
        assert_eq!(stored, vec![vec![Value::Text(hash)]]);
        assert_eq!(st.find_key(&secret).unwrap().unwrap().id, k.id);
        st.revoke_key(k.id).unwrap();
        assert!(st.find_key(&secret).unwrap().unwrap().revoked_at.is_some());
        assert!(st.find_key("fg_live_nope").unwrap().is_none());
    }

    #[test]
    fn a_key_is_read_once_per_ttl_and_a_revoke_is_seen_here_at_once_elsewhere_within_it() {
        let dir = tempfile::tempdir().unwrap();
        let scenario = std::sync::Arc::new(Scenario::by_name("ecommerce", 1).unwrap());
        let server = Store::open(dir.path()).unwrap();
        server.bind_scenario(&scenario, "ecommerce").unwrap();
        let (k, secret) = server.create_key("ci", &["read:all".into()]).unwrap();
        assert_eq!(server.cached_key(&secret), None, "not read yet");
        assert_eq!(server.find_key(&secret).unwrap().unwrap().id, k.id);
        assert_eq!(server.cached_key(&secret).unwrap().id, k.id);
        assert_eq!(server.cached_key("fg_live_nope"), None);

        // another process (`genie keys revoke`) on the same store: the server trusts what it
        // read for at most the TTL, then reads the revocation
        let cli = Store::open(dir.path()).unwrap();
        cli.bind_scenario(&scenario, "ecommerce").unwrap();
        cli.revoke_key(k.id).unwrap();
        std::thread::sleep(KEY_CACHE_TTL);
        assert_eq!(server.cached_key(&secret), None, "expired after the TTL");
        assert!(
            server
                .find_key(&secret)
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );

        // a revoke through the server's own store forgets what it cached at once
        let (k2, secret2) = server.create_key("ci2", &["read:all".into()]).unwrap();
        server.find_key(&secret2).unwrap();
        assert!(server.cached_key(&secret2).is_some());
        server.revoke_key(k2.id).unwrap();
        assert_eq!(server.cached_key(&secret2), None);
    }
}
