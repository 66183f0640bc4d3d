//! Persisted operations: a manifest of known documents by id (the app's operations, fixed at
//! build time), the safelist that refuses anything else, and automatic persisted queries
//! (Apollo's protocol: a SHA-256 hash first, the document only when the server asks for it).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::PersistedConfig;
use crate::error::{Code, GraphqlError};
use crate::request::Request;

/// Why a request's document could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersistedError {
    /// The id or hash is unknown (or, in safelist mode, the document is not allowed).
    #[error("PersistedQueryNotFound")]
    NotFound,
    /// APQ is switched off and the id is not in the manifest.
    #[error("PersistedQueryNotSupported")]
    NotSupported,
    /// The hash sent does not match the document sent.
    #[error("provided sha does not match query")]
    HashMismatch,
    /// The `persistedQuery` extension is not `{version: 1, sha256Hash: "<hex>"}`.
    #[error("the persistedQuery extension must be {{\"version\": 1, \"sha256Hash\": \"<hex>\"}}")]
    Malformed,
}

impl PersistedError {
    /// The stable `extensions.code`.
    pub fn code(&self) -> Code {
        match self {
            PersistedError::NotFound => Code::PersistedQueryNotFound,
            PersistedError::NotSupported => Code::PersistedQueryNotSupported,
            PersistedError::HashMismatch => Code::PersistedQueryHashMismatch,
            PersistedError::Malformed => Code::BadRequest,
        }
    }
}

impl From<PersistedError> for GraphqlError {
    fn from(err: PersistedError) -> GraphqlError {
        GraphqlError::new(err.code(), err.to_string())
    }
}

/// Why a manifest file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("reading the manifest {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The file is not a manifest.
    #[error("parsing the manifest {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Where the JSON went wrong.
        source: serde_json::Error,
    },
}

/// One operation of a manifest.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct ManifestOperation {
    /// The id clients send: the SHA-256 of `body`, in hex.
    pub id: String,
    /// The operation's name.
    pub name: String,
    /// `query`, `mutation` or `subscription`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The document.
    pub body: String,
}

/// A persisted-operation manifest in Apollo's format.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Manifest {
    /// Always `apollo-persisted-query-manifest`.
    pub format: String,
    /// Always 1.
    pub version: u32,
    /// The operations, sorted by name.
    pub operations: Vec<ManifestOperation>,
}

impl Manifest {
    /// Builds a manifest from `(file name, document)` pairs, one operation per document.
    pub fn from_documents<'a>(documents: impl IntoIterator<Item = (&'a str, &'a str)>) -> Manifest {
        let mut operations: Vec<ManifestOperation> = documents
            .into_iter()
            .map(|(name, body)| {
                let body = body.trim().to_owned();
                let kind = operation_kind(&body);
                ManifestOperation {
                    id: sha256_hex(&body),
                    name: name.to_owned(),
                    kind: kind.to_owned(),
                    body,
                }
            })
            .collect();
        operations.sort_by(|a, b| a.name.cmp(&b.name));
        Manifest {
            format: "apollo-persisted-query-manifest".to_owned(),
            version: 1,
            operations,
        }
    }

    /// Reads a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ManifestError::Parse {
            path: path.display().to_string(),
            source,
        })
    }
}

/// The kind of the first operation in `document`, read from the parsed document. A document
/// that does not parse counts as a query: the engine refuses it when it is sent, and the
/// schema tool validates every manifest operation against the API schema.
fn operation_kind(document: &str) -> &'static str {
    use graphql_tools::parser::query::{Definition, OperationDefinition};
    let Ok(parsed) = graphql_tools::parser::parse_query::<String>(document) else {
        return "query";
    };
    for definition in &parsed.definitions {
        match definition {
            Definition::Operation(OperationDefinition::Mutation(_)) => return "mutation",
            Definition::Operation(OperationDefinition::Subscription(_)) => return "subscription",
            Definition::Operation(_) => return "query",
            Definition::Fragment(_) => {}
        }
    }
    "query"
}

/// The persisted-operation store of one engine.
pub struct Persisted {
    by_id: HashMap<String, Arc<str>>,
    safelist: bool,
    apq: Option<moka::sync::Cache<String, Arc<str>>>,
}

impl Persisted {
    /// A store over `manifest` with the given policy.
    pub fn new(config: &PersistedConfig, manifest: Option<Manifest>) -> Persisted {
        let by_id = manifest
            .map(|m| {
                m.operations
                    .into_iter()
                    .map(|op| (op.id, Arc::from(op.body.as_str())))
                    .collect()
            })
            .unwrap_or_default();
        let apq = (config.apq && !config.safelist).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(config.apq_cache_bytes)
                .weigher(|_, document: &Arc<str>| u32::try_from(document.len()).unwrap_or(u32::MAX))
                .build()
        });
        Persisted {
            by_id,
            safelist: config.safelist,
            apq,
        }
    }

    /// The document a request runs: sent in full, or found by persisted id or APQ hash; the
    /// safelist is enforced here. A document sent with its APQ hash comes back with a
    /// [`Registration`], to [`register`](Self::register) once it has been prepared, so only
    /// valid documents take room in the cache. `None` when the request names no document.
    pub fn resolve(&self, request: &Request) -> Result<Resolved, PersistedError> {
        if let Some(id) = request.document_id.as_deref() {
            let body = self.by_id.get(id).ok_or(PersistedError::NotFound)?;
            return Ok(Resolved::found(body));
        }
        let hash = match request.extensions.get("persistedQuery") {
            None => None,
            Some(Value::Object(pq)) => {
                let version = pq.get("version").and_then(Value::as_i64);
                let hash = pq.get("sha256Hash").and_then(Value::as_str);
                match (version, hash) {
                    (Some(1), Some(hash)) if is_sha256_hex(hash) => Some(hash.to_ascii_lowercase()),
                    _ => return Err(PersistedError::Malformed),
                }
            }
            Some(_) => return Err(PersistedError::Malformed),
        };
        let query = request.query.as_deref().filter(|q| !q.trim().is_empty());
        match (query, hash) {
            (Some(query), Some(hash)) => {
                if sha256_hex(query) != hash {
                    return Err(PersistedError::HashMismatch);
                }
                if self.safelist && !self.by_id.contains_key(&hash) {
                    return Err(PersistedError::NotFound);
                }
                let document: Arc<str> = Arc::from(query);
                let registration = self.apq.is_some().then(|| Registration {
                    hash,
                    document: document.clone(),
                });
                Ok(Resolved {
                    document: Some(document),
                    registration,
                })
            }
            (None, Some(hash)) => {
                if let Some(body) = self.by_id.get(&hash) {
                    return Ok(Resolved::found(body));
                }
                match &self.apq {
                    Some(apq) => {
                        let body = apq.get(&hash).ok_or(PersistedError::NotFound)?;
                        Ok(Resolved::found(&body))
                    }
                    None if self.safelist => Err(PersistedError::NotFound),
                    None => Err(PersistedError::NotSupported),
                }
            }
            (Some(query), None) => {
                if self.safelist && !self.by_id.contains_key(&sha256_hex(query)) {
                    return Err(PersistedError::NotFound);
                }
                Ok(Resolved::found(&Arc::from(query)))
            }
            (None, None) => Ok(Resolved {
                document: None,
                registration: None,
            }),
        }
    }

    /// Remembers an APQ document that prepared without error.
    pub fn register(&self, registration: Registration) {
        if let Some(apq) = &self.apq {
            apq.insert(registration.hash, registration.document);
        }
    }
}

/// The document a request runs, and an APQ registration to make once it has prepared.
pub struct Resolved {
    /// The document text; `None` when the request names none.
    pub document: Option<Arc<str>>,
    /// An APQ document to remember once it has proved valid.
    pub registration: Option<Registration>,
}

impl Resolved {
    fn found(document: &Arc<str>) -> Resolved {
        Resolved {
            document: Some(document.clone()),
            registration: None,
        }
    }
}

/// An APQ document to remember once it has proved valid.
pub struct Registration {
    hash: String,
    document: Arc<str>,
}

/// The lower-case hex SHA-256 of a document, as APQ and manifests use.
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}
