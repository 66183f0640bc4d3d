//! ES256 signing keys read from a folder: each `<kid>.pem` or `<kid>.der` file holds one P-256
//! private key (PKCS#8, or SEC1 PEM as `openssl ecparam -genkey` writes it). Every key verifies
//! and is published; the key whose kid sorts last signs. The folder is read again every
//! period, which picks up a key added for a rotation and drops one removed after it, without
//! a restart.
//!
//! A key that appears while running is published for one period before it signs, so every
//! verifier that renews its copy of the keys at least once a period (the engines' JWKS, the
//! other processes reading the same folder) knows it before the first token it signed
//! arrives. Keys found at start sign at once.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::SecretKey;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use serde::Serialize;

/// The fewest time between two reads of the folder prompted by tokens naming an unknown key,
/// so random key ids cannot make every request read the disk.
pub const MIN_RELOAD: Duration = Duration::from_secs(1);

/// Why the key folder or one of its files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The folder cannot be listed.
    #[error("the signing key folder {dir} cannot be read: {source}")]
    Folder {
        /// The folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A key file cannot be read or written.
    #[error("the signing key file {path} cannot be read or written: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A key file holds no P-256 private key.
    #[error(
        "{path} is not a P-256 private key in PKCS#8 (PEM or DER) or SEC1 PEM: {reason}; make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out <kid>.pem`"
    )]
    Key {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A file name is not a usable key id.
    #[error(
        "{path}: a key file is named `<kid>.pem` or `<kid>.der`, the kid being 1 to 64 letters, digits, `.`, `_` or `-` (not first a dot)"
    )]
    KeyId {
        /// The file.
        path: PathBuf,
    },
    /// The folder holds no key.
    #[error("the signing key folder {dir} holds no `<kid>.pem` or `<kid>.der` key")]
    Empty {
        /// The folder.
        dir: PathBuf,
    },
}

/// One key pair: what signs (the private key as PKCS#8 DER, as jsonwebtoken wants it) and what
/// verifies (the public point).
pub(crate) struct Key {
    /// Signs tokens.
    pub(crate) encoding: EncodingKey,
    /// Verifies tokens.
    pub(crate) decoding: DecodingKey,
    /// The public key as a JWK.
    public: Jwk,
}

/// A published public key, as RFC 7517 and RFC 7518 spell an ES256 one.
#[derive(Debug, Clone, Serialize)]
struct Jwk {
    kty: &'static str,
    crv: &'static str,
    x: String,
    y: String,
    kid: String,
    alg: &'static str,
    #[serde(rename = "use")]
    usage: &'static str,
}

/// One key of the set.
struct Entry {
    kid: String,
    key: Key,
    /// When this process first saw it while running; `None` for the keys found at start.
    since: Option<Instant>,
}

/// The keys of one reading of the folder, sorted by kid; never empty.
pub(crate) struct KeySet {
    entries: Vec<Entry>,
    /// How long a key seen while running is published before it signs.
    lead: Duration,
}

impl KeySet {
    /// The key that signs and its kid: the last kid among the keys published for the lead
    /// time (or, should none be, the last kid).
    pub(crate) fn signer(&self) -> Option<(&str, &Key)> {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.since.is_none_or(|at| at.elapsed() >= self.lead))
            .or(self.entries.last())
            .map(|entry| (entry.kid.as_str(), &entry.key))
    }

    /// The key named `kid`.
    pub(crate) fn get(&self, kid: &str) -> Option<&Key> {
        self.entries
            .binary_search_by(|entry| entry.kid.as_str().cmp(kid))
            .ok()
            .map(|i| &self.entries[i].key)
    }

    /// Every kid, in order.
    pub(crate) fn kids(&self) -> Vec<&str> {
        self.entries
            .iter()
            .map(|entry| entry.kid.as_str())
            .collect()
    }

    /// The public keys as a JWKS document.
    pub(crate) fn jwks(&self) -> serde_json::Value {
        let keys: Vec<&Jwk> = self.entries.iter().map(|entry| &entry.key.public).collect();
        serde_json::json!({ "keys": keys })
    }
}

/// The keys of a folder, read at start and again on [`KeyRing::reload`].
pub(crate) struct KeyRing {
    dir: PathBuf,
    /// How often the folder is read again, and how long a new key is published before it signs.
    period: Duration,
    /// The current set; a std lock, not a tokio one: it is held only to clone or swap the `Arc`.
    set: RwLock<Arc<KeySet>>,
    /// When the folder was last read; held while it is read, so reads never overlap.
    read_at: Mutex<Instant>,
}

impl KeyRing {
    /// Reads every key in `dir`, to be read again every `period`; any unreadable key file is
    /// an error, so a start fails on it.
    pub(crate) fn open(dir: &Path, period: Duration) -> Result<KeyRing, KeyError> {
        let entries = read(dir, true)?
            .into_iter()
            .map(|(kid, key)| Entry {
                kid,
                key,
                since: None,
            })
            .collect();
        let set = KeySet {
            entries,
            lead: period,
        };
        tracing::info!(dir = %dir.display(), kids = ?set.kids(), signer = ?set.signer().map(|(kid, _)| kid), "token signing keys loaded");
        Ok(KeyRing {
            dir: dir.to_owned(),
            period,
            set: RwLock::new(Arc::new(set)),
            read_at: Mutex::new(Instant::now()),
        })
    }

    /// How often the folder is to be read again.
    pub(crate) fn period(&self) -> Duration {
        self.period
    }

    /// The current keys.
    pub(crate) fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.set.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Reads the folder again. Files that cannot be read are skipped with a warning (a key being
    /// written is picked up next time); a folder with no usable key keeps the current set.
    /// Returns whether the set of kids changed.
    pub(crate) fn reload(&self) -> Result<bool, KeyError> {
        let mut read_at = self.lock_read_at();
        self.reload_locked(&mut read_at)
    }

    /// Reads the folder again unless it was read less than [`MIN_RELOAD`] ago (a token named a
    /// key not in the set); returns whether it was read.
    pub(crate) fn reload_if_due(&self) -> bool {
        let mut read_at = self.lock_read_at();
        if read_at.elapsed() < MIN_RELOAD {
            return false;
        }
        if let Err(err) = self.reload_locked(&mut read_at) {
            tracing::warn!(error = %err, "token signing keys could not be read again; the current ones stay");
        }
        true
    }

    fn reload_locked(&self, read_at: &mut Instant) -> Result<bool, KeyError> {
        *read_at = Instant::now();
        let read = read(&self.dir, false)?;
        let before = self.current();
        let entries: Vec<Entry> = read
            .into_iter()
            .map(|(kid, key)| {
                let since = match before.entries.iter().find(|entry| entry.kid == kid) {
                    Some(known) => known.since,
                    None => Some(Instant::now()),
                };
                Entry { kid, key, since }
            })
            .collect();
        let set = KeySet {
            entries,
            lead: self.period,
        };
        let changed = before.kids() != set.kids();
        if changed {
            tracing::info!(
                dir = %self.dir.display(),
                kids = ?set.kids(),
                lead_s = self.period.as_secs_f64(),
                "token signing keys changed; a new key signs once it has been published for the lead time"
            );
        }
        *self.set.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
        Ok(changed)
    }

    fn lock_read_at(&self) -> MutexGuard<'_, Instant> {
        self.read_at.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads every key file of `dir`, sorted by kid; `strict` fails on the first bad file instead
/// of skipping it.
fn read(dir: &Path, strict: bool) -> Result<Vec<(String, Key)>, KeyError> {
    let folder = |source| KeyError::Folder {
        dir: dir.to_owned(),
        source,
    };
    let mut keys = Vec::new();
    for entry in fs::read_dir(dir).map_err(folder)? {
        let path = entry.map_err(folder)?.path();
        let Some(pem) = key_format(&path) else {
            continue;
        };
        match kid_of(&path).and_then(|kid| load(&path, pem, &kid).map(|key| (kid, key))) {
            Ok(key) => keys.push(key),
            Err(err) if strict => return Err(err),
            Err(err) => tracing::warn!(error = %err, "a signing key file was skipped"),
        }
    }
    if keys.is_empty() {
        return Err(KeyError::Empty {
            dir: dir.to_owned(),
        });
    }
    keys.sort_by(|(a, _), (b, _)| a.cmp(b));
    Ok(keys)
}

/// Whether `path` is a key file: `Some(true)` for PEM, `Some(false)` for DER, `None` for any
/// other file (hidden ones included: editors and atomic writes leave those).
fn key_format(path: &Path) -> Option<bool> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') || !path.is_file() {
        return None;
    }
    match path.extension()?.to_str()? {
        "pem" => Some(true),
        "der" => Some(false),
        _ => None,
    }
}

/// The key id a file name gives.
fn kid_of(path: &Path) -> Result<String, KeyError> {
    path.file_stem()
        .and_then(|stem| stem.to_str())
        .filter(|kid| is_kid(kid))
        .map(str::to_owned)
        .ok_or_else(|| KeyError::KeyId {
            path: path.to_owned(),
        })
}

/// Whether `kid` may name a key: 1 to 64 letters, digits, `.`, `_` or `-`, not starting with
/// a dot (so never a path).
fn is_kid(kid: &str) -> bool {
    (1..=64).contains(&kid.len())
        && !kid.starts_with('.')
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Reads one key file, the key `kid`.
fn load(path: &Path, pem: bool, kid: &str) -> Result<Key, KeyError> {
    let bytes = fs::read(path).map_err(|source| KeyError::File {
        path: path.to_owned(),
        source,
    })?;
    let bad = |reason: String| KeyError::Key {
        path: path.to_owned(),
        reason,
    };
    let secret = if pem {
        let text = std::str::from_utf8(&bytes).map_err(|_| bad("not text".to_owned()))?;
        if text.contains("-----BEGIN EC PRIVATE KEY-----") {
            SecretKey::from_sec1_pem(text).map_err(|err| bad(err.to_string()))?
        } else {
            SecretKey::from_pkcs8_pem(text).map_err(|err| bad(err.to_string()))?
        }
    } else {
        SecretKey::from_pkcs8_der(&bytes).map_err(|err| bad(err.to_string()))?
    };
    key_pair(&secret, kid.to_owned()).map_err(bad)
}

/// The signing and verifying halves of `secret`, and its JWK.
fn key_pair(secret: &SecretKey, kid: String) -> Result<Key, String> {
    let der = secret.to_pkcs8_der().map_err(|err| err.to_string())?;
    let point = secret.public_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err("the public key is the identity point".to_owned());
    };
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Ok(Key {
        encoding: EncodingKey::from_ec_der(der.as_bytes()),
        // jsonwebtoken's RustCrypto verifier reads this as the SEC1 public point.
        decoding: DecodingKey::from_ec_der(point.as_bytes()),
        public: Jwk {
            kty: "EC",
            crv: "P-256",
            x: b64(x),
            y: b64(y),
            kid,
            alg: "ES256",
            usage: "sig",
        },
    })
}

/// Writes a new random P-256 key to `<dir>/<kid>.pem` (PKCS#8 PEM, readable by its owner
/// only), as `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` would; an
/// existing file is never overwritten.
pub fn generate(dir: &Path, kid: &str) -> Result<PathBuf, KeyError> {
    let path = dir.join(format!("{kid}.pem"));
    if !is_kid(kid) {
        return Err(KeyError::KeyId { path });
    }
    let secret = SecretKey::random(&mut rand_core::OsRng);
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|err| KeyError::Key {
            path: path.clone(),
            reason: err.to_string(),
        })?;
    let file = |source| KeyError::File {
        path: path.clone(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(&path).map_err(file)?;
    out.write_all(pem.as_bytes()).map_err(file)?;
    out.sync_all().map_err(file)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_kid_signs_and_every_key_is_published_without_its_private_part() {
        let dir = std::env::temp_dir().join(format!("tributary-keys-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("a folder");
        generate(&dir, "2026-01").expect("a key");
        generate(&dir, "2026-07").expect("a key");
        fs::write(dir.join("notes.txt"), "not a key").expect("a note");
        let ring = KeyRing::open(&dir, Duration::from_millis(300)).expect("keys");
        let set = ring.current();
        assert_eq!(set.kids(), ["2026-01", "2026-07"]);
        assert_eq!(set.signer().map(|(kid, _)| kid), Some("2026-07"));
        let jwks = set.jwks();
        let keys = jwks["keys"].as_array().expect("a list");
        assert_eq!(keys.len(), 2);
        for key in keys {
            let mut fields: Vec<&str> = key
                .as_object()
                .expect("an object")
                .keys()
                .map(String::as_str)
                .collect();
            fields.sort_unstable();
            assert_eq!(fields, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
            assert_eq!(key["x"].as_str().map(str::len), Some(43));
        }
        assert!(generate(&dir, "2026-07").is_err(), "never overwrites");
        for bad in ["../escape", "a/b", "", ".hidden"] {
            assert!(
                matches!(generate(&dir, bad), Err(KeyError::KeyId { .. })),
                "{bad}"
            );
        }
        fs::write(dir.join("broken.pem"), "-----BEGIN PRIVATE KEY-----\n").expect("a file");
        assert!(matches!(
            KeyRing::open(&dir, Duration::from_secs(1)),
            Err(KeyError::Key { .. })
        ));
        assert_eq!(
            ring.reload().ok(),
            Some(false),
            "a bad file is skipped on reload"
        );

        // A key added while running is published at once and signs after the lead time.
        generate(&dir, "2027-01").expect("a key");
        assert_eq!(ring.reload().ok(), Some(true));
        let set = ring.current();
        assert_eq!(set.kids(), ["2026-01", "2026-07", "2027-01"]);
        assert_eq!(set.signer().map(|(kid, _)| kid), Some("2026-07"));
        std::thread::sleep(Duration::from_millis(350));
        assert_eq!(set.signer().map(|(kid, _)| kid), Some("2027-01"));
        fs::remove_dir_all(&dir).expect("clean up");
    }
}
