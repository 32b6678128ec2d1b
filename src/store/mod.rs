//! The store: check state and history. A trait with SQLite (embedded default) behind it now and
//! PostgreSQL as its sibling.
