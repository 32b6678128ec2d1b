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
/// A secret written inline is refused with a message that says how to write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(std::path::PathBuf),
}

const SECRET_HOW: &str =
    "write { env = \"NAME\" } or { file = \"path\" }; secrets are never written inline";

impl<'de> serde::Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = SecretRef;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SECRET_HOW)
            }

            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(format!("a secret written inline: {SECRET_HOW}")))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SecretRef, A::Error> {
                use serde::de::Error;
                let Some(key) = map.next_key::<String>()? else {
                    return Err(A::Error::custom(SECRET_HOW));
                };
                let value: String = map.next_value()?;
                if map.next_key::<String>()?.is_some() {
                    return Err(A::Error::custom(format!("only one source: {SECRET_HOW}")));
                }
                match key.as_str() {
                    "env" => Ok(SecretRef::Env(value)),
                    "file" => Ok(SecretRef::File(value.into())),
                    other => Err(A::Error::custom(format!(
                        "unknown secret source `{other}`: {SECRET_HOW}"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
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
