//! End-to-end scenarios: `forewarn serve` as a process against a loopback fleet of customer
//! sites on two servers, a real SMTP server and the staff API, on SQLite and on PostgreSQL.
//! Each scenario says exactly which mails every customer and ops receive, in which order and
//! language, and prints how long each took (`SCENARIO <name> <backend>: <what> <seconds>s`).
//!
//! The harness is `support/fleet.rs`. Run: `cargo test --test scenarios -- --nocapture`.

#[path = "support/fleet.rs"]
mod fleet;
#[path = "support/pg.rs"]
mod pg;
#[path = "support/scenario_db.rs"]
#[macro_use]
mod scenario_db;
#[path = "support/smtp_server.rs"]
mod smtp_server;
#[path = "support/tls_servers.rs"]
mod tls_servers;

#[path = "scenarios/delivery.rs"]
mod delivery;
#[path = "scenarios/outages.rs"]
mod outages;
#[path = "scenarios/people.rs"]
mod people;

use std::time::Duration;

use delivery::*;
use outages::*;
use people::*;

/// From a fault to the customer's mail: 3 failures at 1 s, the confirmation run, delivery.
pub const OPEN: Duration = Duration::from_secs(20);
/// From a recovery to the customer's mail: 2 passes at 1 s, delivery.
pub const CLOSE: Duration = Duration::from_secs(20);

on_each_backend!(
    "fw_scen";
    outage_on_server_with_open_certificate_ticket,
    two_sites_of_one_customer_fail_together,
    server_down_under_three_customers,
    blips_then_outage_then_recovery,
    tls_handshake_failure_on_https_site,
    smtp_down_during_outage_then_back,
    smtp_451_during_outage_then_back,
    kill_9_during_delivery,
    staff_resolve_while_site_fails,
    customer_reply_on_resolved_ticket,
    outage_of_a_site_whose_certificate_expires_soon,
);
