//! The PostgreSQL backend (not yet written).

use super::{Store, StoreError, redact_url};

pub(super) struct PgStore;

impl PgStore {
    pub(super) async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
        Err(StoreError::Unsupported {
            url: redact_url(url),
            reason: "the PostgreSQL store is not built yet; use sqlite://path/to/forewarn.db"
                .to_owned(),
        })
    }
}
