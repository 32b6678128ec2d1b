//! The entries of the customer pages (`web::customer`), with the variables each may use. A
//! page template says `{{ t("pages.<key>", var=…) }}`.

use super::Entry;
// Register entries one a line: `e("pages.ticket.heading", &[Text("ticket")]),` (see `super::e`).

/// Every entry of the customer pages.
pub const ENTRIES: &[Entry] = &[];
