//! The entries of the customer pages (`web::customer`), with the variables each may use. A
//! page template says `{{ t("pages.<key>", var=…) }}`; the words are in
//! `playbooks/words/<lang>/pages.toml`.

use super::Entry;
use super::Var::{Count, Text};

const NONE: &[super::Var] = &[];

/// Every entry of the customer pages.
pub const ENTRIES: &[Entry] = &[
    Entry {
        key: "pages.frame.support",
        vars: NONE,
    },
    Entry {
        key: "pages.frame.decimal_point",
        vars: NONE,
    },
    Entry {
        key: "pages.common.back",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.title",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.question",
        vars: &[Count("ticket"), Text("title")],
    },
    Entry {
        key: "pages.survey.rating",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.rating_1",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.rating_2",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.rating_3",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.rating_4",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.rating_5",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.solved",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.solved_yes",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.solved_no",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.comment",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.send",
        vars: NONE,
    },
    Entry {
        key: "pages.survey.nothing_yet",
        vars: NONE,
    },
    Entry {
        key: "pages.answered.title",
        vars: NONE,
    },
    Entry {
        key: "pages.answered.heading",
        vars: NONE,
    },
    Entry {
        key: "pages.answered.reopened",
        vars: NONE,
    },
    Entry {
        key: "pages.answered.callback",
        vars: NONE,
    },
    Entry {
        key: "pages.answered.more",
        vars: NONE,
    },
    Entry {
        key: "pages.answered.send",
        vars: NONE,
    },
    Entry {
        key: "pages.answered.commented",
        vars: NONE,
    },
    Entry {
        key: "pages.unsubscribe.title",
        vars: NONE,
    },
    Entry {
        key: "pages.unsubscribe.heading",
        vars: NONE,
    },
    Entry {
        key: "pages.unsubscribe.explain",
        vars: NONE,
    },
    Entry {
        key: "pages.unsubscribe.button",
        vars: NONE,
    },
    Entry {
        key: "pages.unsubscribe.done_title",
        vars: NONE,
    },
    Entry {
        key: "pages.unsubscribe.done_heading",
        vars: NONE,
    },
    Entry {
        key: "pages.unsubscribe.done_explain",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.title",
        vars: &[Count("ticket")],
    },
    Entry {
        key: "pages.ticket.number",
        vars: &[Count("ticket")],
    },
    Entry {
        key: "pages.ticket.added",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.status",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.opened",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.next_update",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.resolution",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.cause",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.action",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.fully_solved",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.fully_solved_yes",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.fully_solved_no",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.prevention",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.options",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.pros",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.cons",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.timeline",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.write",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.send",
        vars: NONE,
    },
    Entry {
        key: "pages.ticket.close",
        vars: NONE,
    },
    Entry {
        key: "pages.event.created",
        vars: NONE,
    },
    Entry {
        key: "pages.event.auto_ack",
        vars: NONE,
    },
    Entry {
        key: "pages.event.acknowledged",
        vars: NONE,
    },
    Entry {
        key: "pages.event.work_started",
        vars: NONE,
    },
    Entry {
        key: "pages.event.status",
        vars: &[Text("status")],
    },
    Entry {
        key: "pages.event.asked_to_close",
        vars: NONE,
    },
    Entry {
        key: "pages.event.resolved",
        vars: NONE,
    },
    Entry {
        key: "pages.event.auto_resolved",
        vars: NONE,
    },
    Entry {
        key: "pages.event.closed",
        vars: NONE,
    },
    Entry {
        key: "pages.event.reopened",
        vars: NONE,
    },
    Entry {
        key: "pages.event.automatic_update",
        vars: NONE,
    },
    Entry {
        key: "pages.event.next_update",
        vars: &[Text("at")],
    },
    Entry {
        key: "pages.actor.monitoring",
        vars: NONE,
    },
    Entry {
        key: "pages.actor.support",
        vars: NONE,
    },
    Entry {
        key: "pages.checks.title",
        vars: NONE,
    },
    Entry {
        key: "pages.checks.heading",
        vars: &[Text("customer")],
    },
    Entry {
        key: "pages.checks.none",
        vars: NONE,
    },
    Entry {
        key: "pages.checks.since",
        vars: NONE,
    },
    Entry {
        key: "pages.checks.uptime",
        vars: NONE,
    },
    Entry {
        key: "pages.checks.uptime_value",
        vars: &[Text("percent")],
    },
    Entry {
        key: "pages.checks.no_uptime",
        vars: NONE,
    },
    Entry {
        key: "pages.checks.report",
        vars: NONE,
    },
    Entry {
        key: "pages.checks.which",
        vars: NONE,
    },
    Entry {
        key: "pages.checks.other",
        vars: NONE,
    },
    Entry {
        key: "pages.checks.subject",
        vars: NONE,
    },
    Entry {
        key: "pages.checks.what",
        vars: NONE,
    },
    Entry {
        key: "pages.checks.send",
        vars: NONE,
    },
    Entry {
        key: "pages.limited.report_title",
        vars: NONE,
    },
    Entry {
        key: "pages.limited.reply_title",
        vars: NONE,
    },
    Entry {
        key: "pages.limited.report_heading",
        vars: NONE,
    },
    Entry {
        key: "pages.limited.reply_heading",
        vars: NONE,
    },
    Entry {
        key: "pages.limited.earlier",
        vars: NONE,
    },
    Entry {
        key: "pages.limited.earlier_ticket",
        vars: &[Count("ticket"), Text("title")],
    },
    Entry {
        key: "pages.limited.link_reports",
        vars: &[Count("limit"), Text("per")],
    },
    Entry {
        key: "pages.limited.link_replies",
        vars: &[Count("limit"), Text("per")],
    },
    Entry {
        key: "pages.limited.customer_reports",
        vars: &[Count("limit"), Text("per")],
    },
    Entry {
        key: "pages.limited.customer_replies",
        vars: &[Count("limit"), Text("per")],
    },
    Entry {
        key: "pages.limited.next",
        vars: &[Text("at"), Text("wait")],
    },
    Entry {
        key: "pages.limited.written_back",
        vars: NONE,
    },
    Entry {
        key: "pages.limited.urgent",
        vars: &[Text("phone")],
    },
    Entry {
        key: "pages.not_saved.title",
        vars: NONE,
    },
    Entry {
        key: "pages.not_saved.explain",
        vars: &[Text("phone")],
    },
    Entry {
        key: "pages.invalid.title",
        vars: NONE,
    },
    Entry {
        key: "pages.invalid.rating",
        vars: NONE,
    },
    Entry {
        key: "pages.invalid.no_choice",
        vars: NONE,
    },
    Entry {
        key: "pages.invalid.subject",
        vars: &[Count("max")],
    },
    Entry {
        key: "pages.invalid.text",
        vars: &[Count("max")],
    },
    Entry {
        key: "pages.invalid.comment",
        vars: &[Count("max")],
    },
    Entry {
        key: "pages.invalid.answer",
        vars: NONE,
    },
    Entry {
        key: "pages.refused.title",
        vars: NONE,
    },
    Entry {
        key: "pages.refused.invalid",
        vars: NONE,
    },
    Entry {
        key: "pages.refused.not_ours",
        vars: NONE,
    },
    Entry {
        key: "pages.refused.time_limited",
        vars: NONE,
    },
    Entry {
        key: "pages.refused.withdrawn_heading",
        vars: NONE,
    },
    Entry {
        key: "pages.refused.withdrawn",
        vars: NONE,
    },
    Entry {
        key: "pages.refused.answered",
        vars: NONE,
    },
    Entry {
        key: "pages.refused.cross_site",
        vars: NONE,
    },
    Entry {
        key: "pages.refused.help",
        vars: &[Text("phone")],
    },
    Entry {
        key: "pages.refused.unavailable",
        vars: NONE,
    },
    Entry {
        key: "pages.refused.try_later",
        vars: NONE,
    },
    Entry {
        key: "pages.refused.failed",
        vars: &[Text("phone")],
    },
];
