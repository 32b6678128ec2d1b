//! One lock per customer, held while one of their reports is handled in this process, so two
//! reports of one customer arriving together join one ticket instead of opening two. Kept by
//! the ticket service (`service.rs`), taken by the report flow (`customer.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::model::CustomerId;

#[derive(Default)]
pub struct ReportLocks(Mutex<HashMap<CustomerId, Arc<tokio::sync::Mutex<()>>>>);

impl ReportLocks {
    pub(super) fn of(&self, customer: &CustomerId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.lock().expect("not poisoned");
        Arc::clone(locks.entry(customer.clone()).or_default())
    }
}
