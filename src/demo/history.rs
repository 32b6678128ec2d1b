//! The demo's past: one ticket Acme reported yesterday, which the demo user worked and resolved,
//! so its follow-up survey is due as the demo starts. Written through the ticket and survey
//! services (the same events, outbox mails and signed links as a real one), so a newcomer can
//! follow the whole loop: the mails in `data/mail`, the rating link, the answer on Surveys.

use chrono::{Duration, Utc};

use crate::model::CustomerId;
use crate::server::RunningServer;
use crate::ticket::{Actor, Resolution, TicketId};

use super::DEMO_USER;

/// Writes the resolved ticket and sends its survey. Checks may already have opened tickets of
/// their own (the server runs while this is written), so its number is whatever comes next.
pub async fn seed(server: &RunningServer) -> anyhow::Result<TicketId> {
    let now = Utc::now();
    let at = |hours: i64, minutes: i64| now - Duration::hours(hours) + Duration::minutes(minutes);
    let staff = || Actor::Staff(DEMO_USER.into());
    let tickets = &server.tickets;
    let acme = CustomerId::parse("acme").expect("a valid id");
    // No checks named: the demo's live checks have only just started, and a survey waits for
    // a ticket's checks to have stayed green for the whole delay.
    let id = tickets
        .customer_request(
            &acme,
            "Checkout shows error 502",
            "Paying by card fails since this morning; customers write to us.",
            vec![],
            at(30, 0),
        )
        .await?;
    tickets.acknowledge(id, staff(), at(30, 6)).await?;
    // The time spent is logged with each, as staff do (docs/kpis.md, "Time spent").
    let spent = |s| crate::ticket::spent::Spent::parse(s).map_err(anyhow::Error::msg);
    tickets
        .update_logged(
            id,
            staff(),
            "We can reproduce it: the payment gateway refuses our proxy's certificate. \
             We are renewing it now.",
            Some(std::time::Duration::from_secs(3600)),
            false,
            Some(spent("20m")?),
            at(30, 15),
        )
        .await?;
    tickets
        .resolve_logged(
            id,
            staff(),
            Resolution {
                cause: "The client certificate our payment proxy presents to the gateway \
                        expired overnight; our renewal job had failed silently."
                    .into(),
                action: "Renewed the certificate, restarted the proxy and ran test payments."
                    .into(),
                fully_solved: true,
                prevention: "forewarn now checks that certificate's expiry 30 days ahead, and \
                             the renewal job alerts when it fails."
                    .into(),
                options: vec![],
                resolved_while_failing: None,
            },
            Some(spent("1h10m")?),
            at(29, 10),
        )
        .await?;
    // Resolved 29 h ago, past the default 24 h delay: the survey goes out now.
    let run = server.surveys.tick(now).await?;
    anyhow::ensure!(run.sent == 1, "the demo survey was not sent: {run:?}");
    Ok(id)
}
