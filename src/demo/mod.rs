//! `forewarn demo`: a simulated customer fleet on loopback for forewarn to watch, so a newcomer
//! sees real failures caught with no setup. See [`fleet`] for what runs where.

pub mod fleet;

mod cert;
mod disk;
mod dns;
mod web;
