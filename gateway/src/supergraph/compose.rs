//! A supergraph composed at start from a supergraph config (rover's format), for the router
//! binary: schema files read, running subgraphs asked for `_service { sdl }`, composed by
//! `tributary-schema`. Behind the `compose` feature, so an engine embedded in a BFF links no
//! composer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tributary_schema::supergraph_config::{SERVICE_SDL_QUERY, sdl_from_response};
use tributary_schema::{ComposeError, ConfigError, SupergraphConfig, compose};

/// How long a subgraph may take to give its SDL.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a supergraph config could not be composed.
#[derive(Debug, thiserror::Error)]
pub enum ComposeConfigError {
    /// The config, a schema file or a fetched SDL is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The subgraphs do not compose.
    #[error(transparent)]
    Compose(#[from] ComposeError),
}

/// A supergraph composed from a config, and the files it was read from.
#[derive(Debug, Clone)]
pub struct Composed {
    /// The supergraph SDL.
    pub sdl: String,
    /// The config file and every schema file it names: what to watch for changes.
    pub files: Vec<PathBuf>,
}

/// Reads the config at `path`, fetches the SDL of every subgraph it lists by URL, and
/// composes them.
pub async fn from_config(
    path: &Path,
    client: &reqwest::Client,
) -> Result<Composed, ComposeConfigError> {
    let config = SupergraphConfig::load(path)?;
    let mut fetched = HashMap::new();
    for (name, url, headers) in config.urls() {
        let mut request = client
            .post(url)
            .timeout(FETCH_TIMEOUT)
            .json(&serde_json::json!({ "query": SERVICE_SDL_QUERY }));
        for (header, value) in headers {
            request = request.header(header, value);
        }
        let answer = match request.send().await {
            Ok(response) => match response.json::<serde_json::Value>().await {
                Ok(body) => sdl_from_response(&body),
                Err(err) => Err(format!("the answer is not JSON: {err}")),
            },
            Err(err) => Err(format!("no answer: {err}")),
        };
        fetched.insert(name.to_owned(), answer);
    }
    let sources = config.sources(&fetched)?;
    let sdl = compose(&sources)?;
    Ok(Composed {
        sdl,
        files: config.files(),
    })
}
