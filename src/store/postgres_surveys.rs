//! [`SurveyStore`](super::super::surveys::SurveyStore) for PostgreSQL: one pool for everything.

super::super::surveys::survey_store_impl!(super::PgStore, pool, pool);
