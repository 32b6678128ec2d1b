//! KPIs computed from hand-built timelines with known answers, and `forewarn report` over a
//! SQLite store filled through the real TicketStore API.

#[path = "support/report.rs"]
mod support_report;

#[path = "support/server.rs"]
mod support_server;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use forewarn::cli::report::{By, Format, ReportArgs, render_report};
use forewarn::report::{
    self, Attributes, CustomerAttributes, HourlyRate, NO_SURVEY_DATA, PeriodCount, Rate, Report,
    ReportInput, SlaVerdict, Survey, SurveyAnswer, SurveyRecord, compute, nearest_rank,
};
use forewarn::store::tickets::{NewEvent, NewTicket};
use forewarn::ticket::model::{
    Actor, EventKind, Origin, SlaTarget, Ticket, TicketStatus, TimelineEvent,
};
use support_report::*;

type Entry = (Ticket, Vec<TimelineEvent>);

fn run(tickets: &[Entry], now: DateTime<Utc>) -> Report {
    run_with(tickets, now, None, &BTreeMap::new(), None)
}

fn run_with(
    tickets: &[Entry],
    now: DateTime<Utc>,
    since: Option<DateTime<Utc>>,
    tiers: &BTreeMap<forewarn::model::CustomerId, String>,
    surveys: Option<&[SurveyRecord]>,
) -> Report {
    run_attributed(tickets, now, since, &Attributes::with_tiers(tiers), surveys)
}

fn run_attributed(
    tickets: &[Entry],
    now: DateTime<Utc>,
    since: Option<DateTime<Utc>>,
    attributes: &Attributes,
    surveys: Option<&[SurveyRecord]>,
) -> Report {
    forewarn::probe::install_crypto_provider();
    compute(&ReportInput {
        tickets,
        now,
        since,
        attributes,
        surveys,
    })
}

fn rate(n: u64, d: u64) -> Rate {
    Rate {
        numerator: n,
        denominator: d,
    }
}

/// A ticket created at `created` acknowledged `after` minutes later by anna.
fn acked(id: i64, created: DateTime<Utc>, after: Option<i64>) -> Entry {
    let t = ticket(id, created);
    let mut evs = vec![created_ev(&t)];
    if let Some(m) = after {
        evs.push(ack(&t, created + Duration::minutes(m), "anna"));
    }
    (t, evs)
}

fn created_ev(t: &Ticket) -> TimelineEvent {
    created(t)
}

#[test]
fn acknowledgements_at_5_10_and_30_minutes_mean_15_and_p90_30() {
    let tickets = vec![
        acked(1, min(0), Some(5)),
        acked(2, min(60), Some(10)),
        acked(3, min(120), Some(30)),
        acked(4, min(180), None),
    ];
    let r = run(&tickets, min(600));
    let s = &r.overall.time_to_acknowledge;
    assert_eq!(s.measured, 3);
    assert_eq!(
        s.not_yet, 1,
        "the ticket never acknowledged is counted apart"
    );
    assert_eq!(s.mean_secs, Some(15.0 * 60.0));
    assert_eq!(s.p90_secs, Some(30 * 60));
}

#[test]
fn nearest_rank_percentile() {
    let ten: Vec<i64> = (1..=10).collect();
    assert_eq!(nearest_rank(&ten, 90), Some(9));
    assert_eq!(nearest_rank(&ten, 100), Some(10));
    assert_eq!(nearest_rank(&[7], 90), Some(7));
    assert_eq!(nearest_rank(&[], 90), None);
}

#[test]
fn a_staff_update_acknowledges_and_a_system_update_does_not() {
    let t = ticket(1, min(0));
    let evs = vec![
        created(&t),
        update(&t, min(1), forewarn::ticket::model::Actor::System),
        update(&t, min(4), staff("anna")),
        ack(&t, min(6), "anna"),
        resolved(&t, min(90), "anna"),
    ];
    let r = run(&[(t, evs)], min(600));
    assert_eq!(r.overall.time_to_acknowledge.mean_secs, Some(240.0));
    assert_eq!(r.overall.time_to_first_update.mean_secs, Some(240.0));
    assert_eq!(r.overall.time_to_resolve.mean_secs, Some(90.0 * 60.0));
}

#[test]
fn sla_met_breached_running_and_without_target() {
    let now = min(100);
    // Acknowledged at 5, due 10: met.
    let mut a = ticket(1, min(0));
    a.ack_due = Some(min(10));
    let a_ev = vec![created(&a), ack(&a, min(5), "anna")];
    // Acknowledged at 20, due 10: breached.
    let mut b = ticket(2, min(0));
    b.ack_due = Some(min(10));
    let b_ev = vec![created(&b), ack(&b, min(20), "anna")];
    // Never acknowledged, due 10 passed: breached.
    let mut c = ticket(3, min(0));
    c.ack_due = Some(min(10));
    let c_ev = vec![created(&c)];
    // Never acknowledged, due 200 not passed: running.
    let mut d = ticket(4, min(90));
    d.ack_due = Some(min(200));
    let d_ev = vec![created(&d)];
    // No due time: no target.
    let e = ticket(5, min(0));
    let e_ev = vec![created(&e)];

    assert_eq!(
        report::sla_verdicts(&a, &a_ev, now)[0],
        (SlaTarget::Acknowledge, SlaVerdict::Met)
    );
    let r = run(
        &[(a, a_ev), (b, b_ev), (c, c_ev), (d, d_ev), (e, e_ev)],
        now,
    );
    let s = &r.overall.sla.acknowledge;
    assert_eq!((s.met, s.breached, s.running, s.no_target), (1, 2, 1, 1));
    assert_eq!(s.compliance, rate(1, 3));
}

#[test]
fn resolve_sla_of_a_reopened_ticket_is_judged_on_its_current_cycle() {
    let mut t = ticket(1, min(0));
    // The reopen at 100 recomputed the resolve due time to 160.
    t.resolve_due = Some(min(160));
    let evs = vec![
        created(&t),
        resolved(&t, min(50), "anna"),
        reopened(&t, min(100)),
        resolved(&t, min(150), "bob"),
    ];
    let v = report::sla_verdicts(&t, &evs, min(1000));
    assert_eq!(v[2], (SlaTarget::Resolve, SlaVerdict::Met));
}

#[test]
fn reopen_inside_7_days_counts_and_outside_does_not() {
    let day = Duration::days(1);
    let inside = ticket(1, min(0));
    let inside_ev = vec![
        created(&inside),
        resolved(&inside, min(60), "anna"),
        reopened(&inside, min(60) + day * 6),
    ];
    let outside = ticket(2, min(0));
    let outside_ev = vec![
        created(&outside),
        resolved(&outside, min(60), "anna"),
        reopened(&outside, min(60) + day * 8),
    ];
    let open = ticket(3, min(0));
    let open_ev = vec![created(&open)];
    let r = run(
        &[(inside, inside_ev), (outside, outside_ev), (open, open_ev)],
        min(0) + day * 30,
    );
    assert_eq!(
        r.overall.reopen_rate,
        rate(1, 2),
        "the open ticket is not counted"
    );
    assert_eq!(r.overall.resolved, 2);
}

#[test]
fn proactive_share_two_of_three() {
    let mut tickets = vec![acked(1, min(0), None), acked(2, min(1), None)];
    let mut c = acked(3, min(2), None);
    c.0.origin = Origin::Customer;
    tickets.push(c);
    let r = run(&tickets, min(60));
    assert_eq!(r.overall.proactive_share, rate(2, 3));
    let p = r.overall.proactive_share.percent().unwrap();
    assert!((p - 66.666).abs() < 0.01, "{p}");
}

#[test]
fn heatmap_counts_by_weekday_and_utc_hour() {
    // t0 is Monday 10:00 UTC; +6 days 13h is Sunday 23:00.
    let sunday_late = min(0) + Duration::days(6) + Duration::hours(13);
    let tickets = vec![
        acked(1, min(0), None),
        acked(2, min(59), None),
        acked(3, min(60), None),
        acked(4, sunday_late, None),
    ];
    let r = run(&tickets, sunday_late + Duration::hours(1));
    assert_eq!(r.heatmap[0][10], 2);
    assert_eq!(r.heatmap[0][11], 1);
    assert_eq!(r.heatmap[6][23], 1);
    assert_eq!(r.heatmap.iter().flatten().sum::<u64>(), 4);
}

#[test]
fn engineers_get_the_tickets_whose_latest_resolution_is_theirs() {
    let a = ticket(1, min(0));
    let a_ev = vec![created(&a), resolved(&a, min(30), "anna")];
    let b = ticket(2, min(0));
    let b_ev = vec![created(&b), resolved(&b, min(40), "anna")];
    // Resolved by anna, reopened, resolved again by bob: bob's.
    let c = ticket(3, min(0));
    let c_ev = vec![
        created(&c),
        resolved(&c, min(10), "anna"),
        reopened(&c, min(20)),
        resolved(&c, min(50), "bob"),
    ];
    // Resolved by monitoring: nobody's.
    let d = ticket(4, min(0));
    let d_ev = vec![created(&d), auto_resolved(&d, min(15))];
    let r = run(&[(a, a_ev), (b, b_ev), (c, c_ev), (d, d_ev)], min(100));
    let got: Vec<(&str, u64)> = r
        .per_engineer
        .iter()
        .map(|e| (e.engineer.as_str(), e.resolved))
        .collect();
    assert_eq!(got, vec![("anna", 2), ("bob", 1)]);
    assert_eq!(r.per_engineer[0].points, Survey::NoSurveyData);
    assert_eq!(r.per_engineer[0].csat, Survey::NoSurveyData);
}

#[test]
fn opened_and_closed_per_day_week_and_month() {
    // Mon 2025-03-03: opened, resolved, then closed (one closing).
    let a = ticket(1, min(0));
    let a_ev = vec![
        created(&a),
        resolved(&a, min(30), "anna"),
        closed(&a, min(40), "anna"),
    ];
    // Sun 2025-03-09 (same ISO week 10): closed without resolution.
    let b_at = min(0) + Duration::days(6);
    let b = ticket(2, b_at);
    let b_ev = vec![created(&b), closed(&b, b_at + Duration::hours(1), "bob")];
    // Mon 2025-03-31 (week 14, March) opened; auto-resolved on Tue 2025-04-01.
    let c_at = min(0) + Duration::days(28);
    let c = ticket(3, c_at);
    let c_ev = vec![created(&c), auto_resolved(&c, c_at + Duration::days(1))];
    let r = run(
        &[(a, a_ev), (b, b_ev), (c, c_ev)],
        min(0) + Duration::days(40),
    );
    let pc = |p: &str, o, c| PeriodCount {
        period: p.into(),
        opened: o,
        closed: c,
    };
    assert_eq!(
        r.volume.per_day,
        vec![
            pc("2025-03-03", 1, 1),
            pc("2025-03-09", 1, 1),
            pc("2025-03-31", 1, 0),
            pc("2025-04-01", 0, 1),
        ]
    );
    assert_eq!(
        r.volume.per_week,
        vec![pc("2025-W10", 2, 2), pc("2025-W14", 1, 1)]
    );
    assert_eq!(
        r.volume.per_month,
        vec![pc("2025-03", 3, 2), pc("2025-04", 0, 1)]
    );
}

#[test]
fn the_window_holds_tickets_created_in_it_and_closings_that_happened_in_it() {
    let old = ticket(1, min(0));
    let old_ev = vec![
        created(&old),
        resolved(&old, min(0) + Duration::days(5), "anna"),
    ];
    let new = ticket(2, min(0) + Duration::days(4));
    let new_ev = vec![created(&new)];
    let since = min(0) + Duration::days(3);
    let r = run_with(
        &[(old, old_ev), (new, new_ev)],
        min(0) + Duration::days(6),
        Some(since),
        &BTreeMap::new(),
        None,
    );
    assert_eq!(r.overall.opened, 1);
    let closed: u64 = r.volume.per_day.iter().map(|p| p.closed).sum();
    assert_eq!(closed, 1);
}

#[test]
fn per_customer_and_per_tier() {
    let mut a = acked(1, min(0), Some(5));
    a.0.customer = customer("acme");
    let mut b = acked(2, min(0), Some(15));
    b.0.customer = customer("globex");
    let mut c = acked(3, min(0), None);
    c.0.customer = customer("initech");
    let tiers = BTreeMap::from([
        (customer("acme"), "gold".to_owned()),
        (customer("globex"), "gold".to_owned()),
    ]);
    let r = run_with(&[a, b, c], min(60), None, &tiers, None);
    assert_eq!(r.per_customer.len(), 3);
    assert_eq!(
        r.per_customer["globex"].time_to_acknowledge.mean_secs,
        Some(900.0)
    );
    assert_eq!(r.per_tier["gold"].opened, 2);
    assert_eq!(
        r.per_tier["gold"].time_to_acknowledge.mean_secs,
        Some(600.0)
    );
    assert_eq!(r.per_tier[report::UNKNOWN_TIER].opened, 1);
}

#[test]
fn survey_kpis_are_na_without_survey_data_never_zero() {
    let r = run(&[acked(1, min(0), Some(5))], min(60));
    assert_eq!(r.overall.csat, Survey::NoSurveyData);
    assert_eq!(r.overall.survey_response_rate, Survey::NoSurveyData);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["overall"]["csat"], NO_SURVEY_DATA);
    assert_eq!(json["overall"]["survey_response_rate"], NO_SURVEY_DATA);
}

#[test]
fn with_surveys_csat_response_rate_and_points() {
    let day = Duration::days(1);
    let now = min(0) + day * 30;
    // anna: resolved, rated 5, stayed closed 29 days: a point.
    let a = ticket(1, min(0));
    let a_ev = vec![created(&a), resolved(&a, min(60), "anna")];
    // anna: rated 4 but reopened 2 days later and resolved again by anna 3 days before now: no point.
    let b = ticket(2, min(0));
    let b_ev = vec![
        created(&b),
        resolved(&b, min(60), "anna"),
        reopened(&b, min(60) + day * 2),
        resolved(&b, now - day * 3, "anna"),
    ];
    // bob: rated 2: no point.
    let c = ticket(3, min(0));
    let c_ev = vec![created(&c), resolved(&c, min(60), "bob")];
    // bob: survey sent, no answer.
    let d = ticket(4, min(0));
    let d_ev = vec![created(&d), resolved(&d, min(60), "bob")];
    let answer = |r: u8| {
        Some(SurveyAnswer {
            rating: r,
            answered_at: min(0) + day,
        })
    };
    let sent = |id: i64, answer| SurveyRecord {
        ticket: forewarn::ticket::model::TicketId(id),
        sent_at: min(0) + day,
        answer,
    };
    let surveys = vec![
        sent(1, answer(5)),
        sent(2, answer(4)),
        sent(3, answer(2)),
        sent(4, None),
    ];
    let r = run_with(
        &[(a, a_ev), (b, b_ev), (c, c_ev), (d, d_ev)],
        now,
        None,
        &BTreeMap::new(),
        Some(&surveys),
    );
    assert_eq!(r.overall.csat, Survey::Available(rate(2, 3)));
    assert_eq!(
        r.overall.survey_response_rate,
        Survey::Available(rate(3, 4))
    );
    let anna = &r.per_engineer[0];
    assert_eq!(anna.engineer, "anna");
    assert_eq!(anna.points, Survey::Available(1));
    assert_eq!(anna.csat, Survey::Available(rate(2, 2)));
    let bob = &r.per_engineer[1];
    assert_eq!(bob.points, Survey::Available(0));
    assert_eq!(bob.csat, Survey::Available(rate(0, 1)));
}

// ---------------------------------------------------------------------------------------------
// The command over a real SQLite store.

fn new_ticket(customer_id: &str, origin: Origin, created_at: DateTime<Utc>) -> NewTicket {
    NewTicket {
        customer: customer(customer_id),
        title: "shop down".into(),
        problem: "site_down".into(),
        severity: forewarn::ticket::model::Severity::P2,
        origin,
        checks: vec![],
        incident: None,
        assignee: None,
        skill_group: "web".into(),
        created_at,
        ack_due: Some(created_at + Duration::minutes(10)),
        first_update_due: Some(created_at + Duration::minutes(20)),
        resolve_due: Some(created_at + Duration::hours(4)),
        next_update_due: None,
    }
}

fn new_event(ev: TimelineEvent) -> NewEvent {
    NewEvent {
        at: ev.at,
        actor: ev.actor,
        public: ev.public,
        kind: ev.kind,
    }
}

async fn filled_store() -> (
    std::sync::Arc<dyn forewarn::store::Store>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/forewarn.db", dir.path().display());
    let store = forewarn::store::open(&url).await.unwrap();
    for (i, (cust, origin, ack_after)) in [
        ("acme", Origin::Monitoring, 5),
        ("acme", Origin::Monitoring, 10),
        ("globex", Origin::Customer, 30),
    ]
    .into_iter()
    .enumerate()
    {
        let created_at = min(i as i64 * 60);
        let mut t = store
            .create_ticket(
                new_ticket(cust, origin, created_at),
                Box::new(move |t: &Ticket| (vec![new_event(created(t))], vec![])),
            )
            .await
            .unwrap();
        let ack_at = created_at + Duration::minutes(ack_after);
        t.status = TicketStatus::Acknowledged;
        t.acknowledged_at = Some(ack_at);
        store
            .save_ticket(
                &t,
                TicketStatus::New,
                vec![new_event(ack(&t, ack_at, "anna"))],
                vec![],
                ack_at,
            )
            .await
            .unwrap();
        t.version += 1; // every save bumps it
        let res_at = created_at + Duration::hours(1);
        t.status = TicketStatus::Resolved;
        t.resolved_at = Some(res_at);
        store
            .save_ticket(
                &t,
                TicketStatus::Acknowledged,
                vec![new_event(resolved(&t, res_at, "anna"))],
                vec![],
                res_at,
            )
            .await
            .unwrap();
    }
    (store, dir)
}

fn args(by: Option<By>, format: Format) -> ReportArgs {
    ReportArgs {
        since: std::time::Duration::from_secs(30 * 86_400),
        by,
        format,
    }
}

#[tokio::test]
async fn report_command_prints_a_table_json_and_csv_from_the_store() {
    forewarn::probe::install_crypto_provider();
    let (store, _dir) = filled_store().await;
    let tiers = Attributes::with_tiers(&BTreeMap::from([(customer("acme"), "gold".to_owned())]));
    let now = min(0) + Duration::days(2);

    let table = render_report(
        &*store,
        &tiers,
        &args(Some(By::Engineer), Format::Table),
        now,
    )
    .await
    .unwrap();
    assert!(table.contains("tickets opened"), "{table}");
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l[name.len()..].trim().to_owned())
    };
    assert_eq!(line("time to acknowledge mean").as_deref(), Some("15m 00s"));
    assert_eq!(line("time to acknowledge p90").as_deref(), Some("30m 00s"));
    assert_eq!(line("CSAT").as_deref(), Some(NO_SURVEY_DATA));
    assert!(table.contains("66.7% (2/3)"), "proactive share: {table}");
    assert!(table.contains(NO_SURVEY_DATA), "{table}");
    assert!(table.contains("anna"), "{table}");

    let json = render_report(&*store, &tiers, &args(None, Format::Json), now)
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["overall"]["opened"], 3);
    assert_eq!(v["overall"]["time_to_acknowledge"]["mean_secs"], 900.0);
    assert_eq!(v["overall"]["sla"]["acknowledge"]["met"], 2);
    assert_eq!(v["overall"]["sla"]["acknowledge"]["breached"], 1);
    assert_eq!(v["overall"]["csat"], NO_SURVEY_DATA);
    assert_eq!(v["per_tier"]["gold"]["opened"], 2);
    assert_eq!(v["per_engineer"][0]["resolved"], 3);

    let csv = render_report(&*store, &tiers, &args(Some(By::Tier), Format::Csv), now)
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "tier,opened,resolved,ack mean,ack p90,resolve mean,resolve p90,sla,reopen,csat,\
         time spent,per resolved,knew first,told first"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with("gold,2,2,"), "{csv}");
    assert!(
        lines[1].contains(&format!(",{NO_SURVEY_DATA},0m,0m,")),
        "no time logged: 0m, and 0m per resolved ticket: {csv}"
    );
    let summary = render_report(&*store, &tiers, &args(None, Format::Csv), now)
        .await
        .unwrap();
    assert!(
        summary.starts_with("kpi,value\ntickets opened,3\n"),
        "{summary}"
    );
}

// ---------------------------------------------------------------------------------------------
// Customer health (docs/kpis.md, "Customer health"): the score from hand-built timelines.

#[test]
fn customer_health_is_scored_from_timelines_and_rollups_worst_first() {
    use forewarn::report::health::{Band, HealthInput, Runs, customer_health};
    use forewarn::ticket::model::{EventKind, Severity};
    let now = min(0) + Duration::days(2);
    // acme: an open P1 whose acknowledge target was breached, with one broken promise.
    let mut a1 = ticket(1, min(0));
    a1.severity = Severity::P1;
    a1.status = TicketStatus::InProgress;
    a1.ack_due = Some(min(10));
    let auto = |t: &Ticket, m| {
        ev(
            t,
            min(m),
            forewarn::ticket::Actor::System,
            EventKind::AutomaticUpdate {
                next_update: min(m + 60),
            },
        )
    };
    let a1_events = vec![created(&a1), ack(&a1, min(30), "ann"), auto(&a1, 90)];
    // acme: a P3 resolved, reopened within a day and resolved again; its survey says 2/5.
    let mut a2 = ticket(2, min(0));
    a2.severity = Severity::P3;
    a2.status = TicketStatus::Resolved;
    let a2_events = vec![
        created(&a2),
        resolved(&a2, min(60), "ann"),
        reopened(&a2, min(120)),
        resolved(&a2, min(180), "ann"),
    ];
    // bolt: one resolved ticket, 100 % uptime, survey 5/5.
    let mut b1 = ticket(3, min(0));
    b1.customer = customer("bolt");
    b1.status = TicketStatus::Resolved;
    let b1_events = vec![created(&b1), resolved(&b1, min(20), "bob")];
    // bolt: a broken promise long before the window does not count.
    let mut old = ticket(4, min(0) - Duration::days(60));
    old.customer = customer("bolt");
    old.status = TicketStatus::Closed;
    let old_events = vec![auto(&old, -60 * 24 * 60 + 10)];
    let tickets = vec![
        (a1, a1_events),
        (a2, a2_events),
        (b1, b1_events),
        (old, old_events),
    ];
    let runs = BTreeMap::from([
        (
            customer("acme"),
            Runs {
                runs: 1000,
                failures: 20,
            },
        ),
        (
            customer("bolt"),
            Runs {
                runs: 500,
                failures: 0,
            },
        ),
    ]);
    let answered = |ticket, rating| SurveyRecord {
        ticket: forewarn::ticket::TicketId(ticket),
        sent_at: min(200),
        answer: Some(SurveyAnswer {
            rating,
            answered_at: min(300),
        }),
    };
    let surveys = vec![answered(2, 2), answered(3, 5)];
    let customers = vec![
        (customer("bolt"), "Bolt".to_owned()),
        (customer("calm"), "Calm".to_owned()),
        (customer("acme"), "Acme".to_owned()),
    ];
    let input = HealthInput {
        customers: &customers,
        tickets: &tickets,
        runs: &runs,
        surveys: Some(&surveys),
        since: now - Duration::days(30),
        now,
    };
    let health = customer_health(&input);
    let order: Vec<&str> = health.iter().map(|h| h.customer.as_str()).collect();
    // bolt and calm both score 100: then fewer open tickets, then the id.
    assert_eq!(order, ["acme", "bolt", "calm"]);
    let acme = &health[0];
    assert_eq!(acme.facts.open, [1, 0, 0, 0]);
    assert_eq!(acme.facts.sla_breaches, 1, "the acknowledge target");
    assert_eq!(acme.facts.broken_promises, 1);
    assert_eq!(
        acme.facts.reopen_rate,
        Rate {
            numerator: 1,
            denominator: 1
        }
    );
    assert_eq!(
        acme.facts.csat,
        Survey::Available(Rate {
            numerator: 0,
            denominator: 1
        })
    );
    assert_eq!(
        acme.facts.uptime,
        Rate {
            numerator: 980,
            denominator: 1000
        }
    );
    // 15 (open P1) + 5 (one breach) + 10 (98 % uptime) + 20 (CSAT 0 %) + 10 (reopen 100 %)
    // + 5 (one broken promise) = 65.
    assert_eq!(acme.penalties.total(), 65.0);
    assert_eq!(acme.score, 35);
    assert_eq!(acme.band, Band::Critical);
    assert_eq!(health[1].facts.broken_promises, 0, "outside the window");
    assert_eq!(health[1].score, 100);
    assert_eq!(health[2].facts.uptime.denominator, 0, "calm has no runs");
    assert_eq!(health[2].score, 100);
    // Without survey data CSAT is n/a and costs nothing: 100 − 45.
    let health = customer_health(&HealthInput {
        surveys: None,
        ..input
    });
    assert_eq!(health[0].facts.csat, Survey::NoSurveyData);
    assert_eq!(health[0].score, 55);
}

// ---------------------------------------------------------------------------------------------
// Time spent and cost (docs/kpis.md, "Time spent and cost"; "Per customer, tier, plan and
// server").

fn rated(mut a: Attributes, amount: f64) -> Attributes {
    a.hourly_rate = Some(HourlyRate {
        amount,
        currency: "EUR".into(),
    });
    a
}

#[test]
fn time_spent_per_ticket_per_engineer_and_per_resolved_ticket() {
    // A: resolved; anna 30m, bob 15m.
    let a = ticket(1, min(0));
    let a_ev = vec![
        created(&a),
        spent(&a, min(10), "anna", 30),
        spent(&a, min(20), "bob", 15),
        resolved(&a, min(20), "bob"),
    ];
    // B: auto-resolved, nobody logged anything: 0 in the mean.
    let b = ticket(2, min(0));
    let b_ev = vec![created(&b), auto_resolved(&b, min(15))];
    // C: still open, anna 60m: in the total, not in "per resolved ticket".
    let c = ticket(3, min(0));
    let c_ev = vec![created(&c), spent(&c, min(70), "anna", 60)];
    // D: resolved, reopened, resolved again; time in both cycles: one ticket, 30m.
    let d = ticket(4, min(0));
    let d_ev = vec![
        created(&d),
        spent(&d, min(5), "bob", 10),
        resolved(&d, min(5), "bob"),
        reopened(&d, min(50)),
        spent(&d, min(60), "bob", 20),
        resolved(&d, min(60), "bob"),
    ];
    // E: open, no time: neither.
    let e = ticket(5, min(0));
    let e_ev = vec![created(&e)];
    let tickets = [(a, a_ev), (b, b_ev), (c, c_ev), (d, d_ev), (e, e_ev)];
    let r = run_attributed(&tickets, min(600), None, &Attributes::default(), None);
    let t = &r.overall.time_spent;
    assert_eq!(t.minutes, 135);
    assert_eq!(t.tickets_with_time, 3);
    assert_eq!(r.overall.resolved, 3);
    assert_eq!(t.resolved_minutes, 75, "A 45 + B 0 + D 30");
    assert_eq!(t.resolved_without_time, 1);
    assert_eq!(t.mean_minutes_per_resolved, Some(25.0));
    assert_eq!(t.cost, None, "no hourly rate: hours only");
    assert_eq!(r.hourly_rate, None);
    let order: Vec<(i64, u64)> = r
        .time_per_ticket
        .iter()
        .map(|t| (t.ticket.0, t.minutes))
        .collect();
    assert_eq!(order, [(3, 60), (1, 45), (4, 30)], "most time first");
    assert_eq!(
        r.time_per_ticket[1].by,
        BTreeMap::from([("anna".to_owned(), 30), ("bob".to_owned(), 15)])
    );
    assert!(!r.time_per_ticket[0].resolved);
    let logged: Vec<(&str, u64, u64)> = r
        .per_engineer
        .iter()
        .map(|e| (e.engineer.as_str(), e.minutes_logged, e.tickets_logged))
        .collect();
    assert_eq!(logged, [("anna", 90, 2), ("bob", 45, 2)]);

    // With a rate of 40 an hour: 135 minutes cost 90.
    let r = run_attributed(
        &tickets,
        min(600),
        None,
        &rated(Attributes::default(), 40.0),
        None,
    );
    assert_eq!(r.overall.time_spent.cost, Some(90.0));
    assert_eq!(r.time_per_ticket[0].cost, Some(40.0));
    assert_eq!(r.per_engineer[1].cost, Some(30.0));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["overall"]["time_spent"]["minutes"], 135);
    assert_eq!(json["hourly_rate"]["currency"], "EUR");
}

#[test]
fn without_any_time_logged_the_figures_are_zero_and_the_mean_counts_zeros() {
    let a = ticket(1, min(0));
    let a_ev = vec![created(&a), resolved(&a, min(30), "anna")];
    let r = run(&[(a, a_ev)], min(60));
    let t = &r.overall.time_spent;
    assert_eq!((t.minutes, t.tickets_with_time), (0, 0));
    assert_eq!(t.mean_minutes_per_resolved, Some(0.0));
    assert_eq!(t.resolved_without_time, 1);
    assert!(r.time_per_ticket.is_empty());
    // Nothing resolved: no mean at all.
    let open = ticket(2, min(0));
    let r = run(&[(open.clone(), vec![created(&open)])], min(60));
    assert_eq!(r.overall.time_spent.mean_minutes_per_resolved, None);
}

#[test]
fn cost_per_tier_plan_and_server_adds_up_to_the_whole() {
    let attrs = |tier: &str, plan: Option<&str>, servers: &[&str]| CustomerAttributes {
        tier: tier.into(),
        plan: plan.map(str::to_owned),
        servers: servers.iter().map(|s| (*s).to_owned()).collect(),
    };
    let shop = forewarn::model::CheckId::parse("acme-shop").unwrap();
    let blog = forewarn::model::CheckId::parse("acme-blog").unwrap();
    let attributes = rated(
        Attributes {
            customers: BTreeMap::from([
                (
                    customer("acme"),
                    attrs("gold", Some("vps-2"), &["web1", "web2"]),
                ),
                (customer("bolt"), attrs("standard", None, &["db1"])),
            ]),
            check_servers: BTreeMap::from([(shop.clone(), "web2".to_owned())]),
            hourly_rate: None,
        },
        40.0,
    );
    let with = |id: i64, cust: &str, checks: Vec<forewarn::model::CheckId>, minutes: u32| {
        let mut t = ticket(id, min(0));
        t.customer = customer(cust);
        t.checks = checks;
        let evs = vec![created(&t), spent(&t, min(5), "anna", minutes)];
        (t, evs)
    };
    let tickets = [
        // The check without a server comes first; the one with a server decides: web2.
        with(1, "acme", vec![blog, shop], 60),
        // Acme has two servers and this names no check: unknown, never both.
        with(2, "acme", vec![], 30),
        // Bolt has one server: the ticket is about it.
        with(3, "bolt", vec![], 15),
        // A customer no longer configured: unknown tier, plan and server.
        with(4, "gone", vec![], 10),
    ];
    let r = run_attributed(&tickets, min(60), None, &attributes, None);
    let minutes = |m: &BTreeMap<String, report::Kpis>| -> Vec<(String, u64)> {
        m.iter()
            .map(|(k, v)| (k.clone(), v.time_spent.minutes))
            .collect()
    };
    let pairs = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
        v.iter().map(|(k, m)| ((*k).to_owned(), *m)).collect()
    };
    assert_eq!(
        minutes(&r.per_tier),
        pairs(&[("gold", 90), ("standard", 15), ("unknown", 10)])
    );
    assert_eq!(
        minutes(&r.per_plan),
        pairs(&[("unknown", 25), ("vps-2", 90)])
    );
    assert_eq!(
        minutes(&r.per_server),
        pairs(&[("db1", 15), ("unknown", 40), ("web2", 60)])
    );
    assert_eq!(r.per_tier["gold"].time_spent.cost, Some(60.0));
    assert_eq!(r.per_tier["gold"].opened, 2);
    assert_eq!(r.per_server["web2"].time_spent.cost, Some(40.0));
    assert_eq!(r.per_plan["vps-2"].time_spent.tickets_with_time, 2);
    let total: u64 = r.per_server.values().map(|k| k.time_spent.minutes).sum();
    assert_eq!(total, r.overall.time_spent.minutes);
}

#[tokio::test]
async fn report_command_breaks_time_and_cost_down_by_plan_and_server() {
    forewarn::probe::install_crypto_provider();
    let (store, _dir) = filled_store().await;
    // Log 90 minutes on the globex ticket (#3) by bob.
    let mut t = store
        .ticket(forewarn::ticket::model::TicketId(3))
        .await
        .unwrap()
        .unwrap();
    let at = t.created_at + Duration::minutes(20);
    let entry = spent(&t, at, "bob", 90);
    let status = t.status;
    store
        .save_ticket(&t, status, vec![new_event(entry)], vec![], at)
        .await
        .unwrap();
    t.version += 1;
    let mut attributes = rated(Attributes::default(), 40.0);
    attributes.customers.insert(
        customer("globex"),
        CustomerAttributes {
            tier: "silver".into(),
            plan: Some("shared-1".into()),
            servers: vec!["web7".into()],
        },
    );
    let now = min(0) + Duration::days(2);
    let csv = render_report(
        &*store,
        &attributes,
        &args(Some(By::Plan), Format::Csv),
        now,
    )
    .await
    .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("plan,opened,"), "{csv}");
    assert!(lines[0].ends_with(",cost"), "{csv}");
    let shared = lines
        .iter()
        .find(|l| l.starts_with("shared-1,"))
        .expect("a line for the plan");
    assert!(shared.contains(",1h 30m,1h 30m,"), "{csv}");
    assert!(shared.ends_with(",60.00 EUR"), "{csv}");
    let table = render_report(
        &*store,
        &attributes,
        &args(Some(By::Server), Format::Table),
        now,
    )
    .await
    .unwrap();
    assert!(table.contains("web7"), "{table}");
    assert!(table.contains("cost of time spent"), "{table}");
    assert!(
        table.contains("60.00 EUR (at 40.00 EUR an hour)"),
        "{table}"
    );
    assert!(
        table.contains("Time spent per ticket (the 1 that took most of 1)"),
        "{table}"
    );
    let eng = render_report(
        &*store,
        &attributes,
        &args(Some(By::Engineer), Format::Csv),
        now,
    )
    .await
    .unwrap();
    let bob = eng
        .lines()
        .find(|l| l.starts_with("bob,"))
        .expect("bob logged time, so bob has a line");
    assert!(bob.contains("1h 30m on 1 tickets"), "{eng}");
}

// ---------------------------------------------------------------------------------------------
// MTTA / MTTR per engineer (docs/kpis.md, "Per engineer").

#[test]
fn mtta_and_mttr_per_engineer_count_each_cycle_for_who_did_it() {
    // X: anna acknowledges at 5 and resolves at 10; reopened at 20; bob's update at 23
    // acknowledges the second cycle, bob resolves at 50.
    let x = ticket(1, min(0));
    let x_ev = vec![
        created(&x),
        ack(&x, min(5), "anna"),
        resolved(&x, min(10), "anna"),
        reopened(&x, min(20)),
        update(&x, min(23), staff("bob")),
        resolved(&x, min(50), "bob"),
    ];
    // Y: monitoring resolved it before anyone acknowledged: nobody's.
    let y = ticket(2, min(0));
    let y_ev = vec![created(&y), auto_resolved(&y, min(15))];
    // Z: bob acknowledges at 7, carl resolves at 60; a second acknowledgement counts no more.
    let z = ticket(3, min(0));
    let z_ev = vec![
        created(&z),
        ack(&z, min(7), "bob"),
        ack(&z, min(8), "carl"),
        resolved(&z, min(60), "carl"),
    ];
    let r = run(&[(x, x_ev), (y, y_ev), (z, z_ev)], min(600));
    let e = |name: &str| {
        r.per_engineer
            .iter()
            .find(|e| e.engineer == name)
            .unwrap_or_else(|| panic!("{name} has a row"))
    };
    let anna = e("anna");
    assert_eq!(anna.resolved, 0, "X's latest resolution is bob's");
    assert_eq!(anna.time_to_acknowledge.count, 1);
    assert_eq!(anna.time_to_acknowledge.mean_secs, Some(300.0));
    assert_eq!(anna.time_to_resolve.mean_secs, Some(600.0));
    let bob = e("bob");
    assert_eq!(bob.resolved, 1);
    assert_eq!(bob.time_to_acknowledge.count, 2);
    assert_eq!(
        bob.time_to_acknowledge.mean_secs,
        Some(300.0),
        "3 and 7 minutes"
    );
    assert_eq!(bob.time_to_acknowledge.median_secs, Some(180));
    assert_eq!(bob.time_to_acknowledge.p90_secs, Some(420));
    assert_eq!(
        bob.time_to_resolve.mean_secs,
        Some(1800.0),
        "from the reopening at 20 to 50"
    );
    let carl = e("carl");
    assert_eq!(carl.time_to_acknowledge.count, 0);
    assert_eq!(carl.time_to_acknowledge.mean_secs, None);
    assert_eq!(carl.time_to_resolve.mean_secs, Some(3600.0));
    assert_eq!(r.per_engineer.len(), 3);
    // The team's figures still take each ticket's first occurrence.
    assert_eq!(r.overall.time_to_acknowledge.measured, 2);
}

// ---------------------------------------------------------------------------------------------
// Proactive lead (docs/kpis.md, "Proactive lead").

fn with_checks(mut t: Ticket, origin: Origin, checks: &[&str]) -> Ticket {
    t.origin = origin;
    t.checks = checks
        .iter()
        .map(|c| forewarn::model::CheckId::parse(c).unwrap())
        .collect();
    t
}

#[test]
fn proactive_lead_who_knew_first_and_who_was_told_first() {
    let m = Origin::Monitoring;
    let c = Origin::Customer;
    // M1: monitoring, the shop, open 0–100, its mail delivered at 1.
    let m1 = with_checks(ticket(1, min(0)), m, &["shop"]);
    let m1_ev = vec![
        created(&m1),
        delivered(&m1, min(1)),
        auto_resolved(&m1, min(100)),
    ];
    // C1: a mail at 30 naming no site, while M1 is open: monitoring knew 30 minutes before.
    let c1 = with_checks(ticket(2, min(30)), c, &[]);
    let c1_ev = vec![created(&c1)];
    // C4: at 50 about the blog, another site: M1 does not count.
    let c4 = with_checks(ticket(3, min(50)), c, &["blog"]);
    let c4_ev = vec![created(&c4), resolved(&c4, min(90), "anna")];
    // C2 at 200 about the shop; monitoring opens M2 at 210: the customer was first by 10 min.
    let c2 = with_checks(ticket(4, min(200)), c, &["shop"]);
    let c2_ev = vec![created(&c2)];
    let m2 = with_checks(ticket(5, min(210)), m, &["shop"]);
    let m2_ev = vec![created(&m2), delivered(&m2, min(211))];
    // C3 at 400 by another customer: acme's open M2 does not count; monitoring never knew.
    let mut c3 = with_checks(ticket(6, min(400)), c, &[]);
    c3.customer = customer("bolt");
    let c3_ev = vec![created(&c3)];
    // M3: no mail delivered, the customer replied at 510: the customer wrote first.
    let mut m3 = with_checks(ticket(7, min(500)), m, &["dns"]);
    m3.customer = customer("calm");
    let m3_ev = vec![created(&m3), customer_reply(&m3, min(510))];
    // M4: no mail delivered (no contacts), the customer never wrote: not told.
    let mut m4 = with_checks(ticket(8, min(600)), m, &["dns"]);
    m4.customer = customer("dawn");
    let m4_ev = vec![created(&m4)];
    let r = run(
        &[
            (m1, m1_ev),
            (c1, c1_ev),
            (c4, c4_ev),
            (c2, c2_ev),
            (m2, m2_ev),
            (c3, c3_ev),
            (m3, m3_ev),
            (m4, m4_ev),
        ],
        min(700),
    );
    let l = &r.overall.lead;
    assert_eq!(l.customer_reports, 4);
    assert_eq!(l.monitoring_first, rate(1, 4), "only C1");
    assert_eq!(l.lead_time.median_secs, Some(30 * 60));
    assert_eq!(l.customer_first, 1, "C2");
    assert_eq!(l.monitoring_lag.median_secs, Some(10 * 60));
    assert_eq!(
        l.never_knew, 2,
        "C4 (another site) and C3 (another customer)"
    );
    assert_eq!(l.monitoring_tickets, 4);
    assert_eq!(l.told_first, rate(1, 4), "M1: told at 1, C1 wrote at 30");
    assert_eq!(
        l.customer_wrote_first, 2,
        "M2 (C2 open before it) and M3 (a reply)"
    );
    assert_eq!(l.not_told, 1, "M4");
    assert_eq!(l.time_to_tell.count, 2);
    assert_eq!(l.time_to_tell.median_secs, Some(60));
    // Per customer: bolt's only report was one monitoring never knew.
    assert_eq!(r.per_customer["bolt"].lead.monitoring_first, rate(0, 1));
}

#[test]
fn proactive_lead_counts_from_the_cycle_a_reopened_monitoring_ticket_was_in() {
    // M: opened at 0, resolved at 10, reopened at 100, still open.
    let m = with_checks(ticket(1, min(0)), Origin::Monitoring, &["shop"]);
    let m_ev = vec![
        created(&m),
        auto_resolved(&m, min(10)),
        reopened(&m, min(100)),
        delivered(&m, min(101)),
    ];
    // A report at 50, between the resolution and the reopening: the customer was first, and
    // monitoring knew 50 minutes later (the reopening), while the report was still open.
    let early = with_checks(ticket(2, min(50)), Origin::Customer, &[]);
    let early_ev = vec![created(&early)];
    // A report at 130: monitoring had known for 30 minutes (since the reopening, not 130).
    let late = with_checks(ticket(3, min(130)), Origin::Customer, &["shop"]);
    let late_ev = vec![created(&late)];
    let r = run(&[(m, m_ev), (early, early_ev), (late, late_ev)], min(300));
    let l = &r.overall.lead;
    assert_eq!(l.monitoring_first, rate(1, 2));
    assert_eq!(l.lead_time.mean_secs, Some(30.0 * 60.0));
    assert_eq!(l.customer_first, 1);
    assert_eq!(l.monitoring_lag.mean_secs, Some(50.0 * 60.0));
    // The early report was open when M reopened, and written before M's mail at 101.
    assert_eq!(l.told_first, rate(0, 1));
    assert_eq!(l.customer_wrote_first, 1);
}

#[test]
fn a_ticket_s_cycles_run_from_creation_or_reopening_to_the_end_after_it() {
    let t = ticket(1, min(0));
    let evs = vec![
        created(&t),
        resolved(&t, min(10), "anna"),
        closed(&t, min(12), "anna"),
        reopened(&t, min(100)),
    ];
    assert_eq!(
        report::cycles(&t, &evs),
        vec![(min(0), Some(min(10))), (min(100), None)]
    );
}

// ---------------------------------------------------------------------------------------------
// End to end: time logged through the staff page's forms and the real binary's CLI shows on
// the ticket page, in `forewarn report --format json` and on `/kpis`.

const PASSWORD: &str = "a long report password";
const STAFF_TOKEN: &str = "report-staff-token-for-tests";

fn forewarn_cli(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(dir.join("forewarn.toml"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_logged_on_the_ticket_page_and_with_the_cli_shows_in_the_report_and_on_kpis() {
    use support_server::{add_staff, client, session_cookie};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("checks")).unwrap();
    std::fs::write(
        d.join("forewarn.toml"),
        "database = \"sqlite://data/forewarn.db\"\n\n[report]\nhourly_rate = 40\ncurrency = \"EUR\"\n\n\
         [web]\nstaff_token = { file = \"staff.token\" }\n",
    )
    .unwrap();
    std::fs::write(d.join("staff.token"), format!("{STAFF_TOKEN}\n")).unwrap();
    std::fs::write(
        d.join("checks/acme.toml"),
        "[customer]\nid = \"acme\"\nname = \"Acme\"\ntier = \"gold\"\nplan = \"vps-2\"\n\
         servers = [\"web1\"]\n",
    )
    .unwrap();
    let server = support_server::start(&d.join("forewarn.toml")).await;
    let base = format!("http://{}", server.addr);
    add_staff(&server, "ann", "Ann Smith", PASSWORD).await;
    let cookie = session_cookie(&base, "ann", PASSWORD).await;
    let get = |path: String| {
        let cookie = cookie.clone();
        async move {
            let r = client()
                .get(path)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (_, home) = get(format!("{base}/")).await;
    let at = home.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
    let csrf = home[at..at + 64].to_owned();
    let post = |path: String, fields: Vec<(&'static str, &'static str)>| {
        let (cookie, csrf) = (cookie.clone(), csrf.clone());
        async move {
            let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
            all.extend(fields);
            let r = client()
                .post(path)
                .header("cookie", cookie)
                .form(&all)
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let created_at = Utc::now() - Duration::minutes(30);
    let mut opening = new_ticket("acme", Origin::Customer, created_at);
    opening.problem = "customer_request".into();
    let id = server
        .store
        .create_ticket(
            opening,
            Box::new(move |t: &Ticket| (vec![new_event(created(t))], vec![])),
        )
        .await
        .unwrap()
        .id;
    let page = format!("{base}/tickets/{}", id.0);

    // A public update with 1h30m through the form.
    let (status, _) = post(
        format!("{page}/update"),
        vec![
            ("kind", "public"),
            ("message", "We are restoring the database."),
            ("spent", "1h30m"),
        ],
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::SEE_OTHER);
    // A value that is not a time is refused, with what to write, and nothing is saved.
    let before = server.store.timeline(id).await.unwrap().len();
    let (status, body) = post(
        format!("{page}/update"),
        vec![
            ("kind", "internal"),
            ("message", "half an hour more"),
            ("spent", "1.5h"),
        ],
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("e.g. 15m, 1h30m or 2h"), "{body}");
    assert!(
        body.contains("half an hour more"),
        "the typed note is kept: {body}"
    );
    assert_eq!(server.store.timeline(id).await.unwrap().len(), before);

    // An internal note with 15m through the real binary; 0 is refused there too.
    let n = id.0.to_string();
    let (code, out, err) = forewarn_cli(
        d,
        &[
            "ticket",
            "update",
            &n,
            "--message",
            "checked the logs",
            "--internal",
            "--spent",
            "15m",
            "--by",
            "ann",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!(
            "15m logged as your time spent on ticket #{}.",
            id.0
        )),
        "{out}"
    );
    let (code, _, err) = forewarn_cli(
        d,
        &[
            "ticket",
            "update",
            &n,
            "--message",
            "nothing",
            "--internal",
            "--spent",
            "0",
            "--by",
            "ann",
        ],
    );
    assert_ne!(code, Some(0));
    assert!(err.contains("is zero"), "{err}");

    // An internal note with 15m through the API (recorded as the token's caller); a bad
    // value is refused with the reason.
    let updates = format!("{base}/api/v1/tickets/{}/updates", id.0);
    let api = |body: serde_json::Value| {
        let url = updates.clone();
        async move {
            let r = client()
                .post(url)
                .bearer_auth(STAFF_TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (status, body) = api(serde_json::json!({
        "message": "asked the DBA", "internal": true, "spent": "soon"
    }))
    .await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("e.g. 15m"), "{body}");
    let (status, body) = api(serde_json::json!({
        "message": "asked the DBA", "internal": true, "spent": "15m"
    }))
    .await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT, "{body}");

    // The resolution with 15m through the form.
    let (status, body) = post(
        format!("{page}/resolve"),
        vec![
            ("cause", "a full disk"),
            ("action", "rotated the logs"),
            ("fully_solved", "yes"),
            ("prevention", "log rotation every day"),
            ("spent", "15m"),
        ],
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::SEE_OTHER, "{body}");
    let logged: Vec<(String, u32)> = server
        .store
        .timeline(id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match (e.kind, e.actor, e.public) {
            (EventKind::TimeSpent { minutes, .. }, Actor::Staff(name), false) => {
                Some((name, minutes))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        logged,
        [
            ("ann".to_owned(), 90),
            ("ann".to_owned(), 15),
            ("service:staff-token".to_owned(), 15),
            ("ann".to_owned(), 15)
        ]
    );

    // The ticket page: the total with who logged it, and each entry.
    let (_, html) = get(page.clone()).await;
    assert!(html.contains("<b>2h 15m</b>"), "{html}");
    assert!(
        html.contains("Ann Smith 2h, service:staff-token 15m"),
        "{html}"
    );
    assert!(
        html.contains("time spent: 1h 30m (with a public update)"),
        "{html}"
    );
    assert!(
        html.contains("time spent: 15m (with the resolution)"),
        "{html}"
    );

    // forewarn report --format json, from the real binary.
    let (code, out, err) = forewarn_cli(d, &["report", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["overall"]["time_spent"]["minutes"], 135, "{out}");
    assert_eq!(
        v["overall"]["time_spent"]["mean_minutes_per_resolved"],
        135.0
    );
    assert_eq!(v["overall"]["time_spent"]["cost"], 90.0);
    assert_eq!(v["hourly_rate"]["currency"], "EUR");
    assert_eq!(v["per_plan"]["vps-2"]["time_spent"]["minutes"], 135);
    assert_eq!(v["per_server"]["web1"]["time_spent"]["cost"], 90.0);
    assert_eq!(v["per_tier"]["gold"]["opened"], 1);
    assert_eq!(v["time_per_ticket"][0]["ticket"], id.0);
    assert_eq!(v["time_per_ticket"][0]["by"]["ann"], 120);
    assert_eq!(v["time_per_ticket"][0]["by"]["service:staff-token"], 15);
    let ann = &v["per_engineer"][0];
    assert_eq!(ann["engineer"], "ann");
    assert_eq!(ann["minutes_logged"], 120);
    assert_eq!(ann["cost"], 80.0);
    assert_eq!(ann["time_to_acknowledge"]["count"], 1, "her public update");
    assert_eq!(ann["time_to_resolve"]["count"], 1);
    assert_eq!(v["overall"]["lead"]["customer_reports"], 1);
    assert_eq!(v["overall"]["lead"]["never_knew"], 1);

    // /kpis: the same figures.
    let (status, kpis) = get(format!("{base}/kpis?since=30d")).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    for needle in [
        "2h 15m",
        "90.00 EUR",
        "at 40.00 EUR an hour",
        "Per plan",
        "vps-2",
        "Per server",
        "web1",
        "Proactive lead",
        "Monitoring never knew",
        "ann 2h, service:staff-token 15m",
    ] {
        assert!(kpis.contains(needle), "{needle:?} on /kpis: {kpis}");
    }
    server.shutdown().await;
}

#[test]
fn a_bad_hourly_rate_or_an_empty_plan_is_refused_with_the_key() {
    let load = |global: &str, customer: &str| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("checks")).unwrap();
        std::fs::write(dir.path().join("forewarn.toml"), global).unwrap();
        std::fs::write(dir.path().join("checks/acme.toml"), customer).unwrap();
        forewarn::config::load(&dir.path().join("forewarn.toml")).map_err(|d| d.to_string())
    };
    let acme = "[customer]\nid = \"acme\"\nname = \"Acme\"\n";
    let err = load("[report]\nhourly_rate = -5\n", acme).unwrap_err();
    assert!(err.contains("report.hourly_rate"), "{err}");
    assert!(err.contains("positive number"), "{err}");
    let err = load("[report]\ncurrency = \"EUR\"\n", acme).unwrap_err();
    assert!(err.contains("needs an hourly_rate"), "{err}");
    let err = load("", &format!("{acme}plan = \"  \"\n")).unwrap_err();
    assert!(err.contains("customer.plan"), "{err}");
    let ok = load(
        "[report]\nhourly_rate = 52.5\ncurrency = \"USD\"\n",
        &format!("{acme}plan = \"vps-2\"\n"),
    )
    .unwrap();
    assert_eq!(ok.hourly_rate.as_ref().map(|r| r.amount), Some(52.5));
    assert_eq!(ok.customers[0].plan.as_deref(), Some("vps-2"));
    assert_eq!(
        Attributes::from_config(&ok).plan(&customer("acme")),
        "vps-2"
    );
}
