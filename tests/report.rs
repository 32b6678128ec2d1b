//! KPIs computed from hand-built timelines with known answers, and `forewarn report` over a
//! SQLite store filled through the real TicketStore API.

#[path = "support/report.rs"]
mod support_report;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use forewarn::cli::report::{By, Format, ReportArgs, render_report};
use forewarn::report::{
    self, NO_SURVEY_DATA, PeriodCount, Rate, Report, ReportInput, SlaVerdict, Survey, SurveyAnswer,
    SurveyRecord, compute, nearest_rank,
};
use forewarn::store::tickets::{NewEvent, NewTicket};
use forewarn::ticket::model::{Origin, SlaTarget, Ticket, TicketStatus, TimelineEvent};
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
    forewarn::probe::install_crypto_provider();
    compute(&ReportInput {
        tickets,
        now,
        since,
        tiers,
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
    let tiers = BTreeMap::from([(customer("acme"), "gold".to_owned())]);
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
        "tier,opened,resolved,ack mean,ack p90,resolve mean,resolve p90,sla,reopen,csat"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with("gold,2,2,"), "{csv}");
    assert!(lines[1].ends_with(NO_SURVEY_DATA), "{csv}");
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
