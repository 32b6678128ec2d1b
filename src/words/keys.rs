//! The entries forewarn itself renders (everything but the customer pages, which are in
//! `pages.rs`), with the variables each may use.

use super::Var::{Count, Flag, Links, List, Text};
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

/// Every evidence sentence may name the site(s) and what is probed.
const SITE: &[super::Var] = &[Text("site"), Text("target")];

/// What a maintenance notice knows.
const MAINTENANCE: &[super::Var] = &[
    Text("customer"),
    Text("start"),
    Text("end"),
    Text("start_day"),
    Text("reason"),
    List("sites"),
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
    e("common.number.decimal", NONE),
    e("common.team", NONE),
    e("common.list.site_sep", NONE),
    e("common.list.site_and", NONE),
    // --- evidence: what monitoring saw, one sentence per kind of condition --------------------
    e("evidence.no_answer.resolve", SITE),
    e("evidence.no_answer.connect", SITE),
    e("evidence.no_answer.timeout", SITE),
    e("evidence.no_answer.tls_handshake", SITE),
    e("evidence.no_answer.protocol", SITE),
    e("evidence.no_answer.body", SITE),
    e("evidence.no_answer.ours", SITE),
    e(
        "evidence.status",
        &[
            Count("code"),
            Text("reason"),
            Flag("error"),
            Text("site"),
            Text("target"),
        ],
    ),
    e("evidence.http.c301", NONE),
    e("evidence.http.c302", NONE),
    e("evidence.http.c400", NONE),
    e("evidence.http.c401", NONE),
    e("evidence.http.c403", NONE),
    e("evidence.http.c404", NONE),
    e("evidence.http.c408", NONE),
    e("evidence.http.c429", NONE),
    e("evidence.http.c500", NONE),
    e("evidence.http.c501", NONE),
    e("evidence.http.c502", NONE),
    e("evidence.http.c503", NONE),
    e("evidence.http.c504", NONE),
    e(
        "evidence.body_missing",
        &[Text("text"), Text("site"), Text("target")],
    ),
    e(
        "evidence.body_unwanted",
        &[Text("text"), Text("site"), Text("target")],
    ),
    e(
        "evidence.header",
        &[Text("name"), Text("site"), Text("target")],
    ),
    e(
        "evidence.slow",
        &[Text("took"), Text("site"), Text("target")],
    ),
    e(
        "evidence.dns",
        &[Text("got"), Text("expected"), Text("site"), Text("target")],
    ),
    e("evidence.certificate_untrusted", SITE),
    e(
        "evidence.certificate_name",
        &[Text("host"), Text("site"), Text("target")],
    ),
    e(
        "evidence.certificate_expired",
        &[Text("date"), Flag("expired"), Text("site"), Text("target")],
    ),
    e(
        "evidence.certificate_expires",
        &[Text("date"), Text("days"), Text("site"), Text("target")],
    ),
    e(
        "evidence.disk",
        &[
            Text("mount"),
            Text("percent"),
            Flag("inodes"),
            Text("site"),
            Text("target"),
        ],
    ),
    e(
        "evidence.fills_up",
        &[
            Text("what"),
            Text("within"),
            Text("date"),
            Text("site"),
            Text("target"),
        ],
    ),
    e(
        "evidence.quota",
        &[
            Text("account"),
            Text("percent"),
            Text("site"),
            Text("target"),
        ],
    ),
    e(
        "evidence.flapping",
        &[
            Count("changes"),
            Text("window"),
            Text("site"),
            Text("target"),
        ],
    ),
    e("evidence.unclear", SITE),
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
    // --- mail: what forewarn writes into a ticket itself, and maintenance notices ----------
    e("mail.queued", &[Text("taken_by")]),
    e(
        "mail.joined",
        &[Text("sites"), Flag("many"), List("evidence")],
    ),
    e("mail.unstable", &[Text("site")]),
    e("mail.outage", &[Text("site")]),
    e("mail.reopened_by_reply", NONE),
    e("mail.priority_raised", &[Text("next_update")]),
    e("mail.still_failing", NONE),
    e("mail.read_more", &[Text("title"), Text("url")]),
    e("mail.maintenance.subject", MAINTENANCE),
    e("mail.maintenance.body", MAINTENANCE),
];
