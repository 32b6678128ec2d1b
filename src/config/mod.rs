//! Configuration: raw serde structs → validated runtime types. See `load`.

pub mod diag;

pub use diag::{Diagnostic, Diagnostics, Source};
