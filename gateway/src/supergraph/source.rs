//! Where a served supergraph comes from (a supergraph file, or with the `compose` feature a
//! supergraph config composed on load) and which files to watch for a new version.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::{Supergraph, SupergraphError};

/// A supergraph's source.
#[derive(Debug, Clone)]
pub enum SupergraphSource {
    /// A supergraph SDL file.
    File(PathBuf),
    /// A supergraph config (rover's YAML), composed on every load.
    #[cfg(feature = "compose")]
    Config(PathBuf),
}

/// Why a source could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The supergraph is unusable.
    #[error(transparent)]
    Supergraph(#[from] SupergraphError),
    /// The config did not compose.
    #[cfg(feature = "compose")]
    #[error(transparent)]
    Compose(#[from] super::compose::ComposeConfigError),
}

/// The files a supergraph was read from, with their modification times then.
#[derive(Debug, Clone, Default)]
pub struct Watched(Vec<(PathBuf, Option<SystemTime>)>);

impl Watched {
    fn of(files: Vec<PathBuf>) -> Watched {
        Watched(
            files
                .into_iter()
                .map(|file| {
                    let at = modified(&file);
                    (file, at)
                })
                .collect(),
        )
    }

    /// Whether a file changed since it was read; either way, its new time is remembered.
    pub fn changed(&mut self) -> bool {
        let mut changed = false;
        for (file, at) in &mut self.0 {
            let now = modified(file);
            changed |= now != *at;
            *at = now;
        }
        changed
    }
}

impl SupergraphSource {
    /// Loads the supergraph (composing it from a config), and which files it came from.
    pub async fn load(
        &self,
        client: &reqwest::Client,
    ) -> Result<(Arc<Supergraph>, Watched), SourceError> {
        let _ = client;
        match self {
            SupergraphSource::File(path) => Ok((
                Supergraph::from_file(path)?,
                Watched::of(vec![path.clone()]),
            )),
            #[cfg(feature = "compose")]
            SupergraphSource::Config(path) => {
                let composed = super::compose::from_config(path, client).await?;
                Ok((
                    Supergraph::from_sdl(&composed.sdl)?,
                    Watched::of(composed.files),
                ))
            }
        }
    }
}

impl std::fmt::Display for SupergraphSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SupergraphSource::File(path) => write!(f, "{}", path.display()),
            #[cfg(feature = "compose")]
            SupergraphSource::Config(path) => write!(f, "composed from {}", path.display()),
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
