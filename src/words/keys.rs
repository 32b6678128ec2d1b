//! The entries forewarn itself renders (everything but the customer pages, which are in
//! `pages.rs`), with the variables each may use.

use super::Var::{Count, Flag, Links, Text};
use super::{Entry, e};

const NONE: &[super::Var] = &[];

/// What a survey mail knows.
const SURVEY: &[super::Var] = &[
    Text("customer"),
    Text("ticket"),
    Text("title"),
    Text("resolved_on"),
    Flag("reminder"),
    Links("ratings"),
    Text("solved_yes"),
    Text("solved_no"),
    Text("ticket_url"),
    Text("unsubscribe"),
    Text("brand"),
    Text("phone"),
];

/// Every entry outside the pages.
pub const ENTRIES: &[Entry] = &[
    // --- common: units, dates, lists, durations, status words -----------------------------
    e("common.unit.second", &[Count("n")]),
    e("common.unit.minute", &[Count("n")]),
    e("common.unit.hour", &[Count("n")]),
    e("common.unit.day", &[Count("n")]),
    e("common.unit.site", &[Count("n")]),
    e("common.duration.about", &[Text("d")]),
    e("common.list.and", NONE),
    e(
        "common.date.day",
        &[Count("day"), Text("month"), Text("year")],
    ),
    e(
        "common.date.at",
        &[Text("date"), Text("time"), Text("zone")],
    ),
    e("common.month.m1", NONE),
    e("common.month.m2", NONE),
    e("common.month.m3", NONE),
    e("common.month.m4", NONE),
    e("common.month.m5", NONE),
    e("common.month.m6", NONE),
    e("common.month.m7", NONE),
    e("common.month.m8", NONE),
    e("common.month.m9", NONE),
    e("common.month.m10", NONE),
    e("common.month.m11", NONE),
    e("common.month.m12", NONE),
    e("common.status.new", NONE),
    e("common.status.acknowledged", NONE),
    e("common.status.in_progress", NONE),
    e("common.status.waiting_on_customer", NONE),
    e("common.status.resolved", NONE),
    e("common.status.closed", NONE),
    e("common.status.reopened", NONE),
    e("common.check.ok", NONE),
    e("common.check.warning", NONE),
    e("common.check.critical", NONE),
    e("common.check.unknown", NONE),
    // --- mail: the survey and its reminder ---------------------------------------------------
    e("mail.survey.subject", SURVEY),
    e("mail.survey.body", SURVEY),
    e("mail.survey.rating.r1", NONE),
    e("mail.survey.rating.r2", NONE),
    e("mail.survey.rating.r3", NONE),
    e("mail.survey.rating.r4", NONE),
    e("mail.survey.rating.r5", NONE),
    e("mail.survey.solved_yes", NONE),
    e("mail.survey.solved_no", NONE),
];
