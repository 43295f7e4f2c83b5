//! What can be wrong with a compose project, with the kind the CLI's exit and the API's
//! status follow.

use berth_kind::{Kind, Kinded};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// `${VAR:?message}` or `${VAR?message}` with the variable missing (or empty).
    #[error("required variable {name} is missing a value{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    RequiredVariable { name: String, message: String },
    /// A `$` that starts no variable (`$5`, `${}`, `${A`).
    #[error("invalid interpolation format for {template:?}: you may need to escape any $ with another $")]
    InvalidTemplate { template: String },
    /// A value whose substitution failed, by its path in the file.
    #[error("error while interpolating {path}: {source}")]
    Interpolation { path: String, source: Box<ComposeError> },
    /// What the Compose Specification's schema refuses.
    #[error("{file}: line {line}, column {col}: {path}: {why}")]
    Schema { file: String, line: usize, col: usize, path: String, why: String },
    /// A value the typed model cannot take, where it is.
    #[error("line {line}, column {col}: {path}: {why}")]
    Invalid { line: usize, col: usize, path: String, why: String },
    /// A short syntax (`ports`, `volumes`) that does not read.
    #[error("invalid {what} {spec:?}: {why}")]
    Short { what: &'static str, spec: String, why: String },
    /// A project that cannot be run as it is (a service needing one that is not in it).
    #[error("{why}")]
    Project { why: String },
    /// An `include` that cannot be applied.
    #[error("{why}")]
    Include { why: String },
    /// An `extends` that cannot be applied.
    #[error("{why}")]
    Extends { why: String },
    /// Files that cannot be merged at a path.
    #[error("{path}: {why}")]
    Merge { path: String, why: String },
    /// A `.env` or `env_file` that is not what Compose reads.
    #[error("{file}: line {line}: {why}")]
    EnvFile { file: String, line: usize, why: String },
    /// A file that is not YAML, or YAML Compose refuses.
    #[error("{file}: line {line}, column {col}: {why}")]
    Yaml { file: String, line: usize, col: usize, why: String },
    /// A project name Compose refuses.
    #[error("invalid project name {name:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number")]
    ProjectName { name: String },
}

impl Kinded for ComposeError {
    fn kind(&self) -> Kind {
        Kind::InvalidArgument
    }
}
