//! The ticket store's specification: tickets and timelines, the transactional outbox,
//! incidents and detector state. One suite of `suite_*` functions, each run against every
//! backend.

#[allow(dead_code)]
#[path = "support/store.rs"]
#[macro_use]
mod support_store;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use forewarn::model::CustomerId;
use forewarn::model::Language;
use forewarn::notify::{Button, Channel, MailExtras, MessageStatus, NewMessage, OutboxMessage};
use forewarn::store::{
    self, FirstWords, NewEvent, NewTicket, OutboxFilter, Store, StoreError, TicketCursor,
    TicketFilter, TicketSearch,
};
use forewarn::ticket::{
    Actor, EventKind, Origin, Resolution, Severity, SlaTarget, SolutionOption, Ticket, TicketId,
    TicketStatus, TimelineEvent,
};
use serde_json::json;

use support_store::{at, check_id, t0};

for_each_backend!(
    suite_created_ticket_round_trips_with_its_first_words,
    suite_create_writes_nothing_when_any_part_fails,
    suite_save_writes_ticket_events_and_messages_together,
    suite_save_with_a_stale_status_conflicts_and_writes_nothing,
    suite_save_of_a_stale_copy_conflicts_even_with_the_same_status,
    suite_a_tickets_messages_are_claimed_in_order,
    suite_ticket_list_filters_newest_first,
    suite_ticket_pages_cover_every_ticket_once_and_search_finds_them,
    suite_latest_ticket_for_a_check,
    suite_queuing_a_key_twice_keeps_one_message,
    suite_concurrent_claimers_never_share_a_message,
    suite_expired_lease_makes_a_message_claimable_again,
    suite_delivered_message_is_never_claimed_again,
    suite_failed_message_waits_for_its_retry_time,
    suite_dead_message_stays_until_retried,
    suite_incidents_open_update_and_close,
    suite_detector_state_upserts_and_reads_back,
    suite_one_open_ticket_per_customer_and_incident,
    suite_counts_for_metrics,
);

// ---------------------------------------------------------------------------------------------
// Builders.

fn customer(s: &str) -> CustomerId {
    CustomerId::parse(s).unwrap()
}

/// A monitoring ticket of `customer` for `checks`, created at `created`, with SLA due times.
/// `timelines` (what the KPIs read) keeps timelines between reads and adds what was appended
/// since, by this handle or by another instance on the same database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timelines_of_many_see_what_is_appended_after_a_first_read_sqlite() {
    forewarn::probe::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let url = support_store::sqlite_url(&dir);
    let one = forewarn::store::open(&url).await.unwrap();
    let other = forewarn::store::open(&url).await.unwrap();
    timelines_of_many_see_what_is_appended_after_a_first_read(one, other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timelines_of_many_see_what_is_appended_after_a_first_read_postgres() {
    forewarn::probe::install_crypto_provider();
    let (one, schema) = support_store::postgres_store().await;
    let other = schema.open_again().await;
    timelines_of_many_see_what_is_appended_after_a_first_read(one, other).await;
    schema.drop().await;
}

async fn timelines_of_many_see_what_is_appended_after_a_first_read(
    one: Arc<dyn Store>,
    other: Arc<dyn Store>,
) {
    let a = create(&*one, new_ticket("acme", &["shop.http"], at(0))).await;
    let b = create(&*one, new_ticket("globex", &["api.http"], at(1))).await;
    let kinds = |m: &std::collections::HashMap<TicketId, Vec<TimelineEvent>>, id: TicketId| {
        m.get(&id)
            .map(|events| {
                events
                    .iter()
                    .map(|e| (e.at, e.kind.clone()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    // Read (and held) while the timelines are as created.
    let first = one.timelines(&[a.id, b.id]).await.unwrap();
    for id in [a.id, b.id] {
        assert_eq!(
            kinds(&first, id),
            kinds_of(&one.timeline(id).await.unwrap())
        );
    }

    // Appended by this handle, by the other instance, and one dated before the last event.
    let mut t = one.ticket(a.id).await.unwrap().unwrap();
    t.status = TicketStatus::Acknowledged;
    one.save_ticket(
        &t,
        TicketStatus::New,
        vec![event(5, staff("anna"), false, EventKind::Acknowledged)],
        vec![],
        at(5),
    )
    .await
    .unwrap();
    let mut u = other.ticket(b.id).await.unwrap().unwrap();
    let note = |text: &str| EventKind::InternalNote {
        text: text.to_owned(),
    };
    other
        .save_ticket(
            &u,
            u.status,
            vec![event(
                7,
                staff("bob"),
                false,
                note("from the other instance"),
            )],
            vec![],
            at(7),
        )
        .await
        .unwrap();
    u.version += 1;
    other
        .save_ticket(
            &u,
            u.status,
            vec![event(-30, staff("bob"), false, note("backdated"))],
            vec![],
            at(8),
        )
        .await
        .unwrap();
    for _ in 0..2 {
        let again = one.timelines(&[a.id, b.id]).await.unwrap();
        for id in [a.id, b.id] {
            assert_eq!(
                kinds(&again, id),
                kinds_of(&other.timeline(id).await.unwrap()),
                "ticket {id} as read whole"
            );
        }
    }
    let b_kinds = kinds(&one.timelines(&[b.id]).await.unwrap(), b.id);
    assert_eq!(
        b_kinds.len(),
        kinds_of(&other.timeline(b.id).await.unwrap()).len()
    );
    assert!(
        b_kinds
            .iter()
            .any(|(_, k)| *k == note("from the other instance"))
    );
}

fn kinds_of(events: &[TimelineEvent]) -> Vec<(DateTime<Utc>, EventKind)> {
    events.iter().map(|e| (e.at, e.kind.clone())).collect()
}

fn new_ticket(customer_id: &str, checks: &[&str], created: DateTime<Utc>) -> NewTicket {
    NewTicket {
        customer: customer(customer_id),
        title: format!("{} is down", checks.first().copied().unwrap_or("site")),
        problem: "site_down".to_owned(),
        severity: Severity::P2,
        origin: Origin::Monitoring,
        checks: checks.iter().map(|c| check_id(c)).collect(),
        incident: None,
        assignee: None,
        skill_group: "web".to_owned(),
        created_at: created,
        ack_due: Some(created + chrono::Duration::minutes(15)),
        first_update_due: Some(created + chrono::Duration::minutes(30)),
        resolve_due: Some(created + chrono::Duration::hours(4)),
        next_update_due: Some(created + chrono::Duration::minutes(30)),
    }
}

fn no_words() -> FirstWords {
    Box::new(|_| (Vec::new(), Vec::new()))
}

/// An e-mail to `to`, keyed `key`.
fn mail(key: &str, ticket: Option<TicketId>, to: &str) -> NewMessage {
    NewMessage {
        key: key.to_owned(),
        ticket,
        channel: Channel::Email {
            to: vec![to.to_owned()],
        },
        subject: format!("subject of {key}"),
        body: format!("body of {key}: what we see, what we do, when you hear next"),
        message_id: format!("<{key}@forewarn.test>"),
        extras: MailExtras {
            language: Some(Language::Ru),
            buttons: vec![Button {
                label: "Да, решена".to_owned(),
                url: format!("https://forewarn.test/c/s/{key}"),
            }],
            unsubscribe: Some("https://forewarn.test/c/u/x".to_owned()),
            personal: false,
        },
    }
}

fn event(minutes: i64, actor: Actor, public: bool, kind: EventKind) -> NewEvent {
    NewEvent {
        at: at(minutes),
        actor,
        public,
        kind,
    }
}

fn staff(name: &str) -> Actor {
    Actor::Staff(name.to_owned())
}

/// One event of every kind, a minute apart from `from` on, with every kind of actor.
fn every_event_kind(from: i64) -> Vec<NewEvent> {
    let kinds = vec![
        EventKind::Created,
        EventKind::AutoAckQueued,
        EventKind::Acknowledged,
        EventKind::WorkStarted,
        EventKind::PublicUpdate {
            text: "We see HTTP 502 from https://shop.example/ — «upstream» down ✗".to_owned(),
            next_update: Some(at(60) + chrono::Duration::milliseconds(1)),
        },
        EventKind::PublicUpdate {
            text: "No promise this time".to_owned(),
            next_update: None,
        },
        EventKind::InternalNote {
            text: "php-fpm pool exhausted\nrestarted it".to_owned(),
        },
        EventKind::StatusChanged {
            from: TicketStatus::New,
            to: TicketStatus::WaitingOnCustomer,
        },
        EventKind::CustomerAskedToClose,
        EventKind::Resolved {
            resolution: Resolution {
                cause: "The disk filled with logs".to_owned(),
                action: "Rotated and compressed them".to_owned(),
                fully_solved: false,
                prevention: "Enable logrotate".to_owned(),
                options: vec![SolutionOption {
                    title: "Bigger disk".to_owned(),
                    pros: "No more alerts".to_owned(),
                    cons: "Costs more".to_owned(),
                }],
                resolved_while_failing: None,
            },
        },
        EventKind::AutoResolved {
            text: "The site answers again".to_owned(),
        },
        EventKind::Closed,
        EventKind::Assigned {
            from: None,
            to: Some("ann".to_owned()),
        },
        EventKind::Reopened {
            reason: "Failed again within 7 days".to_owned(),
        },
        EventKind::SeverityChanged {
            from: Severity::P4,
            to: Severity::P1,
            reason: "full in ~4 minutes: «срочно»".to_owned(),
        },
        EventKind::SkillGroupChanged {
            from: "web".to_owned(),
            to: "hosting".to_owned(),
            reason: "a quota, not the site".to_owned(),
        },
        EventKind::SlaWarning {
            target: SlaTarget::Acknowledge,
            due: at(15),
        },
        EventKind::SlaBreach {
            target: SlaTarget::NextUpdate,
            due: at(30),
        },
        EventKind::AutomaticUpdate {
            next_update: at(90),
        },
        EventKind::MailDelivered {
            message_id: "<a@forewarn.test>".to_owned(),
            to: vec!["ops@acme.test".to_owned(), "boss@acme.test".to_owned()],
        },
        EventKind::MailFailed {
            message_id: "<a@forewarn.test>".to_owned(),
            error: "550 mailbox unavailable".to_owned(),
        },
        EventKind::SurveySent { survey: 3 },
        EventKind::SurveyAnswered {
            survey: 3,
            rating: Some(2),
            solved: Some(false),
            comment: Some("still slow «по вечерам»".to_owned()),
            credited_to: Some("anna".to_owned()),
        },
        EventKind::SurveyCommented {
            survey: 3,
            text: "thanks".to_owned(),
        },
        EventKind::CallbackLogged {
            task: 1,
            outcome: "called; happy now".to_owned(),
        },
        EventKind::MailReceived {
            mailbox: "support".to_owned(),
            uidvalidity: 1_700_000_000,
            uid: 42,
            from: "it@acme.example".to_owned(),
            subject: "Re: «shop» down [#7]".to_owned(),
            attachments: vec![forewarn::ticket::model::MailAttachment {
                name: "error log.txt".to_owned(),
                size: 11,
            }],
        },
        EventKind::TimeSpent {
            minutes: 90,
            with: forewarn::ticket::model::LoggedWith::Resolution,
        },
    ];
    let names: BTreeSet<&str> = kinds.iter().map(kind_name).collect();
    assert_eq!(names.len(), EVENT_KINDS, "one event of every kind");
    let actors = [
        Actor::System,
        staff("anna"),
        Actor::Customer("bob@acme.test".to_owned()),
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| {
            let actor = actors[i % actors.len()].clone();
            event(from + i as i64, actor, i % 2 == 0, kind)
        })
        .collect()
}

/// How many kinds of event there are: [`kind_name`] matches them all, so a new kind fails to
/// compile here until it is named (and then [`every_event_kind`] until it has one).
const EVENT_KINDS: usize = 26;

fn kind_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Created => "created",
        EventKind::AutoAckQueued => "auto_ack_queued",
        EventKind::Acknowledged => "acknowledged",
        EventKind::WorkStarted => "work_started",
        EventKind::PublicUpdate { .. } => "public_update",
        EventKind::InternalNote { .. } => "internal_note",
        EventKind::StatusChanged { .. } => "status_changed",
        EventKind::CustomerAskedToClose => "customer_asked_to_close",
        EventKind::Resolved { .. } => "resolved",
        EventKind::AutoResolved { .. } => "auto_resolved",
        EventKind::Closed => "closed",
        EventKind::Reopened { .. } => "reopened",
        EventKind::Assigned { .. } => "assigned",
        EventKind::SlaWarning { .. } => "sla_warning",
        EventKind::SlaBreach { .. } => "sla_breach",
        EventKind::AutomaticUpdate { .. } => "automatic_update",
        EventKind::MailDelivered { .. } => "mail_delivered",
        EventKind::MailFailed { .. } => "mail_failed",
        EventKind::SurveySent { .. } => "survey_sent",
        EventKind::SurveyAnswered { .. } => "survey_answered",
        EventKind::SurveyCommented { .. } => "survey_commented",
        EventKind::CallbackLogged { .. } => "callback_logged",
        EventKind::MailReceived { .. } => "mail_received",
        EventKind::SeverityChanged { .. } => "severity_changed",
        EventKind::SkillGroupChanged { .. } => "skill_group_changed",
        EventKind::TimeSpent { .. } => "time_spent",
    }
}

fn events_of(ticket: TicketId, events: &[NewEvent]) -> Vec<TimelineEvent> {
    events
        .iter()
        .cloned()
        .map(|e| e.into_event(ticket))
        .collect()
}

fn keys(messages: &[OutboxMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.key.as_str()).collect()
}

fn ids(tickets: &[Ticket]) -> Vec<TicketId> {
    tickets.iter().map(|t| t.id).collect()
}

async fn create(store: &dyn Store, new: NewTicket) -> Ticket {
    store.create_ticket(new, no_words()).await.unwrap()
}

async fn outbox_all(store: &dyn Store) -> Vec<OutboxMessage> {
    store.outbox(&OutboxFilter::default()).await.unwrap()
}

/// Queues ops messages `ops-0` … `ops-{n-1}` (no ticket) at t0.
async fn queue_ops_messages(store: &dyn Store, n: usize) {
    let messages = (0..n)
        .map(|i| mail(&format!("ops-{i}"), None, "ops@host.test"))
        .collect();
    store.enqueue(messages, t0()).await.unwrap();
}

const LEASE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Tickets.

async fn suite_created_ticket_round_trips_with_its_first_words(store: Arc<dyn Store>) {
    let mut new = new_ticket("acme", &["shop.http", "shop.tls"], at(0));
    new.incident = Some(42);
    new.assignee = Some("anna".to_owned());
    new.severity = Severity::P1;
    new.origin = Origin::Customer;
    let first_events = every_event_kind(0);
    let words_events = first_events.clone();
    let words: FirstWords = Box::new(move |t: &Ticket| {
        // The messages carry the ticket's number: the id is known by now.
        let messages = vec![
            mail(
                &format!("ticket-{}/opened", t.id.0),
                Some(t.id),
                "bob@acme.test",
            ),
            mail(
                &format!("ticket-{}/ops", t.id.0),
                Some(t.id),
                "ops@host.test",
            ),
        ];
        (words_events, messages)
    });
    let ticket = store.create_ticket(new.clone(), words).await.unwrap();

    let expected = Ticket {
        id: ticket.id,
        customer: customer("acme"),
        title: new.title.clone(),
        problem: "site_down".to_owned(),
        severity: Severity::P1,
        status: TicketStatus::New,
        origin: Origin::Customer,
        checks: vec![check_id("shop.http"), check_id("shop.tls")],
        incident: Some(42),
        assignee: Some("anna".to_owned()),
        skill_group: "web".to_owned(),
        created_at: at(0),
        acknowledged_at: None,
        first_update_at: None,
        resolved_at: None,
        closed_at: None,
        ack_due: new.ack_due,
        first_update_due: new.first_update_due,
        resolve_due: new.resolve_due,
        next_update_due: new.next_update_due,
        paused_since: None,
        reopen_count: 0,
        version: 0,
    };
    assert_eq!(ticket, expected);
    assert_eq!(store.ticket(ticket.id).await.unwrap(), Some(expected));
    assert_eq!(
        store.timeline(ticket.id).await.unwrap(),
        events_of(ticket.id, &first_events)
    );

    let queued = store
        .outbox(&OutboxFilter {
            ticket: Some(ticket.id),
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    let n = ticket.id.0;
    assert_eq!(
        keys(&queued),
        vec![format!("ticket-{n}/ops"), format!("ticket-{n}/opened")]
    );
    let opened = &queued[1];
    assert_eq!(
        (
            opened.status,
            opened.attempts,
            opened.created_at,
            opened.next_attempt_at
        ),
        (MessageStatus::Pending, 0, at(0), at(0))
    );
    assert_eq!(
        (
            &opened.channel,
            opened.subject.as_str(),
            opened.message_id.as_str()
        ),
        (
            &Channel::Email {
                to: vec!["bob@acme.test".to_owned()]
            },
            format!("subject of ticket-{n}/opened").as_str(),
            format!("<ticket-{n}/opened@forewarn.test>").as_str()
        )
    );
    assert_eq!((opened.delivered_at, &opened.last_error), (None, &None));
    // What the HTML part and the headers need comes back as it was queued.
    assert_eq!(
        opened.extras,
        mail(&format!("ticket-{n}/opened"), None, "").extras
    );

    // Nothing else exists.
    assert_eq!(store.ticket(TicketId(n + 1000)).await.unwrap(), None);
    assert!(store.timeline(TicketId(n + 1000)).await.unwrap().is_empty());
}

async fn suite_create_writes_nothing_when_any_part_fails(store: Arc<dyn Store>) {
    // The second message names a ticket that does not exist: its insert fails after the
    // ticket, its checks, its events and the first message were written.
    let words: FirstWords = Box::new(|t: &Ticket| {
        let events = vec![event(0, Actor::System, false, EventKind::Created)];
        let messages = vec![
            mail("opened", Some(t.id), "bob@acme.test"),
            mail("broken", Some(TicketId(t.id.0 + 1000)), "bob@acme.test"),
        ];
        (events, messages)
    });
    let err = store
        .create_ticket(new_ticket("acme", &["shop.http"], at(0)), words)
        .await
        .expect_err("a message for a missing ticket must fail");
    assert!(matches!(err, StoreError::Query { .. }), "{err:?}");

    assert!(
        store
            .tickets(&TicketFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(outbox_all(&*store).await.is_empty());
    assert_eq!(
        store
            .latest_ticket_for_check(&check_id("shop.http"))
            .await
            .unwrap(),
        None
    );

    // The store is still fine afterwards.
    let t = create(&*store, new_ticket("acme", &["shop.http"], at(1))).await;
    assert_eq!(store.ticket(t.id).await.unwrap(), Some(t.clone()));
    assert!(store.timeline(t.id).await.unwrap().is_empty());
}

async fn suite_save_writes_ticket_events_and_messages_together(store: Arc<dyn Store>) {
    let created = create(&*store, new_ticket("acme", &["shop.http"], at(0))).await;
    let mut t = created.clone();
    t.status = TicketStatus::WaitingOnCustomer;
    t.acknowledged_at = Some(at(5));
    t.first_update_at = Some(at(6));
    t.assignee = Some("anna".to_owned());
    t.severity = Severity::P3;
    t.checks.push(check_id("shop.dns"));
    t.next_update_due = None;
    t.paused_since = Some(at(6));
    t.reopen_count = 2;
    t.title = "Shop: HTTP 502 — «upstream»".to_owned();
    let events = vec![
        event(5, staff("anna"), false, EventKind::Acknowledged),
        event(
            6,
            staff("anna"),
            true,
            EventKind::StatusChanged {
                from: TicketStatus::New,
                to: TicketStatus::WaitingOnCustomer,
            },
        ),
    ];
    let update = mail("ticket/update-1", Some(t.id), "bob@acme.test");
    store
        .save_ticket(
            &t,
            TicketStatus::New,
            events.clone(),
            vec![update.clone()],
            at(6),
        )
        .await
        .unwrap();
    t.version += 1; // every save bumps it

    assert_eq!(store.ticket(t.id).await.unwrap(), Some(t.clone()));
    assert_eq!(
        store.timeline(t.id).await.unwrap(),
        events_of(t.id, &events)
    );
    let queued = outbox_all(&*store).await;
    assert_eq!(keys(&queued), vec!["ticket/update-1"]);
    assert_eq!(
        (queued[0].created_at, queued[0].next_attempt_at),
        (at(6), at(6))
    );
    // The new check leads to the ticket.
    assert_eq!(
        store
            .latest_ticket_for_check(&check_id("shop.dns"))
            .await
            .unwrap()
            .map(|x| x.id),
        Some(t.id)
    );

    // Every field goes back, also to none.
    let mut back = t.clone();
    back.status = TicketStatus::Resolved;
    back.assignee = None;
    back.paused_since = None;
    back.checks = vec![check_id("shop.tls")];
    back.resolved_at = Some(at(30));
    back.closed_at = Some(at(31));
    store
        .save_ticket(
            &back,
            TicketStatus::WaitingOnCustomer,
            Vec::new(),
            Vec::new(),
            at(31),
        )
        .await
        .unwrap();
    back.version += 1;
    assert_eq!(store.ticket(t.id).await.unwrap(), Some(back));
    assert_eq!(
        store
            .latest_ticket_for_check(&check_id("shop.http"))
            .await
            .unwrap(),
        None,
        "a check no longer on the ticket does not lead to it"
    );
}

/// Two staff actions on copies read at the same version, neither changing the status (an
/// assignment and a public update): the second is refused, its fields, events and mail
/// written nowhere — never a silent overwrite of the first.
async fn suite_save_of_a_stale_copy_conflicts_even_with_the_same_status(store: Arc<dyn Store>) {
    let created = create(&*store, new_ticket("acme", &["shop.http"], at(0))).await;
    let mut anna = created.clone();
    anna.assignee = Some("anna".to_owned());
    store
        .save_ticket(&anna, TicketStatus::New, vec![], vec![], at(1))
        .await
        .unwrap();
    let mut ben = created.clone();
    ben.severity = Severity::P1;
    let err = store
        .save_ticket(
            &ben,
            TicketStatus::New,
            vec![event(2, staff("ben"), true, EventKind::WorkStarted)],
            vec![mail("ticket/update-v0", Some(created.id), "bob@acme.test")],
            at(2),
        )
        .await
        .expect_err("a copy read before anna's save must conflict");
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let now = store.ticket(created.id).await.unwrap().unwrap();
    assert_eq!(now.assignee.as_deref(), Some("anna"), "anna's change stays");
    assert_eq!(
        now.severity, created.severity,
        "ben's change is not written"
    );
    assert_eq!(now.version, created.version + 1);
    assert!(
        outbox_all(&*store).await.is_empty(),
        "ben's mail is not queued"
    );
}

/// A ticket's messages leave in the order they were written: a later one is not claimed while
/// an earlier one is pending (claimed, or waiting for its retry); messages without a ticket and
/// other tickets' messages are not held up.
async fn suite_a_tickets_messages_are_claimed_in_order(store: Arc<dyn Store>) {
    let t = create(&*store, new_ticket("acme", &["shop.http"], at(0))).await;
    let other = create(&*store, new_ticket("globex", &["www.http"], at(0))).await;
    store
        .enqueue(
            vec![
                mail("ticket/opened", Some(t.id), "bob@acme.test"),
                mail("ticket/resolved", Some(t.id), "bob@acme.test"),
                mail("other/opened", Some(other.id), "it@globex.test"),
                mail("ops", None, "noc@host.test"),
            ],
            at(0),
        )
        .await
        .unwrap();
    let first = store.claim_due(at(1), 10, LEASE).await.unwrap();
    let mut got = keys(&first);
    got.sort();
    assert_eq!(got, vec!["ops", "other/opened", "ticket/opened"]);
    for m in first.iter().filter(|m| m.key != "ticket/opened") {
        store.mark_delivered(m.id, at(1)).await.unwrap();
    }
    // "opened" fails and waits for its retry: "resolved" still waits behind it.
    let opened = first.iter().find(|m| m.key == "ticket/opened").unwrap();
    store
        .mark_failed(opened.id, at(1), "451 try later", Some(at(5)))
        .await
        .unwrap();
    assert!(keys(&store.claim_due(at(2), 10, LEASE).await.unwrap()).is_empty());
    // Retried and delivered: now "resolved" may go.
    let again = store.claim_due(at(5), 10, LEASE).await.unwrap();
    assert_eq!(keys(&again), vec!["ticket/opened"]);
    store.mark_delivered(again[0].id, at(5)).await.unwrap();
    let next = store.claim_due(at(6), 10, LEASE).await.unwrap();
    assert_eq!(keys(&next), vec!["ticket/resolved"]);
}

async fn suite_save_with_a_stale_status_conflicts_and_writes_nothing(store: Arc<dyn Store>) {
    let created = create(&*store, new_ticket("acme", &["shop.http"], at(0))).await;

    // Anna acknowledges first.
    let mut anna = created.clone();
    anna.status = TicketStatus::Acknowledged;
    anna.acknowledged_at = Some(at(2));
    let anna_events = vec![event(2, staff("anna"), false, EventKind::Acknowledged)];
    store
        .save_ticket(
            &anna,
            TicketStatus::New,
            anna_events.clone(),
            vec![mail("ack-by-anna", Some(created.id), "bob@acme.test")],
            at(2),
        )
        .await
        .unwrap();

    // Ben read the ticket before Anna saved: still `new` in his copy.
    let mut ben = created.clone();
    ben.status = TicketStatus::InProgress;
    ben.assignee = Some("ben".to_owned());
    let err = store
        .save_ticket(
            &ben,
            TicketStatus::New,
            vec![event(3, staff("ben"), false, EventKind::WorkStarted)],
            vec![mail("work-by-ben", Some(created.id), "bob@acme.test")],
            at(3),
        )
        .await
        .expect_err("a stale status must conflict");
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("ticket #{}", created.id.0)),
        "{err}"
    );

    let anna = Ticket {
        version: anna.version + 1,
        ..anna
    };
    assert_eq!(store.ticket(created.id).await.unwrap(), Some(anna.clone()));
    assert_eq!(
        store.timeline(created.id).await.unwrap(),
        events_of(created.id, &anna_events)
    );
    assert_eq!(keys(&outbox_all(&*store).await), vec!["ack-by-anna"]);

    // A save whose message fails leaves the ticket as it was, too.
    let mut broken = anna.clone();
    broken.status = TicketStatus::InProgress;
    let err = store
        .save_ticket(
            &broken,
            TicketStatus::Acknowledged,
            vec![event(4, staff("anna"), false, EventKind::WorkStarted)],
            vec![mail(
                "orphan",
                Some(TicketId(created.id.0 + 1000)),
                "x@y.test",
            )],
            at(4),
        )
        .await
        .expect_err("a message for a missing ticket must fail");
    assert!(matches!(err, StoreError::Query { .. }), "{err:?}");
    assert_eq!(store.ticket(created.id).await.unwrap(), Some(anna.clone()));
    assert_eq!(store.timeline(created.id).await.unwrap().len(), 1);
    assert_eq!(outbox_all(&*store).await.len(), 1);

    // A ticket that does not exist is not a conflict.
    let mut ghost = anna.clone();
    ghost.id = TicketId(created.id.0 + 1000);
    let err = store
        .save_ticket(
            &ghost,
            TicketStatus::Acknowledged,
            Vec::new(),
            Vec::new(),
            at(5),
        )
        .await
        .expect_err("no such ticket");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

/// Saves `t` with a new status (and the times that go with it).
async fn move_to(store: &dyn Store, t: &Ticket, status: TicketStatus, minutes: i64) -> Ticket {
    let mut next = t.clone();
    next.status = status;
    match status {
        TicketStatus::Resolved => next.resolved_at = Some(at(minutes)),
        TicketStatus::Closed => next.closed_at = Some(at(minutes)),
        _ => {}
    }
    store
        .save_ticket(&next, t.status, Vec::new(), Vec::new(), at(minutes))
        .await
        .unwrap();
    next.version += 1;
    next
}

async fn suite_ticket_list_filters_newest_first(store: Arc<dyn Store>) {
    let a1 = create(&*store, new_ticket("acme", &["a1.http"], at(0))).await;
    let g1 = create(&*store, new_ticket("globex", &["g1.http"], at(10))).await;
    let a2 = create(&*store, new_ticket("acme", &["a2.http"], at(20))).await;
    let a3 = create(&*store, new_ticket("acme", &["a3.http"], at(30))).await;
    // Created later but dated earlier (e.g. a customer's mail read late): ordered by date.
    let g0 = create(&*store, new_ticket("globex", &["g0.http"], at(5))).await;
    move_to(&*store, &a1, TicketStatus::Resolved, 40).await;
    let a2 = move_to(&*store, &a2, TicketStatus::Resolved, 41).await;
    move_to(&*store, &a2, TicketStatus::Closed, 42).await;
    move_to(&*store, &g1, TicketStatus::Reopened, 43).await;

    let list = |open_only, customer_id: Option<&str>, limit| {
        let store = Arc::clone(&store);
        let filter = TicketFilter {
            open_only,
            customer: customer_id.map(customer),
            limit,
            ..Default::default()
        };
        async move { ids(&store.tickets(&filter).await.unwrap()) }
    };
    assert_eq!(
        list(false, None, None).await,
        vec![a3.id, a2.id, g1.id, g0.id, a1.id]
    );
    assert_eq!(list(true, None, None).await, vec![a3.id, g1.id, g0.id]);
    assert_eq!(
        list(false, Some("acme"), None).await,
        vec![a3.id, a2.id, a1.id]
    );
    assert_eq!(list(true, Some("acme"), None).await, vec![a3.id]);
    assert_eq!(list(false, None, Some(2)).await, vec![a3.id, a2.id]);
    assert_eq!(list(true, Some("globex"), Some(1)).await, vec![g1.id]);
    assert!(list(false, Some("initech"), None).await.is_empty());
}

/// Pages by cursor cover every ticket once, in the list's order, also when tickets share a
/// creation time; a search matches title words, the customer, the problem, a check id, the
/// checks a site names, or the number, and takes `%` and `_` literally.
async fn suite_ticket_pages_cover_every_ticket_once_and_search_finds_them(store: Arc<dyn Store>) {
    let mut all = Vec::new();
    for i in 0..7 {
        let mut n = new_ticket(
            if i % 2 == 0 { "acme" } else { "globex" },
            &[&format!("site{i}.http")],
            // Two at each time: the cursor must order within a millisecond too.
            at(i / 2),
        );
        n.title = format!("Shop {i} answers 100% errors");
        all.push(create(&*store, n).await);
    }
    let mut odd = new_ticket("initech", &["blog.http"], at(10));
    odd.title = "A_b".to_owned();
    let odd = create(&*store, odd).await;
    let everything = ids(&store.tickets(&TicketFilter::default()).await.unwrap());
    assert_eq!(everything.len(), 8);
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .tickets(&TicketFilter {
                limit: Some(3),
                after,
                ..Default::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(TicketCursor::of);
        paged.extend(ids(&page));
    }
    assert_eq!(paged, everything, "pages in order, each ticket once");
    let cursor = TicketCursor::of(&all[3]);
    assert_eq!(TicketCursor::parse(&cursor.to_string()), Some(cursor));

    let found = |text: &str, checks: &[&str]| {
        let store = Arc::clone(&store);
        let search = TicketSearch {
            text: text.to_owned(),
            checks: checks.iter().map(|c| (*c).to_owned()).collect(),
        };
        async move {
            let mut v = ids(&store
                .tickets(&TicketFilter {
                    search: Some(search),
                    ..Default::default()
                })
                .await
                .unwrap());
            v.sort();
            v
        }
    };
    assert_eq!(
        found("SHOP 3", &[]).await,
        vec![all[3].id],
        "title, any case"
    );
    assert_eq!(
        found("globex", &[]).await,
        vec![all[1].id, all[3].id, all[5].id]
    );
    assert_eq!(
        found("site4.http", &[]).await,
        vec![all[4].id],
        "a check id"
    );
    assert_eq!(
        found("shop.example", &["site6.http"]).await,
        vec![all[6].id],
        "a site's checks"
    );
    assert_eq!(
        found(&format!("#{}", all[2].id.0), &[]).await,
        vec![all[2].id],
        "the number"
    );
    assert_eq!(found("100%", &[]).await.len(), 7, "% taken literally");
    assert_eq!(found("a_b", &[]).await, vec![odd.id], "_ taken literally");
    assert!(found("axb", &[]).await.is_empty());
    // Search and pages together.
    let page = store
        .tickets(&TicketFilter {
            search: Some(TicketSearch {
                text: "acme".into(),
                checks: vec![],
            }),
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![all[6].id, all[4].id]);
}

async fn suite_latest_ticket_for_a_check(store: Arc<dyn Store>) {
    let first = create(
        &*store,
        new_ticket("acme", &["shop.http", "shop.tls"], at(0)),
    )
    .await;
    let second = create(&*store, new_ticket("acme", &["shop.tls"], at(10))).await;
    // Resolved tickets count: a failure within days of resolution reopens them.
    move_to(&*store, &second, TicketStatus::Resolved, 20).await;
    let latest = |c: &str| {
        let store = Arc::clone(&store);
        let c = check_id(c);
        async move {
            store
                .latest_ticket_for_check(&c)
                .await
                .unwrap()
                .map(|t| (t.id, t.status))
        }
    };
    assert_eq!(
        latest("shop.http").await,
        Some((first.id, TicketStatus::New))
    );
    assert_eq!(
        latest("shop.tls").await,
        Some((second.id, TicketStatus::Resolved))
    );
    assert_eq!(latest("shop.dns").await, None);
    // A check id that is a prefix of another does not match it.
    assert_eq!(latest("shop").await, None);
}

// ---------------------------------------------------------------------------------------------
// Outbox.

async fn suite_queuing_a_key_twice_keeps_one_message(store: Arc<dyn Store>) {
    let first = mail("ops/disk-web-01", None, "ops@host.test");
    let mut again = first.clone();
    again.body = "a second rendering of the same alert".to_owned();
    // Twice in one call, and again later: one message, the first one.
    store
        .enqueue(vec![first.clone(), again.clone()], at(0))
        .await
        .unwrap();
    store.enqueue(vec![again], at(5)).await.unwrap();
    store.enqueue(Vec::new(), at(6)).await.unwrap();
    let all = outbox_all(&*store).await;
    assert_eq!(keys(&all), vec!["ops/disk-web-01"]);
    assert_eq!(
        (all[0].body.as_str(), all[0].created_at),
        (first.body.as_str(), at(0))
    );

    // A ticket's message queued by its creation and again by a save (a retried request).
    let words: FirstWords = Box::new(|t| {
        (
            Vec::new(),
            vec![mail("ticket/opened", Some(t.id), "bob@acme.test")],
        )
    });
    let t = store
        .create_ticket(new_ticket("acme", &["shop.http"], at(1)), words)
        .await
        .unwrap();
    let mut acked = t.clone();
    acked.status = TicketStatus::Acknowledged;
    store
        .save_ticket(
            &acked,
            TicketStatus::New,
            Vec::new(),
            vec![
                mail("ticket/opened", Some(t.id), "bob@acme.test"),
                mail("ticket/ack", Some(t.id), "bob@acme.test"),
            ],
            at(2),
        )
        .await
        .unwrap();
    assert_eq!(
        keys(&outbox_all(&*store).await),
        vec!["ticket/ack", "ticket/opened", "ops/disk-web-01"]
    );

    // Filters.
    let of_ticket = store
        .outbox(&OutboxFilter {
            ticket: Some(t.id),
            limit: Some(1),
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(keys(&of_ticket), vec!["ticket/ack"]);
    let delivered = store
        .outbox(&OutboxFilter {
            status: Some(MessageStatus::Delivered),
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    assert!(delivered.is_empty());
}

async fn suite_concurrent_claimers_never_share_a_message(store: Arc<dyn Store>) {
    queue_ops_messages(&*store, 20).await;
    // Both start at once and claim small batches until nothing is left.
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let claimer = |store: Arc<dyn Store>| {
        let start = Arc::clone(&start);
        tokio::spawn(async move {
            start.wait().await;
            let mut got = Vec::new();
            for _ in 0..100 {
                let batch = store.claim_due(at(1), 3, LEASE).await.unwrap();
                if batch.is_empty() {
                    break;
                }
                got.extend(batch.into_iter().map(|m| m.key));
                tokio::task::yield_now().await;
            }
            got
        })
    };
    let (a, b) = (claimer(Arc::clone(&store)), claimer(Arc::clone(&store)));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let set_a: BTreeSet<_> = a.iter().cloned().collect();
    let set_b: BTreeSet<_> = b.iter().cloned().collect();
    assert_eq!(set_a.len(), a.len(), "a claimer got a message twice: {a:?}");
    assert_eq!(set_b.len(), b.len(), "a claimer got a message twice: {b:?}");
    assert!(
        set_a.is_disjoint(&set_b),
        "both got {:?}",
        set_a.intersection(&set_b).collect::<Vec<_>>()
    );
    let all: BTreeSet<_> = set_a.union(&set_b).cloned().collect();
    let want: BTreeSet<_> = (0..20).map(|i| format!("ops-{i}")).collect();
    assert_eq!(all, want);
}

async fn suite_expired_lease_makes_a_message_claimable_again(store: Arc<dyn Store>) {
    queue_ops_messages(&*store, 3).await;
    // Oldest due first, up to the limit.
    let first = store.claim_due(at(0), 2, LEASE).await.unwrap();
    assert_eq!(keys(&first), vec!["ops-0", "ops-1"]);
    let rest = store.claim_due(at(0), 10, LEASE).await.unwrap();
    assert_eq!(keys(&rest), vec!["ops-2"]);

    // The worker holding them dies: nothing is claimable while the leases last …
    let during = t0() + chrono::Duration::seconds(59);
    assert!(store.claim_due(during, 10, LEASE).await.unwrap().is_empty());
    // … and everything is once they end.
    let after = t0() + chrono::Duration::seconds(60);
    let again = store.claim_due(after, 10, LEASE).await.unwrap();
    assert_eq!(keys(&again), vec!["ops-0", "ops-1", "ops-2"]);
    assert!(
        again
            .iter()
            .all(|m| m.attempts == 0 && m.status == MessageStatus::Pending)
    );
    for m in &again {
        store.mark_delivered(m.id, at(1)).await.unwrap();
    }

    // Not due yet: a message queued later is not claimed before its time.
    store
        .enqueue(vec![mail("later", None, "ops@host.test")], at(10))
        .await
        .unwrap();
    assert!(store.claim_due(at(9), 10, LEASE).await.unwrap().is_empty());
    assert_eq!(
        keys(&store.claim_due(at(10), 10, LEASE).await.unwrap()),
        vec!["later"]
    );
}

async fn suite_delivered_message_is_never_claimed_again(store: Arc<dyn Store>) {
    let words: FirstWords = Box::new(|t| {
        (
            Vec::new(),
            vec![mail("ticket/opened", Some(t.id), "bob@acme.test")],
        )
    });
    let t = store
        .create_ticket(new_ticket("acme", &["shop.http"], at(0)), words)
        .await
        .unwrap();
    store
        .enqueue(
            vec![NewMessage {
                channel: Channel::Webhook {
                    url: "https://hooks.slack.test/services/T000/SECRET".to_owned(),
                    slack: true,
                },
                ..mail("ops/alert", None, "")
            }],
            at(0),
        )
        .await
        .unwrap();

    let claimed = store.claim_due(at(1), 10, LEASE).await.unwrap();
    assert_eq!(keys(&claimed), vec!["ticket/opened", "ops/alert"]);
    for m in &claimed {
        store.mark_delivered(m.id, at(2)).await.unwrap();
    }
    // Long after any lease: never again.
    assert!(
        store
            .claim_due(at(600), 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );

    let all = outbox_all(&*store).await;
    for m in &all {
        assert_eq!(
            (m.status, m.attempts, m.delivered_at),
            (MessageStatus::Delivered, 1, Some(at(2))),
            "{}",
            m.key
        );
    }
    // The ticket's timeline shows the delivery; the ops alert has no ticket.
    assert_eq!(
        store.timeline(t.id).await.unwrap(),
        vec![TimelineEvent {
            ticket: t.id,
            at: at(2),
            actor: Actor::System,
            public: false,
            kind: EventKind::MailDelivered {
                message_id: "<ticket/opened@forewarn.test>".to_owned(),
                to: vec!["bob@acme.test".to_owned()],
            },
        }]
    );

    // Marking again (a worker whose lease ran out) changes nothing; an unknown id is an error.
    store.mark_delivered(claimed[0].id, at(3)).await.unwrap();
    store
        .mark_failed(claimed[0].id, at(3), "late", None)
        .await
        .unwrap();
    assert_eq!(store.timeline(t.id).await.unwrap().len(), 1);
    assert_eq!(outbox_all(&*store).await, all);
    let unknown = all.iter().map(|m| m.id).max().unwrap() + 1000;
    let err = store.mark_delivered(unknown, at(3)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

async fn suite_failed_message_waits_for_its_retry_time(store: Arc<dyn Store>) {
    let words: FirstWords = Box::new(|t| {
        (
            Vec::new(),
            vec![mail("ticket/opened", Some(t.id), "bob@acme.test")],
        )
    });
    let t = store
        .create_ticket(new_ticket("acme", &["shop.http"], at(0)), words)
        .await
        .unwrap();
    let m = store.claim_due(at(1), 10, LEASE).await.unwrap().remove(0);
    store
        .mark_failed(m.id, at(1), "421 try again later", Some(at(10)))
        .await
        .unwrap();

    // The claim is over, but the message is not due before its retry time.
    assert!(store.claim_due(at(5), 10, LEASE).await.unwrap().is_empty());
    assert!(store.claim_due(at(9), 10, LEASE).await.unwrap().is_empty());
    let retried = store.claim_due(at(10), 10, LEASE).await.unwrap();
    assert_eq!(retried.len(), 1);
    let r = &retried[0];
    assert_eq!(
        (
            r.id,
            r.status,
            r.attempts,
            r.next_attempt_at,
            r.last_error.as_deref()
        ),
        (
            m.id,
            MessageStatus::Pending,
            1,
            at(10),
            Some("421 try again later")
        )
    );
    store.mark_delivered(r.id, at(11)).await.unwrap();

    let kinds: Vec<_> = store
        .timeline(t.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.at, e.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                at(1),
                EventKind::MailFailed {
                    message_id: m.message_id.clone(),
                    error: "421 try again later".to_owned()
                }
            ),
            (
                at(11),
                EventKind::MailDelivered {
                    message_id: m.message_id.clone(),
                    to: vec!["bob@acme.test".to_owned()]
                }
            ),
        ]
    );
    let done = &outbox_all(&*store).await[0];
    assert_eq!((done.status, done.attempts), (MessageStatus::Delivered, 2));
}

async fn suite_dead_message_stays_until_retried(store: Arc<dyn Store>) {
    queue_ops_messages(&*store, 2).await;
    let claimed = store.claim_due(at(0), 10, LEASE).await.unwrap();
    store
        .mark_failed(claimed[0].id, at(1), "550 no such user", None)
        .await
        .unwrap();
    store.mark_delivered(claimed[1].id, at(1)).await.unwrap();

    let dead = store
        .outbox(&OutboxFilter {
            status: Some(MessageStatus::Dead),
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(keys(&dead), vec!["ops-0"]);
    assert_eq!(
        (dead[0].attempts, dead[0].last_error.as_deref()),
        (1, Some("550 no such user"))
    );
    assert!(
        store
            .claim_due(at(10_000), 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );

    // `forewarn outbox retry`: due now, attempts counted afresh, the last error still shown.
    assert_eq!(store.retry_dead(at(20)).await.unwrap(), 1);
    assert_eq!(store.retry_dead(at(20)).await.unwrap(), 0);
    assert!(store.claim_due(at(19), 10, LEASE).await.unwrap().is_empty());
    let again = store.claim_due(at(20), 10, LEASE).await.unwrap();
    assert_eq!(keys(&again), vec!["ops-0"]);
    assert_eq!(
        (
            again[0].status,
            again[0].attempts,
            again[0].last_error.as_deref()
        ),
        (MessageStatus::Pending, 0, Some("550 no such user"))
    );
}

// ---------------------------------------------------------------------------------------------
// Incidents and detector state.

async fn suite_incidents_open_update_and_close(store: Arc<dyn Store>) {
    let web = store
        .open_incident(
            "server:web-01",
            at(0),
            &[check_id("acme-www.http"), check_id("globex-www.http")],
            &[customer("acme"), customer("globex")],
            "web-01: 2 sites down",
        )
        .await
        .unwrap();
    let dns = store
        .open_incident(
            "check:acme-dns",
            at(1),
            &[check_id("acme.dns")],
            &[customer("acme")],
            "acme.dns: answer drifted",
        )
        .await
        .unwrap();
    assert_ne!(web.id, dns.id);
    assert_eq!(
        (web.key.as_str(), web.opened_at, web.closed_at),
        ("server:web-01", at(0), None)
    );
    assert_eq!(
        store.open_incidents().await.unwrap(),
        vec![web.clone(), dns.clone()]
    );

    // One open incident per key.
    let err = store
        .open_incident("server:web-01", at(2), &[], &[], "again")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");

    let mut grown = web.clone();
    grown.checks.push(check_id("initech-www.http"));
    grown.customers.push(customer("initech"));
    grown.summary = "web-01: 3 sites down".to_owned();
    store.update_incident(&grown).await.unwrap();
    assert_eq!(
        store.open_incidents().await.unwrap(),
        vec![grown.clone(), dns.clone()]
    );

    store.close_incident(web.id, at(30)).await.unwrap();
    assert_eq!(store.open_incidents().await.unwrap(), vec![dns.clone()]);
    // Closing twice changes nothing (the first close time stays).
    store.close_incident(web.id, at(40)).await.unwrap();

    // After closing, the key can open a new incident.
    let next = store
        .open_incident("server:web-01", at(50), &[], &[], "web-01 again")
        .await
        .unwrap();
    assert_ne!(next.id, web.id);
    assert_eq!(
        store.open_incidents().await.unwrap(),
        vec![dns.clone(), next.clone()]
    );

    let ghost = next.id + dns.id + web.id + 1000;
    let err = store.close_incident(ghost, at(60)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .update_incident(&forewarn::store::Incident { id: ghost, ..next })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

async fn suite_detector_state_upserts_and_reads_back(store: Arc<dyn Store>) {
    assert!(store.detector_states().await.unwrap().is_empty());
    let shop = json!({"phase": "failing", "failures": 2, "since": "2025-03-01T10:00:00Z",
                      "evidence": ["HTTP 502 from https://shop.example/", "«upstream» ✗"],
                      "ratio": 0.25, "confirmed": false, "nested": {"a": [1, {"b": null}]}});
    let dns = json!({"phase": "ok", "successes": 5});
    store
        .save_detector_state(&[
            (check_id("shop.http"), json!({"phase": "ok"})),
            (check_id("shop.dns"), dns.clone()),
            (check_id("shop.http"), shop.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.detector_states().await.unwrap(),
        vec![
            (check_id("shop.dns"), dns.clone()),
            (check_id("shop.http"), shop.clone())
        ]
    );

    // Saving some checks leaves the others alone.
    let flapping = json!({"phase": "flapping", "changes": 6});
    store
        .save_detector_state(&[(check_id("shop.http"), flapping.clone())])
        .await
        .unwrap();
    store.save_detector_state(&[]).await.unwrap();
    assert_eq!(
        store.detector_states().await.unwrap(),
        vec![
            (check_id("shop.dns"), dns),
            (check_id("shop.http"), flapping)
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Per backend: restarts.

#[tokio::test]
async fn sqlite_file_keeps_tickets_outbox_incidents_and_detector_state_across_a_restart() {
    forewarn::probe::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let url = support_store::sqlite_url(&dir);
    let (ticket, timeline, incident) = {
        let store = store::open(&url).await.unwrap();
        let words: FirstWords = Box::new(|t| {
            (
                every_event_kind(0),
                vec![
                    mail("ticket/opened", Some(t.id), "bob@acme.test"),
                    mail("ticket/ops", Some(t.id), "ops@host.test"),
                ],
            )
        });
        let ticket = store
            .create_ticket(new_ticket("acme", &["shop.http"], at(0)), words)
            .await
            .unwrap();
        // A worker claims one message and dies before delivering it.
        let claimed = store.claim_due(at(1), 1, LEASE).await.unwrap();
        assert_eq!(keys(&claimed), vec!["ticket/opened"]);
        let incident = store
            .open_incident(
                "server:web-01",
                at(0),
                &[check_id("shop.http")],
                &[customer("acme")],
                "down",
            )
            .await
            .unwrap();
        store
            .save_detector_state(&[(check_id("shop.http"), json!({"phase": "failing"}))])
            .await
            .unwrap();
        (
            ticket.clone(),
            store.timeline(ticket.id).await.unwrap(),
            incident,
        )
    };

    let store = store::open(&url).await.unwrap();
    assert_eq!(store.ticket(ticket.id).await.unwrap(), Some(ticket.clone()));
    assert_eq!(store.timeline(ticket.id).await.unwrap(), timeline);
    assert_eq!(store.open_incidents().await.unwrap(), vec![incident]);
    assert_eq!(
        store.detector_states().await.unwrap(),
        vec![(check_id("shop.http"), json!({"phase": "failing"}))]
    );
    // The claim survived the restart: nothing now (the ticket's other message waits behind
    // the claimed one: a ticket's mails go out in order), the claimed one after its lease.
    let now = store
        .claim_due(at(1) + chrono::Duration::seconds(30), 10, LEASE)
        .await
        .unwrap();
    assert_eq!(keys(&now), Vec::<&str>::new());
    let after_lease = store.claim_due(at(2), 10, LEASE).await.unwrap();
    assert_eq!(keys(&after_lease), vec!["ticket/opened"]);
    // Ticket numbers go on; they are never handed out twice.
    let next = create(&*store, new_ticket("acme", &["shop.http"], at(5))).await;
    assert!(next.id > ticket.id);
}

/// Two instances deciding at once for the same customer and incident: the second create is a
/// conflict (and writes nothing), so it joins the first ticket instead of mailing twice.
async fn suite_one_open_ticket_per_customer_and_incident(store: Arc<dyn Store>) {
    let mut new = new_ticket("acme", &["shop.http"], at(0));
    new.incident = Some(7);
    let mut first = store.create_ticket(new.clone(), no_words()).await.unwrap();
    let again = store.create_ticket(new.clone(), no_words()).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    // Another customer in the same incident has a ticket of its own.
    let mut other = new_ticket("globex", &["www.http"], at(0));
    other.incident = Some(7);
    store.create_ticket(other, no_words()).await.unwrap();
    // Once the first is resolved, the incident may open a new one for the customer.
    first.status = TicketStatus::Resolved;
    first.resolved_at = Some(at(5));
    store
        .save_ticket(&first, TicketStatus::New, vec![], vec![], at(5))
        .await
        .unwrap();
    store.create_ticket(new, no_words()).await.unwrap();
    assert_eq!(
        store.tickets(&TicketFilter::default()).await.unwrap().len(),
        3
    );
}

// ---------------------------------------------------------------------------------------------
// What /metrics counts.

async fn suite_counts_for_metrics(store: Arc<dyn Store>) {
    use forewarn::store::{OpenTickets, OutboxCounts, SurveyCounts};
    assert_eq!(store.open_tickets(at(20)).await.unwrap(), vec![]);
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        OutboxCounts::default()
    );
    assert_eq!(
        store.survey_counts().await.unwrap(),
        SurveyCounts::default()
    );

    // Due at +15 (ack), +30 (first update), +4 h (resolve).
    // Not acknowledged by +15: late.
    create(&*store, new_ticket("acme", &["a.http"], at(0))).await;
    let mut acked = new_ticket("acme", &["b.http"], at(0));
    acked.severity = Severity::P1;
    let acked = create(&*store, acked).await;
    let mut next = acked.clone();
    next.acknowledged_at = Some(at(5));
    store
        .save_ticket(&next, acked.status, Vec::new(), Vec::new(), at(5))
        .await
        .unwrap();
    // Waiting on the customer since +10: read at +10, nothing is late.
    let waiting = create(&*store, new_ticket("globex", &["c.http"], at(0))).await;
    let mut next = waiting.clone();
    next.status = TicketStatus::WaitingOnCustomer;
    next.paused_since = Some(at(10));
    store
        .save_ticket(&next, waiting.status, Vec::new(), Vec::new(), at(10))
        .await
        .unwrap();
    let done = create(&*store, new_ticket("globex", &["d.http"], at(0))).await;
    move_to(&*store, &done, TicketStatus::Resolved, 1).await;

    let counts = store.open_tickets(at(40)).await.unwrap();
    let of = |s: Severity| counts.iter().find(|c| c.severity == s).copied();
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert_eq!(
        of(Severity::P1),
        Some(OpenTickets {
            severity: Severity::P1,
            open: 1,
            ack_breached: 0,
            first_update_breached: 1,
            resolve_breached: 0,
        })
    );
    assert_eq!(
        of(Severity::P2),
        Some(OpenTickets {
            severity: Severity::P2,
            open: 2,
            ack_breached: 1,
            first_update_breached: 1,
            resolve_breached: 0,
        })
    );
    let later = store.open_tickets(at(5 * 60)).await.unwrap();
    assert_eq!(
        later.iter().map(|c| c.resolve_breached).sum::<u64>(),
        2,
        "the paused ticket is not late: {later:?}"
    );

    // Outbox: ops-0 delivered, ops-1 dead, ops-2 pending since t0, a webhook and a Telegram
    // message delivered.
    queue_ops_messages(&*store, 3).await;
    let mut hook = mail("hook-0", None, "unused");
    hook.channel = Channel::Webhook {
        url: "http://127.0.0.1:9/hook".to_owned(),
        slack: false,
    };
    let mut chat = mail("chat-0", None, "unused");
    chat.channel = Channel::Telegram { chat_id: -100 };
    store.enqueue(vec![hook, chat], at(1)).await.unwrap();
    let claimed = store.claim_due(at(2), 10, LEASE).await.unwrap();
    let id = |key: &str| claimed.iter().find(|m| m.key == key).unwrap().id;
    store.mark_delivered(id("ops-0"), at(3)).await.unwrap();
    store.mark_delivered(id("hook-0"), at(3)).await.unwrap();
    // A delivered Telegram message once made these counts an error (and /metrics lose them).
    store.mark_delivered(id("chat-0"), at(3)).await.unwrap();
    store
        .mark_failed(id("ops-1"), at(3), "550 no such user", None)
        .await
        .unwrap();
    store
        .mark_failed(id("ops-2"), at(3), "421 try later", Some(at(10)))
        .await
        .unwrap();
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        OutboxCounts {
            pending: 1,
            dead: 1,
            oldest_pending: Some(t0()),
            delivered_email: 1,
            delivered_webhook: 1,
            delivered_telegram: 1,
        }
    );
}
