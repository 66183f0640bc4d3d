//! The one loader: a TOML file, then `TRIBUTARY_<SECTION>__<KEY>` environment variables on top
//! (`TRIBUTARY_SUBGRAPHS__TIMEOUT_MS=5000`). Only variables with a double underscore are read,
//! so a binary's own `TRIBUTARY_*` settings never collide with the engine's keys.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use super::Config;

/// The prefix of every environment override.
const ENV_PREFIX: &str = "TRIBUTARY_";

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The named file does not exist.
    #[error("the configuration file {} does not exist", .0.display())]
    Missing(PathBuf),
    /// A key is unknown, or a value has the wrong type; the message names the key and where
    /// it came from (the file, or the environment variable).
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Loads the configuration from `file` (if any) and the environment, over the defaults.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    load_over(&Config::default(), file)
}

/// Loads `file` (if any) and the environment over `base` (a BFF's profile, say): what they
/// set replaces the base's values, the rest stays.
pub fn load_over(base: &Config, file: Option<&Path>) -> Result<Config, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(base));
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::Missing(path.to_owned()));
        }
        figment = figment.merge(Toml::file(path));
    }
    figment
        .merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|key| key.as_str().contains("__"))
                .split("__"),
        )
        .extract()
        .map_err(|err| ConfigError::Invalid(describe(&err)))
}

/// The first problem figment found, naming the environment variable when one caused it.
fn describe(err: &figment::Error) -> String {
    let from_env = err
        .metadata
        .as_ref()
        .is_some_and(|m| m.name.contains("environment"));
    if from_env && !err.path.is_empty() {
        let variable = format!("{ENV_PREFIX}{}", err.path.join("__").to_uppercase());
        format!("{} in the environment variable {variable}", err.kind)
    } else {
        err.to_string()
    }
}
