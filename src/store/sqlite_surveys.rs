//! [`SurveyStore`](super::super::surveys::SurveyStore) for SQLite: writes on the writer
//! connection, reads on the read-only pool.

super::super::surveys::survey_store_impl!(super::SqliteStore, writer, reader);
