//! The entries of the customer pages (`web::customer`), with the variables each may use. A
//! page template says `{{ t("pages.<key>", var=…) }}`.

use super::Entry;

/// Every entry of the customer pages.
pub const ENTRIES: &[Entry] = &[];
