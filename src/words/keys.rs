//! The entries forewarn itself renders (everything but the customer pages, which are in
//! `pages.rs`), with the variables each may use.

use super::Entry;
use super::Var::{Count, Text};

const NONE: &[super::Var] = &[];

/// Every entry outside the pages.
pub const ENTRIES: &[Entry] = &[
    // --- common: units, dates, lists, durations, status words -----------------------------
    Entry {
        key: "common.unit.second",
        vars: &[Count("n")],
    },
    Entry {
        key: "common.unit.minute",
        vars: &[Count("n")],
    },
    Entry {
        key: "common.unit.hour",
        vars: &[Count("n")],
    },
    Entry {
        key: "common.unit.day",
        vars: &[Count("n")],
    },
    Entry {
        key: "common.unit.site",
        vars: &[Count("n")],
    },
    Entry {
        key: "common.duration.about",
        vars: &[Text("d")],
    },
    Entry {
        key: "common.list.and",
        vars: NONE,
    },
    Entry {
        key: "common.date.day",
        vars: &[Count("day"), Text("month"), Text("year")],
    },
    Entry {
        key: "common.date.at",
        vars: &[Text("date"), Text("time"), Text("zone")],
    },
    Entry {
        key: "common.month.m1",
        vars: NONE,
    },
    Entry {
        key: "common.month.m2",
        vars: NONE,
    },
    Entry {
        key: "common.month.m3",
        vars: NONE,
    },
    Entry {
        key: "common.month.m4",
        vars: NONE,
    },
    Entry {
        key: "common.month.m5",
        vars: NONE,
    },
    Entry {
        key: "common.month.m6",
        vars: NONE,
    },
    Entry {
        key: "common.month.m7",
        vars: NONE,
    },
    Entry {
        key: "common.month.m8",
        vars: NONE,
    },
    Entry {
        key: "common.month.m9",
        vars: NONE,
    },
    Entry {
        key: "common.month.m10",
        vars: NONE,
    },
    Entry {
        key: "common.month.m11",
        vars: NONE,
    },
    Entry {
        key: "common.month.m12",
        vars: NONE,
    },
    Entry {
        key: "common.status.new",
        vars: NONE,
    },
    Entry {
        key: "common.status.acknowledged",
        vars: NONE,
    },
    Entry {
        key: "common.status.in_progress",
        vars: NONE,
    },
    Entry {
        key: "common.status.waiting_on_customer",
        vars: NONE,
    },
    Entry {
        key: "common.status.resolved",
        vars: NONE,
    },
    Entry {
        key: "common.status.closed",
        vars: NONE,
    },
    Entry {
        key: "common.status.reopened",
        vars: NONE,
    },
    Entry {
        key: "common.check.ok",
        vars: NONE,
    },
    Entry {
        key: "common.check.warning",
        vars: NONE,
    },
    Entry {
        key: "common.check.critical",
        vars: NONE,
    },
    Entry {
        key: "common.check.unknown",
        vars: NONE,
    },
];
