//! The checked-in schema files derived from subgraph sources: `subgraphs/<name>.graphql` with
//! each subgraph's SDL and `supergraph.graphql` composed from them. Writing them, and telling
//! which files on disk no longer match what the code says.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::{ComposeError, SubgraphSource, compose};

/// The directory, relative to the schema directory, holding one SDL file per subgraph.
pub const SUBGRAPHS_DIR: &str = "subgraphs";
/// The supergraph's file name, relative to the schema directory.
pub const SUPERGRAPH_FILE: &str = "supergraph.graphql";

/// One file the sources call for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Its path relative to the schema directory (`subgraphs/accounts.graphql`).
    pub path: PathBuf,
    /// Its full contents, ending in one newline.
    pub contents: String,
}

/// A file on disk that does not match the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The file should exist and does not.
    Missing(PathBuf),
    /// The file exists with other contents.
    Differs(PathBuf),
    /// A subgraph SDL file no source accounts for.
    Unexpected(PathBuf),
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Missing(path) => write!(f, "{} is missing", path.display()),
            Drift::Differs(path) => write!(f, "{} differs from the code", path.display()),
            Drift::Unexpected(path) => {
                write!(f, "{} belongs to no subgraph", path.display())
            }
        }
    }
}

/// A file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct FileError {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// What the operating system said.
    pub source: io::Error,
}

/// The files the sources call for: each subgraph's SDL, then the supergraph.
pub fn artifacts(sources: &[SubgraphSource]) -> Result<Vec<Artifact>, ComposeError> {
    let supergraph = compose(sources)?;
    let mut files: Vec<Artifact> = sources
        .iter()
        .map(|source| Artifact {
            path: Path::new(SUBGRAPHS_DIR).join(format!("{}.graphql", source.name)),
            contents: format!("{}\n", source.sdl.trim()),
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.push(Artifact {
        path: PathBuf::from(SUPERGRAPH_FILE),
        contents: supergraph,
    });
    Ok(files)
}

/// Writes the artifacts under `dir`, leaving unchanged files untouched and removing subgraph
/// SDL files no artifact accounts for. Returns the drift it resolved.
pub fn write(dir: &Path, artifacts: &[Artifact]) -> Result<Vec<Drift>, FileError> {
    let drift = check(dir, artifacts)?;
    for item in &drift {
        match item {
            Drift::Missing(path) | Drift::Differs(path) => {
                let full = dir.join(path);
                if let Some(parent) = full.parent() {
                    fs::create_dir_all(parent).map_err(|source| FileError {
                        path: parent.to_owned(),
                        source,
                    })?;
                }
                let contents = artifacts
                    .iter()
                    .find(|a| a.path == *path)
                    .map_or("", |a| a.contents.as_str());
                fs::write(&full, contents).map_err(|source| FileError { path: full, source })?;
            }
            Drift::Unexpected(path) => {
                let full = dir.join(path);
                fs::remove_file(&full).map_err(|source| FileError { path: full, source })?;
            }
        }
    }
    Ok(drift)
}

/// Compares the files under `dir` with the artifacts; empty when everything is in step.
pub fn check(dir: &Path, artifacts: &[Artifact]) -> Result<Vec<Drift>, FileError> {
    let mut drift = Vec::new();
    for artifact in artifacts {
        let full = dir.join(&artifact.path);
        match fs::read_to_string(&full) {
            Ok(contents) if contents == artifact.contents => {}
            Ok(_) => drift.push(Drift::Differs(artifact.path.clone())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                drift.push(Drift::Missing(artifact.path.clone()));
            }
            Err(source) => return Err(FileError { path: full, source }),
        }
    }
    let subgraphs = dir.join(SUBGRAPHS_DIR);
    let entries = match fs::read_dir(&subgraphs) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(drift),
        Err(source) => {
            return Err(FileError {
                path: subgraphs,
                source,
            });
        }
    };
    let mut unexpected = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| FileError {
            path: subgraphs.clone(),
            source,
        })?;
        let path = Path::new(SUBGRAPHS_DIR).join(entry.file_name());
        let is_sdl = path.extension().is_some_and(|e| e == "graphql");
        if is_sdl && !artifacts.iter().any(|a| a.path == path) {
            unexpected.push(Drift::Unexpected(path));
        }
    }
    unexpected.sort_by_key(ToString::to_string);
    drift.extend(unexpected);
    Ok(drift)
}
