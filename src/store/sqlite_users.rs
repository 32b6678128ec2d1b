//! [`UserStore`](super::super::users::UserStore) for SQLite: writes on the writer connection,
//! reads on the read-only pool.

super::super::users::user_store_impl!(super::SqliteStore, writer, reader);
