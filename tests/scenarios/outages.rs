//! Scenarios 1–5: what customers and ops hear when sites, servers and certificates fail.

use std::time::{Duration, Instant};

use crate::fleet::{
    ACME, Behaviour, CUSTOMERS, Fleet, FleetSpec, GLOBEX, Kind, Mail, OPS, ROG, Server, Verdict,
    labels,
};
use crate::scenario_db::Db;
use crate::tls_servers::Leaf;
use crate::{CLOSE, OPEN};

/// Prints the time from `from` to the mail, if it came.
fn timed(fleet: &Fleet, what: &str, from: Instant, mail: &Option<Mail>) {
    if let Some(m) = mail {
        fleet.time(what, from, m.at);
    } else {
        eprintln!(
            "SCENARIO {} {}: {what} never",
            fleet.scenario, fleet.backend
        );
    }
}

/// Scenario 1: acme has a predictive certificate ticket open on server A; then another acme site on
/// A answers 503. That outage is news: acme gets a new "opened" mail about that site (not an
/// internal note on the certificate ticket), ops one alert about it.
pub async fn outage_on_server_with_open_certificate_ticket(db: Db) {
    let fleet = Fleet::start(
        "outage_on_server_with_open_certificate_ticket",
        db,
        FleetSpec::new()
            .https(
                "acme",
                "acme-secure",
                "Acme secure shop",
                Server::A,
                Leaf::DaysLeft(5),
                true,
            )
            .http("acme", "acme-shop", "Acme shop", Server::A)
            .http("globex", "globex-www", "Globex website", Server::A)
            .http("rog", "rog-shop", "Магазин рогов", Server::B),
    )
    .await;
    let mut v = Verdict::new(&fleet);

    let warning = v.ok(fleet
        .mail
        .wait_mail(
            ACME,
            |m| m.kind() == Kind::Warning && m.about_certificate(),
            OPEN,
        )
        .await);
    timed(
        &fleet,
        "start→certificate warning mail",
        fleet.started,
        &warning,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    let fault = fleet.set("acme-shop", Behaviour::Status(503));
    let opened = v.ok(fleet
        .mail
        .wait_mail(
            ACME,
            |m| {
                m.at >= fault
                    && m.kind() == Kind::Opened
                    && m.mentions("Acme shop")
                    && !m.about_certificate()
            },
            OPEN,
        )
        .await);
    timed(&fleet, "fault→opened mail", fault, &opened);
    let ops = v.ok(fleet
        .mail
        .wait_mail(
            OPS,
            |m| m.at >= fault && (m.mentions("Acme shop") || m.mentions("acme-shop")),
            Duration::from_secs(5),
        )
        .await
        .map_err(|e| format!("ops should hear of the 503 on Acme shop: {e}")));
    timed(&fleet, "fault→ops alert", fault, &ops);
    tokio::time::sleep(Duration::from_secs(3)).await;

    let acme = fleet.mail.to(ACME);
    v.kinds("acme", &acme, &[Kind::Warning, Kind::Opened]);
    v.check(
        acme.iter()
            .filter(|m| m.kind() == Kind::Opened)
            .all(|m| m.ticket() != warning.as_ref().and_then(Mail::ticket)),
        || "the outage must be its own ticket, not the certificate ticket".into(),
    );
    v.kinds("globex", &fleet.mail.to(GLOBEX), &[]);
    v.kinds("rog", &fleet.mail.to(ROG), &[]);
    let ops_after = fleet.mail.to_since(OPS, fault);
    let incidents = ops_after
        .iter()
        .filter(|m| m.kind() == Kind::IncidentOpened)
        .count();
    v.check(incidents <= 1, || {
        format!(
            "ops should get at most one incident alert for the outage, got {}",
            labels(&ops_after)
        )
    });
    v.finish(&fleet);
}

/// Scenario 2: Two acme sites on server B fail together: the opened mail (or it and an update
/// naming the second site) names both; after recovery the resolved mail names both.
pub async fn two_sites_of_one_customer_fail_together(db: Db) {
    let fleet = Fleet::start(
        "two_sites_of_one_customer_fail_together",
        db,
        FleetSpec::new()
            .http("acme", "acme-shop", "Acme shop", Server::B)
            .http("acme", "acme-blog", "Acme blog", Server::B)
            .http("acme", "acme-main", "Acme main site", Server::A)
            .http("globex", "globex-www", "Globex website", Server::B)
            .http("rog", "rog-shop", "Магазин рогов", Server::A),
    )
    .await;
    let mut v = Verdict::new(&fleet);

    let fault = fleet.set("acme-shop", Behaviour::Status(503));
    fleet.set("acme-blog", Behaviour::Status(503));
    let opened = v.ok(fleet
        .mail
        .wait_mail(ACME, |m| m.kind() == Kind::Opened, OPEN)
        .await);
    timed(&fleet, "fault→opened mail", fault, &opened);
    // A second site joining may be told in an update: give it time.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let during = fleet.mail.to(ACME);
    if let Some(o) = &opened {
        let told: Vec<&Mail> = during
            .iter()
            .filter(|m| m.ticket() == o.ticket() && matches!(m.kind(), Kind::Opened | Kind::Update))
            .collect();
        for site in ["Acme shop", "Acme blog"] {
            v.check(told.iter().any(|m| m.mentions(site)), || {
                format!(
                    "the opened mail (or an update on its ticket) should name {site}; acme got {}",
                    labels(&during)
                )
            });
        }
    }

    let recovery = fleet.set("acme-shop", Behaviour::Healthy);
    fleet.set("acme-blog", Behaviour::Healthy);
    let resolved = v.ok(fleet
        .mail
        .wait_mail(
            ACME,
            |m| m.at >= recovery && m.kind() == Kind::Resolved,
            CLOSE,
        )
        .await);
    timed(&fleet, "recovery→resolved mail", recovery, &resolved);
    if let Some(r) = &resolved {
        for site in ["Acme shop", "Acme blog"] {
            v.check(r.mentions(site), || {
                format!("the resolved mail should name {site}: {:?}", r.subject)
            });
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    let acme = fleet.mail.to(ACME);
    let kinds: Vec<Kind> = acme.iter().map(Mail::kind).collect();
    v.check(
        kinds == [Kind::Opened, Kind::Resolved]
            || kinds == [Kind::Opened, Kind::Update, Kind::Resolved],
        || {
            format!(
                "acme should get [Opened, (Update naming the second site), Resolved], got {}",
                labels(&acme)
            )
        },
    );
    v.check(!acme.iter().any(|m| m.mentions("Acme main site")), || {
        "acme's healthy site must not be named".into()
    });
    v.kinds("globex", &fleet.mail.to(GLOBEX), &[]);
    v.kinds("rog", &fleet.mail.to(ROG), &[]);
    v.finish(&fleet);
}

/// Scenario 3: Every site on server A refuses: ops get one incident-opened and one incident-closed
/// mail; each customer one opened mail naming all of its sites on A (rog's in Russian) and one
/// resolved mail.
pub async fn server_down_under_three_customers(db: Db) {
    let fleet = Fleet::start(
        "server_down_under_three_customers",
        db,
        FleetSpec::new()
            .http("acme", "acme-shop", "Acme shop", Server::A)
            .http("acme", "acme-blog", "Acme blog", Server::A)
            .http("acme", "acme-api", "Acme API", Server::B)
            .http("globex", "globex-www", "Globex website", Server::A)
            .http("globex", "globex-api", "Globex API", Server::B)
            .http("rog", "rog-shop", "Магазин рогов", Server::A)
            .http("rog", "rog-forum", "Форум копыт", Server::A),
    )
    .await;
    let mut v = Verdict::new(&fleet);
    // Per customer: its sites on A, and the one on B that must not be named.
    let expect: [(&str, &[&str], Option<&str>); 3] = [
        (ACME, &["Acme shop", "Acme blog"], Some("Acme API")),
        (GLOBEX, &["Globex website"], Some("Globex API")),
        (ROG, &["Магазин рогов", "Форум копыт"], None),
    ];

    let fault = fleet.server_down(Server::A);
    for (to, _, _) in &expect {
        let left = (fault + OPEN).saturating_duration_since(Instant::now());
        let m = v.ok(fleet
            .mail
            .wait_mail(to, |m| m.kind() == Kind::Opened, left)
            .await);
        timed(&fleet, &format!("fault→opened mail to {to}"), fault, &m);
    }
    let alert = v.ok(fleet
        .mail
        .wait_mail(
            OPS,
            |m| m.kind() == Kind::IncidentOpened,
            Duration::from_secs(5),
        )
        .await);
    timed(&fleet, "fault→ops incident alert", fault, &alert);
    // Late joiners would show up now.
    tokio::time::sleep(Duration::from_secs(4)).await;

    let recovery = fleet.server_up(Server::A);
    for (to, _, _) in &expect {
        let left = (recovery + CLOSE).saturating_duration_since(Instant::now());
        let m = v.ok(fleet
            .mail
            .wait_mail(to, |m| m.at >= recovery && m.kind() == Kind::Resolved, left)
            .await);
        timed(
            &fleet,
            &format!("recovery→resolved mail to {to}"),
            recovery,
            &m,
        );
    }
    let closed = v.ok(fleet
        .mail
        .wait_mail(
            OPS,
            |m| m.kind() == Kind::IncidentClosed,
            Duration::from_secs(5),
        )
        .await
        .map_err(|e| format!("ops should be told the incident is over: {e}")));
    timed(&fleet, "recovery→ops incident closed", recovery, &closed);
    tokio::time::sleep(Duration::from_secs(3)).await;

    for (to, sites, not) in &expect {
        let mails = fleet.mail.to(to);
        v.kinds(to, &mails, &[Kind::Opened, Kind::Resolved]);
        for m in &mails {
            for site in *sites {
                v.check(m.mentions(site), || {
                    format!("{to}: {:?} should name {site}", m.subject)
                });
            }
            if let Some(not) = not {
                v.check(!m.mentions(not), || {
                    format!("{to}: {:?} names {not}, which is on server B", m.subject)
                });
            }
            for other in CUSTOMERS.iter().filter(|c| c.contact != *to) {
                v.check(!m.mentions(other.name), || {
                    format!("{to}: {:?} names another customer", m.subject)
                });
            }
        }
    }
    for m in fleet.mail.to(ROG) {
        v.check(
            m.has_cyrillic() && m.text.contains("Здравствуйте"),
            || format!("rog's mail should be in Russian: {:?}", m.subject),
        );
    }
    let ops = fleet.mail.to(OPS);
    let count = |k: Kind| ops.iter().filter(|m| m.kind() == k).count();
    v.check(count(Kind::IncidentOpened) == 1, || {
        format!(
            "ops should get exactly one incident-opened mail, got {}",
            labels(&ops)
        )
    });
    v.check(count(Kind::IncidentClosed) == 1, || {
        format!(
            "ops should get exactly one incident-closed mail, got {}",
            labels(&ops)
        )
    });
    v.finish(&fleet);
}

/// Scenario 4: Two blips below the threshold, then a real outage, then recovery, all within the
/// flap window: the customer hears "down" and then "back up", and is never left without the latter.
pub async fn blips_then_outage_then_recovery(db: Db) {
    let fleet = Fleet::start(
        "blips_then_outage_then_recovery",
        db,
        FleetSpec::new()
            .http("acme", "acme-shop", "Acme shop", Server::A)
            .http("globex", "globex-www", "Globex website", Server::B),
    )
    .await;
    let mut v = Verdict::new(&fleet);
    tokio::time::sleep(Duration::from_secs(2)).await;
    for blip in 1..=2 {
        fleet.fail_next("acme-shop", 2);
        let start = Instant::now();
        while fleet.pending_failures("acme-shop") > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "blip {blip} was never probed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Three passing results at least.
        tokio::time::sleep(Duration::from_millis(3500)).await;
    }
    let after_blips = fleet.mail.to(ACME);
    v.check(after_blips.is_empty(), || {
        format!(
            "blips shorter than the threshold should send nothing, acme got {}",
            labels(&after_blips)
        )
    });

    let fault = fleet.set("acme-shop", Behaviour::Status(503));
    let opened = v.ok(fleet
        .mail
        .wait_mail(ACME, |m| m.at >= fault && m.kind() == Kind::Opened, OPEN)
        .await);
    timed(&fleet, "fault→opened mail", fault, &opened);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let recovery = fleet.set("acme-shop", Behaviour::Healthy);
    let resolved = v.ok(fleet
        .mail
        .wait_mail(
            ACME,
            |m| m.at >= recovery && m.kind() == Kind::Resolved,
            CLOSE,
        )
        .await
        .map_err(|e| format!("the customer must hear the site is back up: {e}")));
    timed(&fleet, "recovery→resolved mail", recovery, &resolved);
    tokio::time::sleep(Duration::from_secs(3)).await;

    v.kinds(
        "acme",
        &fleet.mail.to(ACME),
        &[Kind::Opened, Kind::Resolved],
    );
    v.kinds("globex", &fleet.mail.to(GLOBEX), &[]);
    let tickets = fleet.tickets("acme").await;
    v.check(
        tickets
            .iter()
            .all(|t| t["status"] == "resolved" || t["status"] == "closed"),
        || {
            format!(
                "acme's ticket should be resolved after the recovery: {}",
                serde_json::Value::Array(tickets.clone())
            )
        },
    );
    v.finish(&fleet);
}

/// Scenario 5: An HTTPS site whose certificate does not match its name, watched by an HTTP and a
/// TLS check: one ticket, one customer mail, about the certificate (not "site is down").
pub async fn tls_handshake_failure_on_https_site(db: Db) {
    let fleet = Fleet::start(
        "tls_handshake_failure_on_https_site",
        db,
        FleetSpec::new()
            .https(
                "acme",
                "acme-secure",
                "Acme secure shop",
                Server::A,
                Leaf::Valid,
                true,
            )
            .http("globex", "globex-www", "Globex website", Server::B),
    )
    .await;
    let mut v = Verdict::new(&fleet);

    let fault = fleet.set("acme-secure", Behaviour::BadCert);
    let first = v.ok(fleet.mail.wait_mail(ACME, |_| true, OPEN).await);
    timed(&fleet, "fault→first customer mail", fault, &first);
    // Both checks have opened by now; a second mail would arrive in this time.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let acme = fleet.mail.to(ACME);
    v.kinds("acme", &acme, &[Kind::Opened]);
    if let Some(m) = acme.first() {
        v.check(
            m.about_certificate() && !m.subject.contains("is down"),
            || format!("the mail should be about the certificate: {:?}", m.subject),
        );
    }
    let open: Vec<serde_json::Value> = fleet
        .tickets("acme")
        .await
        .into_iter()
        .filter(|t| t["status"] != "resolved" && t["status"] != "closed")
        .collect();
    v.check(open.len() == 1, || {
        format!(
            "acme should have exactly one open ticket, has {}",
            serde_json::Value::Array(open.clone())
        )
    });
    if let Some(t) = open.first() {
        v.check(t["problem"] == "certificate_invalid", || {
            format!(
                "the ticket should be certificate_invalid, is {}",
                t["problem"]
            )
        });
    }
    v.kinds("globex", &fleet.mail.to(GLOBEX), &[]);
    v.finish(&fleet);
}

/// Scenario 11: acme's site has a certificate that expires in 5 days (a warning ticket is open),
/// then the whole site stops answering. The outage is news on the same checks: acme gets a new
/// "down" ticket and mail (not swallowed by the certificate ticket), and when the site answers
/// again the outage resolves while the certificate warning, still true, stays open.
pub async fn outage_of_a_site_whose_certificate_expires_soon(db: Db) {
    let fleet = Fleet::start(
        "outage_of_a_site_whose_certificate_expires_soon",
        db,
        FleetSpec::new().https(
            "acme",
            "acme-secure",
            "Acme secure shop",
            Server::A,
            Leaf::DaysLeft(5),
            true,
        ),
    )
    .await;
    let mut v = Verdict::new(&fleet);
    let warning = v.ok(fleet
        .mail
        .wait_mail(
            ACME,
            |m| m.kind() == Kind::Warning && m.about_certificate(),
            OPEN,
        )
        .await);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let fault = fleet.set("acme-secure", Behaviour::Refuse);
    let opened = v.ok(fleet
        .mail
        .wait_mail(
            ACME,
            |m| {
                m.at >= fault
                    && m.kind() == Kind::Opened
                    && m.ticket() != warning.as_ref().and_then(Mail::ticket)
            },
            OPEN,
        )
        .await
        .map_err(|e| format!("the outage must reach the customer: {e}")));
    timed(&fleet, "fault→opened mail", fault, &opened);
    v.check(
        opened.as_ref().and_then(Mail::ticket) != warning.as_ref().and_then(Mail::ticket),
        || "the outage must be its own ticket, not the certificate ticket".into(),
    );
    tokio::time::sleep(Duration::from_secs(3)).await;

    let back = fleet.set("acme-secure", Behaviour::Healthy);
    let resolved = v.ok(fleet
        .mail
        .wait_mail(
            ACME,
            |m| {
                m.at >= back
                    && m.kind() == Kind::Resolved
                    && m.ticket() == opened.as_ref().and_then(Mail::ticket)
            },
            CLOSE,
        )
        .await
        .map_err(|e| format!("the outage must resolve when the site answers: {e}")));
    timed(&fleet, "recovery→resolved mail", back, &resolved);
    tokio::time::sleep(Duration::from_secs(3)).await;

    v.kinds(
        "acme",
        &fleet.mail.to(ACME),
        &[Kind::Warning, Kind::Opened, Kind::Resolved],
    );
    let tickets = fleet.tickets("acme").await;
    v.check(
        tickets
            .iter()
            .any(|t| t["problem"] == "certificate_expiring" && t["status"] != "resolved"),
        || format!("the certificate warning stays open: {tickets:?}"),
    );
    v.finish(&fleet);
}
