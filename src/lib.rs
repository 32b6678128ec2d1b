//! forewarn: proactive customer-success monitoring for hosting companies.
//!
//! See ARCHITECTURE.md for the map of modules and the path of one result.

pub mod access;
pub mod bench;
pub mod cli;
pub mod cluster;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod inbound;
pub mod incident;
pub mod kb;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod playbook;
pub mod probe;
pub mod report;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod survey;
pub mod ticket;
pub mod token;
pub mod web;
pub mod words;

// Shared with the host agent, which is its own crate and binary (crates/forewarn-agent): the
// paths `crate::agent`, `crate::listener`, `crate::secret` and `crate::diag` stay as they were.
pub use forewarn_agent::{agent, diag, listener, secret};
