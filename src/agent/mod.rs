//! The forewarn host agent: a small read-only HTTP API on a customer server reporting disk,
//! inode and per-account quota usage.
