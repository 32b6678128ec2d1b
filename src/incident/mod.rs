//! The incident detector: turns the stream of check results into problems worth a ticket.
//!
//! - `track`: per-check state machine (N failures open, M passes close, flapping).
//! - `classify`: which playbook a failing result belongs to, and its evidence.
//! - `now`: what is going on, for staff: open incidents, maintenance, flapping checks.

pub mod classify;
pub mod detector;
pub mod evidence;
pub mod now;
pub mod track;

pub use classify::{Problem, classify};
pub use track::{Phase, Rules, Track, Transition};
