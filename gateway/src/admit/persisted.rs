//! Persisted operations: a manifest of known documents by id (the app's operations, fixed at
//! build time), the safelist that refuses anything else, and automatic persisted queries
//! (Apollo's protocol: a SHA-256 hash first, the document only when the server asks for it).
//!
//! A manifest file is Apollo's persisted query manifest (what this engine's tools write) or the
//! object of ids to documents Relay and graphql-codegen write; ids are found with or without a
//! `sha256:` prefix, and the safelist matches a document by the SHA-256 of its text, whatever
//! ids the manifest uses.

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

/// The `format` of Apollo's persisted query manifest, which is also the one this engine writes.
const APOLLO_FORMAT: &str = "apollo-persisted-query-manifest";

/// The prefix the GraphQL-over-HTTP persisted documents appendix gives SHA-256 document ids.
const SHA256_PREFIX: &str = "sha256:";

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
    /// The file is not JSON.
    #[error("parsing the manifest {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Where the JSON went wrong.
        source: serde_json::Error,
    },
    /// The JSON is neither an Apollo manifest nor a map of ids to documents.
    #[error(
        "the manifest {path} is neither an `{APOLLO_FORMAT}` (version 1) nor an object of ids \
         to documents: {reason}"
    )]
    Shape {
        /// The file.
        path: String,
        /// What does not fit.
        reason: String,
    },
    /// One operation of the manifest is unusable.
    #[error("the manifest {path}, operation {id}: {reason}")]
    Entry {
        /// The file.
        path: String,
        /// The operation's id (its position when it has none).
        id: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// One operation of a manifest.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct ManifestOperation {
    /// The id clients send: the SHA-256 of `body` in hex when this engine's tools wrote it,
    /// whatever the client's tooling chose otherwise.
    pub id: String,
    /// The operation's name; empty for an anonymous operation.
    pub name: String,
    /// `query`, `mutation` or `subscription`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The document.
    pub body: String,
}

/// A persisted-operation manifest in Apollo's format, whichever format it was read from.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Manifest {
    /// Always `apollo-persisted-query-manifest`.
    pub format: String,
    /// Always 1.
    pub version: u32,
    /// The operations, sorted by name.
    pub operations: Vec<ManifestOperation>,
}

/// One operation as an Apollo manifest gives it; the name and type are optional here and read
/// from the document when missing.
#[derive(Deserialize)]
struct ApolloOperation {
    id: String,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    body: String,
}

impl Manifest {
    /// Builds a manifest from `(operation name, document)` pairs, one operation per document.
    pub fn from_documents<'a>(documents: impl IntoIterator<Item = (&'a str, &'a str)>) -> Manifest {
        let mut operations: Vec<ManifestOperation> = documents
            .into_iter()
            .map(|(name, body)| {
                let body = body.trim().to_owned();
                let kind = graphql_tools::parser::parse_query::<String>(&body)
                    .ok()
                    .and_then(|document| first_operation(&document).map(|(_, kind)| kind))
                    // A document that does not parse counts as a query: the engine refuses it
                    // when it is sent, and the schema tool validates every manifest operation
                    // against the API schema.
                    .unwrap_or("query");
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
            format: APOLLO_FORMAT.to_owned(),
            version: 1,
            operations,
        }
    }

    /// Reads a manifest file: Apollo's persisted query manifest (the format this engine's
    /// tools write), or the object of ids to documents Relay and graphql-codegen write, told
    /// apart by the JSON's shape. Every document must parse.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: display.clone(),
            source,
        })?;
        let json: Value = serde_json::from_str(&text).map_err(|source| ManifestError::Parse {
            path: display.clone(),
            source,
        })?;
        let Value::Object(object) = json else {
            return Err(ManifestError::Shape {
                path: display,
                reason: "the JSON is not an object".to_owned(),
            });
        };
        let mut operations = if object.contains_key("format") || object.contains_key("operations") {
            apollo_operations(object, &display)?
        } else {
            keyed_operations(object, &display)?
        };
        operations.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        let mut bodies: HashMap<&str, &ManifestOperation> = HashMap::new();
        for operation in &operations {
            if let Some(other) = bodies.insert(canonical_id(&operation.id), operation)
                && other.body != operation.body
            {
                return Err(ManifestError::Entry {
                    path: display,
                    id: operation.id.clone(),
                    reason: format!("the id of `{}` names a different document", other.id),
                });
            }
        }
        Ok(Manifest {
            format: APOLLO_FORMAT.to_owned(),
            version: 1,
            operations,
        })
    }
}

/// The operations of an Apollo persisted query manifest (`{format, version, operations}`).
fn apollo_operations(
    mut object: serde_json::Map<String, Value>,
    path: &str,
) -> Result<Vec<ManifestOperation>, ManifestError> {
    let shape = |reason: String| ManifestError::Shape {
        path: path.to_owned(),
        reason,
    };
    match object.get("format") {
        Some(Value::String(format)) if format == APOLLO_FORMAT => {}
        Some(other) => return Err(shape(format!("`format` is {other}"))),
        None => return Err(shape("`format` is missing".to_owned())),
    }
    match object.get("version") {
        Some(version) if version.as_u64() == Some(1) => {}
        Some(other) => return Err(shape(format!("`version` is {other}"))),
        None => return Err(shape("`version` is missing".to_owned())),
    }
    let Some(Value::Array(entries)) = object.remove("operations") else {
        return Err(shape("`operations` is not a list".to_owned()));
    };
    entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let id = entry
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("#{index}"), str::to_owned);
            let entry: ApolloOperation =
                serde_json::from_value(entry).map_err(|error| ManifestError::Entry {
                    path: path.to_owned(),
                    id: id.clone(),
                    reason: error.to_string(),
                })?;
            let (name, kind) = describe(&entry.id, &entry.body, path)?;
            Ok(ManifestOperation {
                name: entry.name.unwrap_or(name),
                kind: entry.kind.unwrap_or(kind),
                id: entry.id,
                body: entry.body,
            })
        })
        .collect()
}

/// The operations of an object of ids to documents, as Relay and graphql-codegen's persisted
/// documents write it (`{"<id>": "query ... { ... }"}`).
fn keyed_operations(
    object: serde_json::Map<String, Value>,
    path: &str,
) -> Result<Vec<ManifestOperation>, ManifestError> {
    object
        .into_iter()
        .map(|(id, body)| {
            let Value::String(body) = body else {
                return Err(ManifestError::Shape {
                    path: path.to_owned(),
                    reason: format!("the value of `{id}` is not a document string"),
                });
            };
            let (name, kind) = describe(&id, &body, path)?;
            Ok(ManifestOperation {
                id,
                name,
                kind,
                body,
            })
        })
        .collect()
}

/// The name and type of the first operation of a manifest entry's document; a document that
/// does not parse, or holds no operation, is refused.
fn describe(id: &str, body: &str, path: &str) -> Result<(String, String), ManifestError> {
    let refuse = |reason: String| ManifestError::Entry {
        path: path.to_owned(),
        id: id.to_owned(),
        reason,
    };
    let document = graphql_tools::parser::parse_query::<String>(body)
        .map_err(|error| refuse(format!("the document does not parse: {error}")))?;
    let (name, kind) = first_operation(&document)
        .ok_or_else(|| refuse("the document holds no operation".to_owned()))?;
    Ok((name.unwrap_or_default().to_owned(), kind.to_owned()))
}

/// The name (none when anonymous) and type of the first operation in `document`.
fn first_operation<'d>(
    document: &'d graphql_tools::parser::query::Document<'_, String>,
) -> Option<(Option<&'d str>, &'static str)> {
    use graphql_tools::parser::query::{Definition, OperationDefinition};
    document
        .definitions
        .iter()
        .find_map(|definition| match definition {
            Definition::Operation(OperationDefinition::Query(q)) => {
                Some((q.name.as_deref(), "query"))
            }
            Definition::Operation(OperationDefinition::Mutation(m)) => {
                Some((m.name.as_deref(), "mutation"))
            }
            Definition::Operation(OperationDefinition::Subscription(s)) => {
                Some((s.name.as_deref(), "subscription"))
            }
            Definition::Operation(OperationDefinition::SelectionSet(_)) => Some((None, "query")),
            Definition::Fragment(_) => None,
        })
}

/// An id without its `sha256:` prefix, so a client sending either spelling of a key finds the
/// document the manifest holds under the other.
fn canonical_id(id: &str) -> &str {
    id.strip_prefix(SHA256_PREFIX).unwrap_or(id)
}

/// The persisted-operation store of one engine.
pub struct Persisted {
    /// The manifest's documents by id, the id without its `sha256:` prefix.
    by_id: HashMap<String, Arc<str>>,
    /// The manifest's documents by the SHA-256 of their text: the safelist, and what an APQ
    /// hash finds, whatever ids the manifest's format chose.
    by_hash: HashMap<String, Arc<str>>,
    safelist: bool,
    apq: Option<moka::sync::Cache<String, Arc<str>>>,
}

impl Persisted {
    /// A store over `manifest` with the given policy.
    pub fn new(config: &PersistedConfig, manifest: Option<Manifest>) -> Persisted {
        let mut by_id = HashMap::new();
        let mut by_hash = HashMap::new();
        for operation in manifest.map(|m| m.operations).unwrap_or_default() {
            let body: Arc<str> = Arc::from(operation.body);
            by_hash.insert(sha256_hex(&body), body.clone());
            by_id.insert(canonical_id(&operation.id).to_owned(), body);
        }
        let apq = (config.apq && !config.safelist).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(config.apq_cache_bytes)
                .weigher(|_, document: &Arc<str>| u32::try_from(document.len()).unwrap_or(u32::MAX))
                .build()
        });
        Persisted {
            by_id,
            by_hash,
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
            let body = self
                .by_id
                .get(canonical_id(id))
                .ok_or(PersistedError::NotFound)?;
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
                if self.safelist && !self.by_hash.contains_key(&hash) {
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
                // Apollo's clients send the manifest's id as this hash, which need not be the
                // document's own.
                if let Some(body) = self.by_id.get(&hash).or_else(|| self.by_hash.get(&hash)) {
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
                if self.safelist && !self.by_hash.contains_key(&sha256_hex(query)) {
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
