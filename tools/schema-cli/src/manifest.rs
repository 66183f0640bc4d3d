//! `manifest`: a persisted-operation manifest from any folder of `.graphql` files, in Apollo's
//! persisted query manifest format (the engine's own; the workspace's mobile manifest is one) or
//! as the object of ids to documents Relay and graphql-codegen write. The engine loads both.
//!
//! Each file holds one or more named operations and the fragments they use; a fragment may
//! also come from another file of the folder. A file with one operation gives its whole text,
//! trimmed; a file with several gives each operation printed with the fragments it uses. Each
//! operation's name and type are read from the parsed document, and its id is the SHA-256 of
//! its document text, as the engine computes it.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use graphql_tools::static_graphql::query::{
    Definition, Document, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
};
use tributary_gateway::Manifest;
use tributary_schema::files::FileError;

/// The formats `manifest` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Apollo's persisted query manifest (`apollo-persisted-query-manifest`, version 1), the
    /// engine's own format, which `tributary` also names.
    #[default]
    #[value(alias = "tributary")]
    Apollo,
    /// An object of ids (SHA-256 in hex) to documents, as Relay and graphql-codegen write it.
    Documents,
}

/// What a folder's operation files must satisfy beyond parsing and naming every operation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// Refuse a file that does not hold exactly one operation.
    pub one_per_file: bool,
    /// Read the folders under the folder too.
    pub recursive: bool,
}

/// One operation of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The operation's name.
    pub name: String,
    /// The document clients send: the operation and the fragments it uses.
    pub body: String,
    /// The file it was read from.
    pub path: PathBuf,
}

/// Why a folder's operations give no manifest.
#[derive(Debug, thiserror::Error)]
pub enum OperationsError {
    /// A file or folder could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// An operation file is unusable.
    #[error("{}: {message}", path.display())]
    Operation {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// One `.graphql` file, parsed.
struct Source {
    path: PathBuf,
    text: String,
    document: Document,
}

/// `manifest --operations DIR --output FILE [--format F]`: writes the manifest of every
/// `.graphql` file under `operations`.
pub fn run(operations: &Path, output: &Path, format: Format) -> ExitCode {
    let written = read(
        operations,
        Rules {
            one_per_file: false,
            recursive: true,
        },
        |_| Ok(()),
    )
    .and_then(|found| {
        if found.is_empty() {
            return Err(OperationsError::Operation {
                path: operations.to_owned(),
                message: "no `.graphql` file holds an operation".to_owned(),
            });
        }
        let mut text = render(&found, format).map_err(|error| OperationsError::Operation {
            path: output.to_owned(),
            message: error.to_string(),
        })?;
        text.push('\n');
        fs::write(output, text).map_err(|source| FileError {
            path: output.to_owned(),
            source,
        })?;
        Ok(found.len())
    });
    match written {
        Ok(count) => {
            println!("wrote {} ({count} operations)", output.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The operations of the `.graphql` files in `dir` (none when it does not exist), each file
/// parsed, its operations named, and passed through `check` before it is split; names are
/// unique across the folder.
pub fn read(
    dir: &Path,
    rules: Rules,
    check: impl Fn(&Document) -> Result<(), String>,
) -> Result<Vec<Operation>, OperationsError> {
    let mut paths = Vec::new();
    list(dir, rules.recursive, &mut paths)?;
    paths.sort();
    let mut sources = Vec::new();
    for path in paths {
        let text = fs::read_to_string(&path).map_err(|source| FileError {
            path: path.clone(),
            source,
        })?;
        let invalid = |message: String| OperationsError::Operation {
            path: path.clone(),
            message,
        };
        let document = graphql_tools::parser::parse_query::<String>(&text)
            .map_err(|error| invalid(error.to_string()))?
            .into_static();
        let names = operation_names(&document).map_err(invalid)?;
        if rules.one_per_file {
            match names.len() {
                1 => {}
                0 => return Err(invalid("the file holds no operation".to_owned())),
                n => {
                    return Err(invalid(format!(
                        "the file holds {n} operations; put each in a file of its own"
                    )));
                }
            }
        }
        check(&document).map_err(invalid)?;
        sources.push(Source {
            path,
            text,
            document,
        });
    }
    split(&sources)
}

/// The manifest of `operations` in `format`, operations sorted by name.
pub fn render(operations: &[Operation], format: Format) -> Result<String, serde_json::Error> {
    let manifest = Manifest::from_documents(
        operations
            .iter()
            .map(|o| (o.name.as_str(), o.body.as_str())),
    );
    match format {
        Format::Apollo => serde_json::to_string_pretty(&manifest),
        Format::Documents => {
            // Written by hand to keep the manifest's order (by name) without a serde dependency.
            let mut entries = Vec::new();
            for operation in &manifest.operations {
                entries.push(format!(
                    "  {}: {}",
                    serde_json::to_string(&operation.id)?,
                    serde_json::to_string(&operation.body)?
                ));
            }
            Ok(format!("{{\n{}\n}}", entries.join(",\n")))
        }
    }
}

/// Adds the `.graphql` files of `dir` (and of its folders, when `recursive`) to `paths`.
fn list(dir: &Path, recursive: bool, paths: &mut Vec<PathBuf>) -> Result<(), FileError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(FileError {
                path: dir.to_owned(),
                source,
            });
        }
    };
    for entry in entries {
        let entry = entry.map_err(|source| FileError {
            path: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        if recursive && entry.file_type().is_ok_and(|t| t.is_dir()) {
            list(&path, recursive, paths)?;
        } else if path.extension().is_some_and(|e| e == "graphql") {
            paths.push(path);
        }
    }
    Ok(())
}

/// The names of the document's operations, each of which must have one.
fn operation_names(document: &Document) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for definition in &document.definitions {
        if let Definition::Operation(operation) = definition {
            names.push(
                operation_name(operation)
                    .ok_or("every persisted operation must be named")?
                    .to_owned(),
            );
        }
    }
    Ok(names)
}

fn operation_name(operation: &OperationDefinition) -> Option<&str> {
    match operation {
        OperationDefinition::Query(q) => q.name.as_deref(),
        OperationDefinition::Mutation(m) => m.name.as_deref(),
        OperationDefinition::Subscription(s) => s.name.as_deref(),
        OperationDefinition::SelectionSet(_) => None,
    }
}

/// Every operation of `sources`, each with the document clients send for it.
fn split(sources: &[Source]) -> Result<Vec<Operation>, OperationsError> {
    // Fragments by name across the folder, for operations that use one from another file.
    let mut shared: HashMap<&str, Vec<(&FragmentDefinition, &Path)>> = HashMap::new();
    for source in sources {
        for fragment in fragments(&source.document) {
            shared
                .entry(fragment.name.as_str())
                .or_default()
                .push((fragment, &source.path));
        }
    }
    let mut operations: Vec<Operation> = Vec::new();
    for source in sources {
        let invalid = |message: String| OperationsError::Operation {
            path: source.path.clone(),
            message,
        };
        let local: HashMap<&str, &FragmentDefinition> = fragments(&source.document)
            .map(|f| (f.name.as_str(), f))
            .collect();
        let defined: Vec<&OperationDefinition> = source
            .document
            .definitions
            .iter()
            .filter_map(|d| match d {
                Definition::Operation(operation) => Some(operation),
                Definition::Fragment(_) => None,
            })
            .collect();
        for operation in &defined {
            let name = operation_name(operation).unwrap_or_default().to_owned();
            let mut used: Vec<&FragmentDefinition> = Vec::new();
            let mut foreign = false;
            // Breadth first, so fragments follow the operation in the order it uses them.
            let mut pending = VecDeque::from(spreads(selection_set(operation)));
            while let Some(spread) = pending.pop_front() {
                if used.iter().any(|f| f.name == spread) {
                    continue;
                }
                let fragment = match local.get(spread) {
                    Some(fragment) => *fragment,
                    None => {
                        foreign = true;
                        one_definition(&shared, spread).map_err(invalid)?
                    }
                };
                pending.extend(spreads(&fragment.selection_set));
                used.push(fragment);
            }
            let body = if defined.len() == 1 && !foreign {
                source.text.trim().to_owned()
            } else if defined.len() == 1 {
                // The file as written, then the fragments it takes from other files.
                let mut body = source.text.trim().to_owned();
                for fragment in used.iter().filter(|f| !local.contains_key(f.name.as_str())) {
                    body.push_str("\n\n");
                    body.push_str(print(Definition::Fragment((*fragment).clone())).trim());
                }
                body
            } else {
                let mut definitions = vec![Definition::Operation((*operation).clone())];
                definitions.extend(used.iter().map(|f| Definition::Fragment((*f).clone())));
                Document { definitions }.to_string().trim().to_owned()
            };
            if let Some(other) = operations.iter().find(|o| o.name == name) {
                return Err(invalid(format!(
                    "operation `{name}` is also defined in {}",
                    other.path.display()
                )));
            }
            operations.push(Operation {
                name,
                body,
                path: source.path.clone(),
            });
        }
    }
    Ok(operations)
}

/// The one definition of fragment `name` in the folder; the same text in several files is
/// one definition.
fn one_definition<'s>(
    shared: &HashMap<&str, Vec<(&'s FragmentDefinition, &Path)>>,
    name: &str,
) -> Result<&'s FragmentDefinition, String> {
    let Some(((first, first_path), others)) = shared.get(name).and_then(|d| d.split_first()) else {
        return Err(format!(
            "fragment `{name}` is defined in no file of the folder"
        ));
    };
    let printed = print(Definition::Fragment((*first).clone()));
    for (other, path) in others {
        if print(Definition::Fragment((*other).clone())) != printed {
            return Err(format!(
                "fragment `{name}` is defined differently in {} and {}",
                first_path.display(),
                path.display()
            ));
        }
    }
    Ok(first)
}

fn print(definition: Definition) -> String {
    Document {
        definitions: vec![definition],
    }
    .to_string()
}

fn fragments(document: &Document) -> impl Iterator<Item = &FragmentDefinition> {
    document.definitions.iter().filter_map(|d| match d {
        Definition::Fragment(fragment) => Some(fragment),
        Definition::Operation(_) => None,
    })
}

fn selection_set(operation: &OperationDefinition) -> &SelectionSet {
    match operation {
        OperationDefinition::SelectionSet(set) => set,
        OperationDefinition::Query(q) => &q.selection_set,
        OperationDefinition::Mutation(m) => &m.selection_set,
        OperationDefinition::Subscription(s) => &s.selection_set,
    }
}

/// The fragment names spread in `set`, at any depth outside fragment definitions, in the
/// order they appear.
fn spreads(set: &SelectionSet) -> Vec<&str> {
    fn walk<'s>(set: &'s SelectionSet, names: &mut Vec<&'s str>) {
        for item in &set.items {
            match item {
                Selection::Field(field) => walk(&field.selection_set, names),
                Selection::InlineFragment(inline) => walk(&inline.selection_set, names),
                Selection::FragmentSpread(spread) => names.push(spread.fragment_name.as_str()),
            }
        }
    }
    let mut names = Vec::new();
    walk(set, &mut names);
    names
}
