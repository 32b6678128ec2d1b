//! Secrets (tokens, passwords): read from an env var or a file at load, never printed.

use std::fmt;
use std::sync::Arc;

/// A secret value. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The secret itself. Call only where it is sent or compared.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with `other` in constant time (for tokens presented by clients).
    pub fn matches(&self, other: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let ours = self.0.as_bytes();
        ours.len() == other.len() && bool::from(ours.ct_eq(other))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a secret comes from, as written in config: `{ env = "NAME" }` or `{ file = "path" }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum SecretRef {
    Env(String),
    File(std::path::PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set (export it, or use `{{ file = \"…\" }}`)")]
    EnvMissing(String),
    #[error("cannot read secret file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("secret file {0} is empty")]
    Empty(String),
}

impl SecretRef {
    /// Reads the secret. A file's trailing newline is dropped.
    pub fn load(&self, base_dir: &std::path::Path) -> Result<Secret, SecretError> {
        match self {
            SecretRef::Env(name) => std::env::var(name)
                .map(Secret::new)
                .map_err(|_| SecretError::EnvMissing(name.clone())),
            SecretRef::File(path) => {
                let path = base_dir.join(path);
                let text = std::fs::read_to_string(&path).map_err(|e| SecretError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                let value = text.trim_end_matches(['\n', '\r']);
                if value.is_empty() {
                    return Err(SecretError::Empty(path.display().to_string()));
                }
                Ok(Secret::new(value))
            }
        }
    }
}
