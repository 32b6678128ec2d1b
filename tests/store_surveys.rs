//! The survey store's specification, on every backend: one survey per ticket and resolution
//! cycle, single-use links consumed with the answer, comments once, reminders once, opt-outs,
//! call-back tasks logged once, and the shared server secret.

#[allow(dead_code)]
#[path = "support/store.rs"]
#[macro_use]
mod support_store;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use forewarn::model::CustomerId;
use forewarn::notify::{Channel, NewMessage};
use forewarn::store::{
    AnswerWrite, NewEvent, NewSurvey, NewTicket, OutboxFilter, Store, StoreError, SurveyWords,
};
use forewarn::ticket::{Actor, EventKind, Origin, Severity, TicketId};

use support_store::{at, t0};

for_each_backend!(
    suite_a_resolution_cycle_has_one_survey_and_its_words_commit_with_it,
    suite_a_link_answers_once_and_an_unhappy_answer_opens_one_call_back,
    suite_a_comment_needs_an_answer_comes_once_and_consumes_its_link,
    suite_a_reminder_goes_once_and_never_after_an_answer,
    suite_resolutions_to_survey_are_those_in_the_window_without_a_survey,
    suite_opt_outs_and_call_back_outcomes_are_kept,
    suite_the_first_stored_server_secret_wins,
);

fn acme() -> CustomerId {
    CustomerId::parse("acme").unwrap()
}

/// A ticket of Acme created at t0, resolved at `resolved` (or open).
async fn ticket(store: &dyn Store, resolved: Option<DateTime<Utc>>) -> TicketId {
    let t = store
        .create_ticket(
            NewTicket {
                customer: acme(),
                title: "Shop is slow".into(),
                problem: "customer_request".into(),
                severity: Severity::P3,
                origin: Origin::Customer,
                checks: vec![],
                incident: None,
                assignee: None,
                skill_group: "support".into(),
                created_at: t0(),
                ack_due: None,
                first_update_due: None,
                resolve_due: None,
                next_update_due: None,
            },
            Box::new(|_| (vec![], vec![])),
        )
        .await
        .unwrap();
    if let Some(r) = resolved {
        let mut done = t.clone();
        done.status = forewarn::ticket::TicketStatus::Resolved;
        done.resolved_at = Some(r);
        store
            .save_ticket(&done, t.status, vec![], vec![], r)
            .await
            .unwrap();
    }
    t.id
}

fn new_survey(ticket: TicketId, cycle: DateTime<Utc>, sent: DateTime<Utc>) -> NewSurvey {
    NewSurvey {
        ticket,
        cycle,
        customer: acme(),
        contacts: vec!["ops@acme.example".into(), "Boss@acme.example".into()],
        credited_to: Some("anna".into()),
        sent_at: sent,
    }
}

fn mail(key: &str, ticket: TicketId) -> NewMessage {
    NewMessage {
        key: key.to_owned(),
        ticket: Some(ticket),
        channel: Channel::Email {
            to: vec!["ops@acme.example".into()],
        },
        subject: "How did we do?".into(),
        body: "1 2 3 4 5".into(),
        message_id: format!("<{key}@forewarn.test>"),
        extras: Default::default(),
    }
}

/// The survey's `SurveySent` event and its mail, keyed by the survey id.
fn words(ticket: TicketId, sent: DateTime<Utc>) -> SurveyWords {
    Box::new(move |survey| {
        (
            vec![NewEvent {
                at: sent,
                actor: Actor::System,
                public: false,
                kind: EventKind::SurveySent { survey },
            }],
            vec![mail(&format!("survey-{survey}/sent"), ticket)],
        )
    })
}

/// A survey of the resolution at `cycle`, sent at minute 1500.
async fn surveyed(store: &dyn Store, ticket: TicketId, cycle: DateTime<Utc>) -> i64 {
    let sent = at(1500);
    store
        .create_survey(&new_survey(ticket, cycle, sent), words(ticket, sent))
        .await
        .unwrap()
        .expect("a new survey")
}

fn answer(survey: i64, ticket: TicketId, nonce: &str, rating: u8) -> AnswerWrite {
    AnswerWrite {
        survey,
        ticket,
        nonce: nonce.into(),
        at: at(2000),
        rating: Some(rating),
        solved: Some(rating > 2),
        comment: None,
        event: NewEvent {
            at: at(2000),
            actor: Actor::Customer("Acme Ltd".into()),
            public: false,
            kind: EventKind::SurveyAnswered {
                survey,
                rating: Some(rating),
                solved: Some(rating > 2),
                comment: None,
                credited_to: Some("anna".into()),
            },
        },
        callback: (rating <= 2).then(|| format!("rated {rating}/5")),
    }
}

async fn suite_a_resolution_cycle_has_one_survey_and_its_words_commit_with_it(
    store: Arc<dyn Store>,
) {
    let t = ticket(&*store, Some(at(60))).await;
    let id = surveyed(&*store, t, at(60)).await;
    // Again for the same cycle (a second run, another instance): nothing written.
    let again = store
        .create_survey(&new_survey(t, at(60), at(1501)), words(t, at(1501)))
        .await
        .unwrap();
    assert_eq!(again, None);
    let outbox = store.outbox(&OutboxFilter::default()).await.unwrap();
    assert_eq!(outbox.len(), 1, "one mail");
    assert_eq!(outbox[0].key, format!("survey-{id}/sent"));
    let timeline = store.timeline(t).await.unwrap();
    let sent: Vec<_> = timeline
        .iter()
        .filter(|e| matches!(e.kind, EventKind::SurveySent { .. }))
        .collect();
    assert_eq!(sent.len(), 1);
    let s = store.survey(id).await.unwrap().unwrap();
    assert_eq!((s.ticket, s.cycle, s.sent_at), (t, at(60), at(1500)));
    assert_eq!(s.contacts, ["ops@acme.example", "Boss@acme.example"]);
    assert_eq!(s.credited_to.as_deref(), Some("anna"));
    assert!(s.answered_at.is_none() && s.rating.is_none() && s.solved.is_none());
    // A later resolution cycle of the same ticket gets its own survey.
    let later = store
        .create_survey(&new_survey(t, at(5000), at(7000)), words(t, at(7000)))
        .await
        .unwrap();
    assert!(later.is_some_and(|l| l != id));
    assert!(store.survey(id + 1000).await.unwrap().is_none());
}

async fn suite_a_link_answers_once_and_an_unhappy_answer_opens_one_call_back(
    store: Arc<dyn Store>,
) {
    let t = ticket(&*store, Some(at(60))).await;
    let id = surveyed(&*store, t, at(60)).await;
    let task = store
        .answer_survey(&answer(id, t, "nonce-1", 2))
        .await
        .unwrap();
    assert!(task.is_some(), "rating 2: a call-back task");
    // The same link again, or another link of the answered survey: refused, nothing written.
    for nonce in ["nonce-1", "nonce-2"] {
        let err = store
            .answer_survey(&answer(id, t, nonce, 5))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    }
    let s = store.survey(id).await.unwrap().unwrap();
    assert_eq!(
        (s.rating, s.solved, s.answered_at),
        (Some(2), Some(false), Some(at(2000)))
    );
    assert_eq!(store.callbacks().await.unwrap().len(), 1);
    let answered = store
        .timeline(t)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::SurveyAnswered { .. }))
        .count();
    assert_eq!(answered, 1);
    // "nonce-2" was not consumed by its refused attempt (the transaction rolled back), but the
    // survey stays answered; an unknown survey is NotFound.
    let err = store
        .answer_survey(&answer(id + 1000, t, "nonce-3", 4))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    // A happy answer opens no task.
    let t2 = ticket(&*store, Some(at(70))).await;
    let id2 = surveyed(&*store, t2, at(70)).await;
    assert_eq!(
        store
            .answer_survey(&answer(id2, t2, "nonce-2", 5))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.callbacks().await.unwrap().len(), 1);
}

async fn suite_a_comment_needs_an_answer_comes_once_and_consumes_its_link(store: Arc<dyn Store>) {
    let t = ticket(&*store, Some(at(60))).await;
    let id = surveyed(&*store, t, at(60)).await;
    let event = NewEvent {
        at: at(2100),
        actor: Actor::Customer("Acme Ltd".into()),
        public: false,
        kind: EventKind::SurveyCommented {
            survey: id,
            text: "great".into(),
        },
    };
    let err = store
        .comment_survey(id, t, "c-1", "great", &event)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "not answered yet: {err}"
    );
    store.answer_survey(&answer(id, t, "a-1", 5)).await.unwrap();
    store
        .comment_survey(id, t, "c-1", "great", &event)
        .await
        .unwrap();
    for nonce in ["c-1", "c-2"] {
        let err = store
            .comment_survey(id, t, nonce, "again", &event)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    }
    assert_eq!(
        store.survey(id).await.unwrap().unwrap().comment.as_deref(),
        Some("great")
    );
}

async fn suite_a_reminder_goes_once_and_never_after_an_answer(store: Arc<dyn Store>) {
    let t = ticket(&*store, Some(at(60))).await;
    let id = surveyed(&*store, t, at(60)).await;
    assert!(
        store
            .mark_reminded(id, vec![mail("r-1", t)], at(6000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_reminded(id, vec![mail("r-2", t)], at(6001))
            .await
            .unwrap()
    );
    assert_eq!(
        store.survey(id).await.unwrap().unwrap().reminded_at,
        Some(at(6000))
    );
    let t2 = ticket(&*store, Some(at(70))).await;
    let id2 = surveyed(&*store, t2, at(70)).await;
    store.answer_survey(&answer(id2, t2, "n", 4)).await.unwrap();
    assert!(
        !store
            .mark_reminded(id2, vec![mail("r-3", t2)], at(6000))
            .await
            .unwrap()
    );
    let keys: Vec<String> = store
        .outbox(&OutboxFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .filter(|k| k.starts_with("r-"))
        .collect();
    assert_eq!(keys, ["r-1"]);
    // Listing by time: newest first, from `since` on.
    let listed: Vec<i64> = store
        .surveys(at(0))
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(store.surveys(at(1501)).await.unwrap().is_empty());
}

async fn suite_resolutions_to_survey_are_those_in_the_window_without_a_survey(
    store: Arc<dyn Store>,
) {
    let early = ticket(&*store, Some(at(10))).await;
    let mid = ticket(&*store, Some(at(100))).await;
    let late = ticket(&*store, Some(at(1000))).await;
    let _open = ticket(&*store, None).await;
    let due = store
        .unsurveyed_resolutions(at(0), at(500), None, 10)
        .await
        .unwrap();
    assert_eq!(
        due,
        [(early, at(10)), (mid, at(100))],
        "resolved in the window, oldest first"
    );
    surveyed(&*store, mid, at(100)).await;
    let due = store
        .unsurveyed_resolutions(at(0), at(2000), None, 10)
        .await
        .unwrap();
    assert_eq!(due, [(early, at(10)), (late, at(1000))]);
    assert_eq!(
        store
            .unsurveyed_resolutions(at(0), at(2000), None, 1)
            .await
            .unwrap(),
        [(early, at(10))]
    );
    // Paging on after the last one seen, by time and then id: a resolution at the same
    // millisecond as the last one of a page is on the next page, not lost.
    let twin = ticket(&*store, Some(at(1000))).await;
    let next = |after| {
        let store = store.clone();
        async move {
            store
                .unsurveyed_resolutions(at(0), at(2000), Some(after), 1)
                .await
                .unwrap()
        }
    };
    assert_eq!(next((at(10), early)).await, [(late, at(1000))]);
    assert_eq!(next((at(1000), late)).await, [(twin, at(1000))]);
    assert!(next((at(1000), twin)).await.is_empty());
}

async fn suite_opt_outs_and_call_back_outcomes_are_kept(store: Arc<dyn Store>) {
    store
        .opt_out(
            &["Ops@Acme.example".into(), "boss@acme.example".into()],
            at(1),
        )
        .await
        .unwrap();
    store
        .opt_out(&["ops@acme.example".into()], at(2))
        .await
        .unwrap();
    assert_eq!(
        store.opted_out().await.unwrap(),
        ["boss@acme.example", "ops@acme.example"]
    );
    let t = ticket(&*store, Some(at(60))).await;
    let id = surveyed(&*store, t, at(60)).await;
    let task = store
        .answer_survey(&answer(id, t, "n", 1))
        .await
        .unwrap()
        .unwrap();
    let open = store.callbacks().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].id, open[0].ticket, open[0].survey), (task, t, id));
    assert_eq!(open[0].reason, "rated 1/5");
    assert!(open[0].done_at.is_none());
    store
        .complete_callback(task, "cora", "called; offered a bigger plan", at(3000))
        .await
        .unwrap();
    let done = store.callbacks().await.unwrap().remove(0);
    assert_eq!(done.done_at, Some(at(3000)));
    assert_eq!(done.done_by.as_deref(), Some("cora"));
    assert_eq!(
        done.outcome.as_deref(),
        Some("called; offered a bigger plan")
    );
    let err = store
        .complete_callback(task, "cora", "again", at(3001))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    let err = store
        .complete_callback(task + 1000, "cora", "x", at(3001))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(store.timeline(t).await.unwrap().iter().any(|e| matches!(
        &e.kind,
        EventKind::CallbackLogged { outcome, .. } if outcome.starts_with("called;")
    ) && e.actor
        == Actor::Staff("cora".into())));
}

async fn suite_the_first_stored_server_secret_wins(store: Arc<dyn Store>) {
    let first = store.server_secret("k", "aaaa", t0()).await.unwrap();
    let second = store.server_secret("k", "bbbb", t0()).await.unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("aaaa", "aaaa"));
    assert_eq!(
        store.server_secret("other", "cccc", t0()).await.unwrap(),
        "cccc"
    );
}
