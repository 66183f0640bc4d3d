//! The checked-in files derived from the code: subgraph SDLs, supergraphs, API schemas,
//! operation manifests. Writing them, and telling which files on disk no longer match what the
//! code says.

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
    /// Its path relative to the directory the files are written under.
    pub path: PathBuf,
    /// Its full contents, ending in one newline.
    pub contents: String,
}

/// The files the sources call for, and the directories whose `.graphql` files they all are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifacts {
    /// The files, in the order they are listed.
    pub files: Vec<Artifact>,
    /// Directories where a `.graphql` file that is not an artifact is stale (a subgraph that
    /// was removed) and `write` deletes it.
    pub owned_dirs: Vec<PathBuf>,
}

impl Artifacts {
    /// No files.
    pub fn new() -> Self {
        Artifacts::default()
    }

    /// Adds a file; its contents are given one final newline.
    pub fn add(&mut self, path: impl Into<PathBuf>, contents: &str) {
        self.files.push(Artifact {
            path: path.into(),
            contents: format!("{}\n", contents.trim_end()),
        });
    }

    /// Adds `<dir>/<name>.graphql` with each source's SDL, by name, and makes `dir` owned.
    pub fn subgraphs(&mut self, dir: impl Into<PathBuf>, sources: &[SubgraphSource]) {
        let dir = dir.into();
        let mut sources: Vec<&SubgraphSource> = sources.iter().collect();
        sources.sort_by(|a, b| a.name.cmp(&b.name));
        for source in sources {
            self.add(
                dir.join(format!("{}.graphql", source.name)),
                source.sdl.trim(),
            );
        }
        self.owned_dirs.push(dir);
    }

    /// The contents of the artifact at `path`.
    pub fn get(&self, path: impl AsRef<Path>) -> Option<&str> {
        let path = path.as_ref();
        self.files
            .iter()
            .find(|a| a.path == path)
            .map(|a| a.contents.as_str())
    }
}

/// A file on disk that does not match the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The file should exist and does not.
    Missing(PathBuf),
    /// The file exists with other contents.
    Differs(PathBuf),
    /// A `.graphql` file of an owned directory that no artifact accounts for.
    Unexpected(PathBuf),
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Missing(path) => write!(f, "{} is missing", path.display()),
            Drift::Differs(path) => write!(f, "{} differs from the code", path.display()),
            Drift::Unexpected(path) => {
                write!(
                    f,
                    "{} is stale: the code no longer writes it",
                    path.display()
                )
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

/// The files of one composition, relative to its schema directory: each subgraph's SDL under
/// `subgraphs/`, then the supergraph.
pub fn artifacts(sources: &[SubgraphSource]) -> Result<Artifacts, ComposeError> {
    let supergraph = compose(sources)?;
    let mut files = Artifacts::new();
    files.subgraphs(SUBGRAPHS_DIR, sources);
    files.add(SUPERGRAPH_FILE, &supergraph);
    Ok(files)
}

/// Writes the artifacts under `dir`, leaving unchanged files untouched and removing `.graphql`
/// files of owned directories no artifact accounts for. Returns the drift it resolved.
pub fn write(dir: &Path, artifacts: &Artifacts) -> Result<Vec<Drift>, FileError> {
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
                let contents = artifacts.get(path).unwrap_or_default();
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
pub fn check(dir: &Path, artifacts: &Artifacts) -> Result<Vec<Drift>, FileError> {
    let mut drift = Vec::new();
    for artifact in &artifacts.files {
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
    let mut unexpected = Vec::new();
    for owned in &artifacts.owned_dirs {
        let full = dir.join(owned);
        let entries = match fs::read_dir(&full) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(FileError { path: full, source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| FileError {
                path: full.clone(),
                source,
            })?;
            let path = owned.join(entry.file_name());
            let is_sdl = path.extension().is_some_and(|e| e == "graphql");
            if is_sdl && artifacts.get(&path).is_none() {
                unexpected.push(Drift::Unexpected(path));
            }
        }
    }
    unexpected.sort_by_key(ToString::to_string);
    drift.extend(unexpected);
    Ok(drift)
}
