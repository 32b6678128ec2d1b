//! Searching tickets by what staff know: a ticket number, words of its title, the customer, the
//! problem kind, or a site — a check's id, name or target (`shop.acme.example` finds the
//! tickets of the checks that probe it).

use super::service::TicketService;
use crate::store::TicketSearch;

impl TicketService {
    /// The search for `text`, with the configured checks whose name or target contains it.
    pub fn search_for(&self, text: &str) -> TicketSearch {
        let config = self.config();
        let needle = text.trim().to_lowercase();
        let checks = if needle.is_empty() {
            Vec::new()
        } else {
            config
                .checks
                .iter()
                .filter(|c| {
                    c.name.to_lowercase().contains(&needle)
                        || c.spec.target().to_lowercase().contains(&needle)
                })
                .map(|c| c.id.as_str().to_owned())
                .collect()
        };
        TicketSearch {
            text: text.trim().to_owned(),
            checks,
        }
    }
}
