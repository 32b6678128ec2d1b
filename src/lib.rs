//! forewarn: proactive customer-success monitoring for hosting companies.
//!
//! See ARCHITECTURE.md for the map of modules and the path of one result.

pub mod access;
pub mod agent;
pub mod bench;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod diag;
pub mod inbound;
pub mod incident;
pub mod kb;
pub mod listener;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod playbook;
pub mod probe;
pub mod report;
pub mod scheduler;
pub mod secret;
pub mod server;
pub mod store;
pub mod survey;
pub mod ticket;
pub mod token;
pub mod web;
pub mod words;
