//! forewarn: proactive customer-success monitoring for hosting companies.
//!
//! See ARCHITECTURE.md for the map of modules and the path of one result.

pub mod agent;
pub mod config;
pub mod model;
pub mod probe;
pub mod secret;
pub mod store;
pub mod metrics;
pub mod scheduler;
