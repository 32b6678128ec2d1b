//! Reading rows of both backends: typed cell access by column index ([`Cells`]) and the
//! errors and conversions every table's reader shares.

use chrono::{DateTime, Utc};

use super::{StoreError, from_ms};

/// Typed cell access by column index, for the row types of both backends.
pub(super) trait Cells {
    fn int(&self, i: usize) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, sqlx::Error>;
    fn text(&self, i: usize) -> Result<String, sqlx::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, sqlx::Error>;
    fn flag(&self, i: usize) -> Result<bool, sqlx::Error>;
}

macro_rules! impl_cells {
    ($row:ty) => {
        impl Cells for $row {
            fn int(&self, i: usize) -> Result<i64, sqlx::Error> {
                sqlx::Row::try_get(self, i)
            }
            fn opt_int(&self, i: usize) -> Result<Option<i64>, sqlx::Error> {
                sqlx::Row::try_get(self, i)
            }
            fn text(&self, i: usize) -> Result<String, sqlx::Error> {
                sqlx::Row::try_get(self, i)
            }
            fn opt_text(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
                sqlx::Row::try_get(self, i)
            }
            fn flag(&self, i: usize) -> Result<bool, sqlx::Error> {
                sqlx::Row::try_get(self, i)
            }
        }
    };
}

impl_cells!(sqlx::sqlite::SqliteRow);
impl_cells!(sqlx::postgres::PgRow);

pub(super) fn corrupt(table: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        table,
        reason: e.to_string(),
    }
}

pub(super) fn opt_from_ms(
    table: &'static str,
    ms: Option<i64>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(|ms| from_ms(table, ms)).transpose()
}
