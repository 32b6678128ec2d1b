//! Scenarios 8–9: staff and customers act on tickets through the real API and the signed
//! customer link.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::fleet::{ACME, Behaviour, Fleet, FleetSpec, GLOBEX, Kind, OPS, Server, Verdict, labels};
use crate::scenario_db::Db;
use crate::{CLOSE, OPEN};

fn small_fleet() -> FleetSpec {
    FleetSpec::new()
        .http("acme", "acme-shop", "Acme shop", Server::A)
        .http("globex", "globex-www", "Globex website", Server::B)
}

fn resolution() -> serde_json::Value {
    json!({
        "cause": "The shop's PHP pool ran out of workers.",
        "action": "We restarted the pool and raised its worker limit.",
        "fully_solved": true,
        "prevention": "Nothing to do on your side; we now alert on pool saturation.",
    })
}

/// Scenario 8: Staff resolve while the check still fails: refused (4xx) unless "resolve anyway"
/// with a reason. Resolved anyway with the check still failing, the ticket reopens and the customer
/// is told.
///
/// Assumed API (not in the code today): the resolve body takes `"anyway": true` and
/// `"reason": "…"` next to the resolution fields.
pub async fn staff_resolve_while_site_fails(db: Db) {
    let fleet = Fleet::start("staff_resolve_while_site_fails", db, small_fleet()).await;
    let mut v = Verdict::new(&fleet);

    let fault = fleet.set("acme-shop", Behaviour::Status(503));
    let opened = v.ok(fleet
        .mail
        .wait_mail(ACME, |m| m.kind() == Kind::Opened, OPEN)
        .await);
    if let Some(m) = &opened {
        fleet.time("fault→opened mail", fault, m.at);
    }
    let ticket = fleet
        .wait_ticket("acme", |t| t["status"] != "resolved", OPEN)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let id = ticket["id"].as_i64().expect("ticket id");
    let path = format!("/api/v1/tickets/{id}/resolve");

    let (code, body) = fleet.api_post(&path, resolution()).await;
    eprintln!("resolve while failing: {code} {body}");
    let refused = (400..500).contains(&code);
    v.check(refused, || {
        format!("resolving while acme-shop still fails should be refused (4xx), got {code} {body}")
    });
    if refused {
        let mut anyway = resolution();
        anyway["anyway"] = json!(true);
        anyway["reason"] = json!("The customer confirmed by phone that the shop works for them.");
        let (code, body) = fleet.api_post(&path, anyway).await;
        eprintln!("resolve anyway: {code} {body}");
        v.check((200..300).contains(&code), || {
            format!(
                "\"resolve anyway\" with a reason ({{\"anyway\": true, \"reason\": …}}) should be accepted, got {code} {body}"
            )
        });
    }
    let resolved_at = Instant::now();

    // The check still fails: the ticket comes back and the customer hears it.
    let reopened = v.ok(fleet
        .wait_ticket(
            "acme",
            |t| t["id"] == id && t["status"] == "reopened",
            Duration::from_secs(15),
        )
        .await
        .map_err(|e| format!("the ticket should reopen while the site still fails: {e}")));
    if reopened.is_some() {
        fleet.time("staff resolve→ticket reopened", resolved_at, Instant::now());
    }
    let told = v.ok(fleet
        .mail
        .wait_mail(
            ACME,
            |m| m.at >= resolved_at && m.kind() == Kind::Reopened,
            Duration::from_secs(10),
        )
        .await
        .map_err(|e| format!("the customer should be told the problem is back: {e}")));
    if let Some(m) = &told {
        fleet.time("staff resolve→reopened mail", resolved_at, m.at);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    v.kinds(
        "acme",
        &fleet.mail.to(ACME),
        &[Kind::Opened, Kind::Resolved, Kind::Reopened],
    );
    v.kinds("globex", &fleet.mail.to(GLOBEX), &[]);
    v.finish(&fleet);
}

/// Scenario 9: After an automatic resolution the customer writes on their ticket page: the ticket
/// is back in the queue as reopened and ops are alerted.
pub async fn customer_reply_on_resolved_ticket(db: Db) {
    let fleet = Fleet::start("customer_reply_on_resolved_ticket", db, small_fleet()).await;
    let mut v = Verdict::new(&fleet);

    let fault = fleet.set("acme-shop", Behaviour::Status(503));
    let opened = fleet
        .mail
        .wait_mail(ACME, |m| m.kind() == Kind::Opened, OPEN)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    fleet.time("fault→opened mail", fault, opened.at);
    let recovery = fleet.set("acme-shop", Behaviour::Healthy);
    let resolved = fleet
        .mail
        .wait_mail(ACME, |m| m.kind() == Kind::Resolved, CLOSE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    fleet.time("recovery→resolved mail", recovery, resolved.at);
    let link = resolved
        .ticket_link()
        .or_else(|| opened.ticket_link())
        .unwrap_or_else(|| panic!("no ticket link in {:?}", resolved.text));
    assert!(
        link.starts_with(&format!("{}/c/t/", fleet.base)),
        "the link should open this server's signed ticket page: {link}"
    );
    let ticket = fleet
        .wait_ticket("acme", |t| t["status"] == "resolved", CLOSE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let id = ticket["id"].clone();

    let replied = Instant::now();
    let code = fleet
        .customer_reply(
            &link,
            "The shop still shows errors to our customers in Berlin. Please look again.",
        )
        .await;
    v.check((200..400).contains(&code), || {
        format!("the customer's reply should be accepted, got {code}")
    });
    let back = v.ok(fleet
        .wait_ticket(
            "acme",
            |t| t["id"] == id && t["status"] == "reopened",
            Duration::from_secs(8),
        )
        .await
        .map_err(|e| format!("a reply on a resolved ticket should reopen it: {e}")));
    if back.is_some() {
        fleet.time("customer reply→ticket reopened", replied, Instant::now());
    }
    let tag = format!("#{id}");
    let alert = v.ok(fleet
        .mail
        .wait_mail(
            OPS,
            |m| m.at >= replied && m.mentions(&tag),
            Duration::from_secs(8),
        )
        .await
        .map_err(|e| format!("ops should be alerted of the customer's reply on {tag}: {e}")));
    if let Some(m) = &alert {
        fleet.time("customer reply→ops alert", replied, m.at);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before: Vec<_> = fleet
        .mail
        .to(ACME)
        .into_iter()
        .filter(|m| m.at < replied)
        .collect();
    v.kinds(
        "acme before the reply",
        &before,
        &[Kind::Opened, Kind::Resolved],
    );
    eprintln!(
        "acme after the reply (not asserted): {}",
        labels(&fleet.mail.to_since(ACME, replied))
    );
    v.kinds("globex", &fleet.mail.to(GLOBEX), &[]);
    v.finish(&fleet);
}
