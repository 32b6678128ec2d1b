//! The customer's page of one ticket (`/c/t/{token}`): status, next update, resolution, the
//! public timeline in the customer's words; the reply and "please close" forms.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::{Value, context};
use serde::Deserialize;

use super::posts::{Unsent, counted, limited, not_saved};
use super::{
    AppState, Back, CustomerError, Frame, MAX_TEXT, Page, bounded_text, check_origin,
    customer_name, finish, verify,
};
use crate::store::PostKind;
use crate::ticket::compose::customer_title;
use crate::ticket::customer::{Posted, Via};
use crate::ticket::model::{Actor, EventKind, Ticket, TicketId, TicketStatus, TimelineEvent};
use crate::token::{Claims, Purpose, TokenError};

/// The claims of a view link and the ticket it names, if it belongs to that customer.
async fn ticket_of(state: &AppState, token: &str) -> Result<(Claims, Ticket), CustomerError> {
    let claims = verify(state, token, Purpose::TicketView).await?;
    let ticket = state
        .store
        .ticket(TicketId(claims.subject))
        .await?
        .filter(|t| t.customer == claims.customer)
        .ok_or(TokenError::Invalid)?;
    Ok((claims, ticket))
}

/// What the ticket page says on top, after a post redirected there.
#[derive(Deserialize, Default)]
pub struct TicketNotice {
    /// Set after a report that went onto this open ticket.
    #[serde(default)]
    added: Option<String>,
}

/// `GET /c/t/{token}`: status, public timeline, next update, resolution, reply form.
pub async fn ticket_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(notice): Query<TicketNotice>,
) -> Response {
    let page = show(&state, &token, notice.added.is_some()).await;
    finish(&state, page)
}

async fn show(state: &AppState, token: &str, added: bool) -> Page {
    let (claims, t) = ticket_of(state, token).await?;
    let frame = Frame::of(state, &claims.customer);
    let events = state.store.timeline(t.id).await?;
    let resolution = events.iter().rev().find_map(|e| match &e.kind {
        EventKind::Resolved { resolution } if e.public => Some(context! {
            cause => resolution.cause,
            action => resolution.action,
            fully_solved => resolution.fully_solved,
            prevention => resolution.prevention,
            options => resolution.options.iter().map(|o| context! {
                title => o.title, pros => o.pros, cons => o.cons,
            }).collect::<Vec<_>>(),
        }),
        _ => None,
    });
    // Public events only: internal notes, SLA and mail bookkeeping never reach the customer.
    let public: Vec<&TimelineEvent> = events.iter().filter(|e| e.public).collect();
    let timeline: Vec<Value> = public
        .iter()
        .enumerate()
        .filter(|&(i, e)| i == 0 || !repeats(public[i - 1], e))
        .filter_map(|(_, e)| event(&frame, e))
        .collect();
    let next_update = t
        .next_update_due
        .filter(|_| t.status.is_open())
        .map(|next| frame.datetime(next))
        .unwrap_or_default();
    let number = t.id.0;
    Ok(frame.page(
        StatusCode::OK,
        "customer/ticket.html",
        &frame.text("pages.ticket.title", context! { ticket => number }),
        context! {
            added,
            number,
            subject => customer_title(&frame.config, &t, frame.lang),
            status => t.status.as_str(),
            opened => frame.datetime(t.created_at),
            next_update,
            resolution,
            events => timeline,
            token,
            can_close => t.status != TicketStatus::Closed,
            max_text => MAX_TEXT,
        },
    ))
}

/// Whether `e` is the status change that `previous` already told: "Resolved", then "Status:
/// resolved" at the same moment says one thing twice.
fn repeats(previous: &TimelineEvent, e: &TimelineEvent) -> bool {
    let EventKind::StatusChanged { to, .. } = e.kind else {
        return false;
    };
    previous.at == e.at
        && matches!(
            (to, &previous.kind),
            (
                TicketStatus::Resolved,
                EventKind::Resolved { .. } | EventKind::AutoResolved { .. }
            ) | (TicketStatus::Closed, EventKind::Closed)
                | (TicketStatus::Reopened, EventKind::Reopened { .. })
        )
}

/// One line of the timeline as the customer reads it: when (their zone), who (the team, not a
/// login name), what, and the next update it promised; `None` for what only staff see.
fn event(frame: &Frame, e: &TimelineEvent) -> Option<Value> {
    let next = |at| {
        frame.text(
            "pages.event.next_update",
            context! { at => frame.datetime(at) },
        )
    };
    let (what, note) = match &e.kind {
        EventKind::Created => (frame.word("pages.event.created"), None),
        EventKind::AutoAckQueued => (frame.word("pages.event.auto_ack"), None),
        EventKind::Acknowledged => (frame.word("pages.event.acknowledged"), None),
        EventKind::WorkStarted => (frame.word("pages.event.work_started"), None),
        EventKind::PublicUpdate { text, next_update } => (text.clone(), next_update.map(next)),
        EventKind::StatusChanged { to, .. } => {
            let status = frame.word(&format!("common.status.{}", to.as_str()));
            (frame.text("pages.event.status", context! { status }), None)
        }
        EventKind::CustomerAskedToClose => (frame.word("pages.event.asked_to_close"), None),
        EventKind::Resolved { .. } => (frame.word("pages.event.resolved"), None),
        // Its text is written for staff; the customer hears it in their words.
        EventKind::AutoResolved { .. } => (frame.word("pages.event.auto_resolved"), None),
        EventKind::Closed => (frame.word("pages.event.closed"), None),
        // The reason is written for staff; the customer had the mail.
        EventKind::Reopened { .. } => (frame.word("pages.event.reopened"), None),
        EventKind::AutomaticUpdate { next_update } => (
            frame.word("pages.event.automatic_update"),
            Some(next(*next_update)),
        ),
        EventKind::InternalNote { .. }
        | EventKind::Assigned { .. }
        | EventKind::SeverityChanged { .. }
        | EventKind::SkillGroupChanged { .. }
        | EventKind::SlaWarning { .. }
        | EventKind::SlaBreach { .. }
        | EventKind::MailDelivered { .. }
        | EventKind::MailFailed { .. }
        | EventKind::SurveySent { .. }
        | EventKind::SurveyAnswered { .. }
        | EventKind::SurveyCommented { .. }
        | EventKind::CallbackLogged { .. }
        | EventKind::MailReceived { .. }
        | EventKind::TimeSpent { .. } => return None,
    };
    let (who, by) = match &e.actor {
        Actor::System => (frame.word("pages.actor.monitoring"), "system"),
        Actor::Staff(_) => (frame.word("pages.actor.support"), "staff"),
        Actor::Customer(name) => (name.clone(), "customer"),
    };
    Some(context! {
        at => frame.datetime(e.at),
        who,
        by,
        what,
        note => note.unwrap_or_default(),
    })
}

#[derive(Deserialize)]
pub struct ReplyFields {
    #[serde(default)]
    text: String,
}

/// `POST /c/t/{token}/reply`: the customer's reply (moves the ticket out of waiting), within
/// the limits on replies.
pub async fn ticket_reply(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<ReplyFields>,
) -> Response {
    let page = reply(&state, &headers, &token, &f.text).await;
    finish(&state, page)
}

async fn reply(state: &AppState, headers: &HeaderMap, token: &str, text: &str) -> Page {
    check_origin(headers)?;
    let (claims, t) = ticket_of(state, token).await?;
    let text = bounded_text(text, &claims.customer, Back::ticket(token))?;
    let who = customer_name(state, &claims);
    let via = Via {
        customer: &claims.customer,
        link: &claims.nonce,
    };
    let posted = state
        .tickets
        .customer_reply(via, t.id, &who, text, Utc::now())
        .await;
    let unsent = Unsent {
        kind: PostKind::Reply,
        back: Back::ticket(token),
        text,
    };
    match counted(state, &claims.customer, PostKind::Reply, posted) {
        Ok(Posted::Taken { .. }) => Ok(Redirect::to(&format!("/c/t/{token}")).into_response()),
        Ok(Posted::Limited(l)) => limited(state, &claims.customer, &l, unsent).await,
        Err(_) => Ok(not_saved(state, &claims.customer, unsent)),
    }
}

/// `POST /c/t/{token}/close`: the customer asks to close (counted with the replies).
pub async fn ticket_close(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let page = close(&state, &headers, &token).await;
    finish(&state, page)
}

async fn close(state: &AppState, headers: &HeaderMap, token: &str) -> Page {
    check_origin(headers)?;
    let (claims, t) = ticket_of(state, token).await?;
    let who = customer_name(state, &claims);
    let via = Via {
        customer: &claims.customer,
        link: &claims.nonce,
    };
    let posted = state
        .tickets
        .customer_close(via, t.id, &who, Utc::now())
        .await;
    let unsent = Unsent {
        kind: PostKind::Reply,
        back: Back::ticket(token),
        text: "",
    };
    match counted(state, &claims.customer, PostKind::Reply, posted) {
        Ok(Posted::Taken { .. }) => Ok(Redirect::to(&format!("/c/t/{token}")).into_response()),
        Ok(Posted::Limited(l)) => limited(state, &claims.customer, &l, unsent).await,
        Err(_) => Ok(not_saved(state, &claims.customer, unsent)),
    }
}
