//! The forewarn host agent, and the pieces the forewarn server shares with it.
//!
//! - [`agent`]: the agent itself (configuration, sampling, the `/v1/` API and its JSON
//!   documents, which the server's agent probe reads).
//! - [`listener`]: the HTTP/1 accept loop with connection caps and timeouts that `forewarn
//!   serve` and the agent both serve through.
//! - [`secret`]: tokens and passwords read from env or files, never printed.
//! - [`diag`]: configuration diagnostics with file, line, column and key path.
//! - [`log`]: log fields escaped for people.
//!
//! Architecture invariant: this crate knows nothing of the store, the templates or the demo; the
//! `forewarn-agent` binary is built from it alone (no sqlx, minijinja, rcgen, hickory, lettre,
//! reqwest).

pub mod agent;
pub mod diag;
pub mod listener;
pub mod log;
pub mod secret;
