//! Supergraph config files, in the format teams already keep for rover:
//!
//! ```yaml
//! federation_version: =2.3.2
//! subgraphs:
//!   products:
//!     routing_url: http://products:4001/graphql
//!     schema:
//!       file: ./products.graphql
//!   reviews:
//!     routing_url: http://reviews:4002/graphql
//!     schema:
//!       subgraph_url: http://reviews:4002/graphql
//! ```
//!
//! A schema comes from a file (relative to the config file) or from a running subgraph's
//! `_service { sdl }`. This module reads files but does no network I/O: [`SupergraphConfig::urls`]
//! says what to fetch, the caller fetches it (with [`SERVICE_SDL_QUERY`] and
//! [`sdl_from_response`]), and [`SupergraphConfig::sources`] puts it all together.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::compose::SubgraphSource;

/// The query that asks a running subgraph for its SDL.
pub const SERVICE_SDL_QUERY: &str = "query SubgraphSdl { _service { sdl } }";

/// Why a supergraph config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The config is not YAML of the expected shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with its line when the parser knows it.
        message: String,
    },
    /// A subgraph's schema file could not be read.
    #[error("subgraph `{subgraph}`: reading its schema {path}: {source}")]
    Schema {
        /// The subgraph.
        subgraph: String,
        /// The file.
        path: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A subgraph's schema names neither a file nor a URL, or both.
    #[error("subgraph `{0}`: `schema` must have exactly one of `file` and `subgraph_url`")]
    SchemaSource(String),
    /// A subgraph has no `routing_url` and no `schema.subgraph_url` to fall back on.
    #[error("subgraph `{0}`: `routing_url` is missing")]
    RoutingUrl(String),
    /// A subgraph's SDL was to be fetched but nothing was given for it.
    #[error("subgraph `{subgraph}`: its SDL could not be fetched from {url}: {message}")]
    Fetch {
        /// The subgraph.
        subgraph: String,
        /// Where it was asked.
        url: String,
        /// Why it failed.
        message: String,
    },
    /// The config lists no subgraph.
    #[error("{0}: the config lists no subgraph")]
    Empty(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    federation_version: Option<String>,
    #[serde(default)]
    subgraphs: BTreeMap<String, RawSubgraph>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubgraph {
    #[serde(default)]
    routing_url: Option<String>,
    schema: RawSchema,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    #[serde(default)]
    file: Option<PathBuf>,
    #[serde(default)]
    subgraph_url: Option<String>,
    /// Rover's introspection headers; accepted, passed on by callers that fetch.
    #[serde(default)]
    introspection_headers: BTreeMap<String, String>,
}

/// Where one subgraph's SDL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaSource {
    /// A file, resolved against the config file's folder.
    File(PathBuf),
    /// A running subgraph, asked with [`SERVICE_SDL_QUERY`].
    Url {
        /// Its GraphQL endpoint.
        url: String,
        /// Headers to send with the query.
        headers: BTreeMap<String, String>,
    },
}

/// One subgraph of a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSubgraph {
    /// Its name in the supergraph.
    pub name: String,
    /// Where the gateway sends its fetches.
    pub routing_url: String,
    /// Where its SDL comes from.
    pub schema: SchemaSource,
}

/// A parsed supergraph config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupergraphConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// `federation_version`, as written (informational: the output is Federation v2).
    pub federation_version: Option<String>,
    /// The subgraphs, by name.
    pub subgraphs: Vec<ConfigSubgraph>,
}

impl SupergraphConfig {
    /// Reads and parses the config at `path`.
    pub fn load(path: &Path) -> Result<SupergraphConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        SupergraphConfig::parse(&text, path)
    }

    /// Parses config `text` as if read from `path` (files resolve against its folder).
    pub fn parse(text: &str, path: &Path) -> Result<SupergraphConfig, ConfigError> {
        let shown = path.display().to_string();
        let raw: RawConfig = serde_yaml_ng::from_str(text).map_err(|error| ConfigError::Parse {
            path: shown.clone(),
            message: error.to_string(),
        })?;
        if raw.subgraphs.is_empty() {
            return Err(ConfigError::Empty(shown));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let mut subgraphs = Vec::with_capacity(raw.subgraphs.len());
        for (name, subgraph) in raw.subgraphs {
            let schema = match (subgraph.schema.file, subgraph.schema.subgraph_url) {
                (Some(file), None) => SchemaSource::File(base.join(file)),
                (None, Some(url)) => SchemaSource::Url {
                    url,
                    headers: subgraph.schema.introspection_headers,
                },
                _ => return Err(ConfigError::SchemaSource(name)),
            };
            let routing_url = match (&subgraph.routing_url, &schema) {
                (Some(url), _) => url.clone(),
                (None, SchemaSource::Url { url, .. }) => url.clone(),
                (None, SchemaSource::File(_)) => return Err(ConfigError::RoutingUrl(name)),
            };
            subgraphs.push(ConfigSubgraph {
                name,
                routing_url,
                schema,
            });
        }
        Ok(SupergraphConfig {
            path: path.to_owned(),
            federation_version: raw.federation_version,
            subgraphs,
        })
    }

    /// The files this config reads: itself and every schema file (what to watch).
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.path.clone()];
        files.extend(self.subgraphs.iter().filter_map(|s| match &s.schema {
            SchemaSource::File(path) => Some(path.clone()),
            SchemaSource::Url { .. } => None,
        }));
        files
    }

    /// The subgraphs whose SDL must be fetched: `(name, url, headers)`.
    pub fn urls(&self) -> Vec<(&str, &str, &BTreeMap<String, String>)> {
        self.subgraphs
            .iter()
            .filter_map(|s| match &s.schema {
                SchemaSource::Url { url, headers } => {
                    Some((s.name.as_str(), url.as_str(), headers))
                }
                SchemaSource::File(_) => None,
            })
            .collect()
    }

    /// Every subgraph's source: files read now, fetched SDLs taken from `fetched` by name
    /// (`Err` holds why a fetch failed).
    pub fn sources(
        &self,
        fetched: &HashMap<String, Result<String, String>>,
    ) -> Result<Vec<SubgraphSource>, ConfigError> {
        self.subgraphs
            .iter()
            .map(|subgraph| {
                let sdl = match &subgraph.schema {
                    SchemaSource::File(path) => {
                        std::fs::read_to_string(path).map_err(|source| ConfigError::Schema {
                            subgraph: subgraph.name.clone(),
                            path: path.display().to_string(),
                            source,
                        })?
                    }
                    SchemaSource::Url { url, .. } => match fetched.get(&subgraph.name) {
                        Some(Ok(sdl)) => sdl.clone(),
                        Some(Err(message)) => {
                            return Err(ConfigError::Fetch {
                                subgraph: subgraph.name.clone(),
                                url: url.clone(),
                                message: message.clone(),
                            });
                        }
                        None => {
                            return Err(ConfigError::Fetch {
                                subgraph: subgraph.name.clone(),
                                url: url.clone(),
                                message: "not fetched".to_owned(),
                            });
                        }
                    },
                };
                Ok(SubgraphSource::new(
                    &subgraph.name,
                    &subgraph.routing_url,
                    sdl,
                ))
            })
            .collect()
    }
}

/// The SDL in a subgraph's answer to [`SERVICE_SDL_QUERY`], or why there is none.
pub fn sdl_from_response(body: &serde_json::Value) -> Result<String, String> {
    if let Some(errors) = body.get("errors").and_then(|e| e.as_array())
        && let Some(first) = errors.first()
    {
        let message = first
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("an error without a message");
        return Err(format!("the subgraph answered an error: {message}"));
    }
    body.pointer("/data/_service/sdl")
        .and_then(|sdl| sdl.as_str())
        .map(str::to_owned)
        .ok_or_else(|| "the answer has no `data._service.sdl`".to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_rover_configs_with_files_and_urls() {
        let config = SupergraphConfig::parse(
            "federation_version: =2.3.2\nsubgraphs:\n  products:\n    routing_url: http://p/graphql\n    schema:\n      file: ./products.graphql\n  reviews:\n    schema:\n      subgraph_url: http://r/graphql\n      introspection_headers:\n        Authorization: Bearer x\n",
            Path::new("/srv/graph/supergraph.yaml"),
        )
        .unwrap();
        assert_eq!(config.federation_version.as_deref(), Some("=2.3.2"));
        assert_eq!(
            config.subgraphs[0].schema,
            SchemaSource::File(PathBuf::from("/srv/graph/./products.graphql"))
        );
        assert_eq!(config.subgraphs[1].routing_url, "http://r/graphql");
        assert_eq!(config.urls().len(), 1);
        assert_eq!(config.files().len(), 2);
    }

    #[test]
    fn bad_configs_name_what_is_wrong() {
        let parse = |text: &str| {
            SupergraphConfig::parse(text, Path::new("c.yaml"))
                .unwrap_err()
                .to_string()
        };
        assert!(parse("subgraphs: {}").contains("lists no subgraph"));
        assert!(parse("subgraphs:\n  a:\n    schema: {}\n").contains("subgraph `a`"));
        assert!(
            parse("subgraphs:\n  a:\n    schema:\n      file: a.graphql\n")
                .contains("`routing_url` is missing")
        );
        assert!(parse("subgraphs:\n  a:\n    routing_urll: x\n").contains("line"));
    }

    #[test]
    fn the_sdl_is_read_from_a_service_answer() {
        let ok = serde_json::json!({ "data": { "_service": { "sdl": "type Query { a: Int }" } } });
        assert_eq!(sdl_from_response(&ok).unwrap(), "type Query { a: Int }");
        let error = serde_json::json!({ "errors": [{ "message": "no" }] });
        assert!(sdl_from_response(&error).unwrap_err().contains("no"));
    }
}
