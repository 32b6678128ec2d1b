//! [`UserStore`](super::super::users::UserStore) for PostgreSQL: one pool for everything.

super::super::users::user_store_impl!(super::PgStore, pool, pool);
