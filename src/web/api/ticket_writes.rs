//! The actions on one ticket, as `forewarn ticket …` does them: acknowledge, post an update
//! (or note, or question), assign, change severity / skill group, resolve, reopen, close.
//! A body's `"by"` is ignored (and a `"by"` naming someone else logged): no caller can act
//! under another name. What a caller may do is [`crate::access`]'s decision, as on the forms:
//! every action needs the staff scope; closing an open ticket without a resolution and taking
//! someone else's ticket need an admin.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Body, Id};
use crate::ticket::spent::Spent;
use crate::ticket::{Actor, Resolution, TicketId};
use crate::web::auth::ApiCaller;
use crate::web::{AppState, WebError};

/// Who acts on the timeline: the caller, whatever `by` says (see [`ignore_by`]).
fn actor(caller: &ApiCaller, by: Option<&str>) -> Actor {
    ignore_by(caller, by);
    Actor::Staff(caller.who.name.clone())
}

/// A `by` naming someone else is ignored, and logged: no caller may act under another name.
fn ignore_by(caller: &ApiCaller, by: Option<&str>) {
    if let Some(b) = by
        .map(str::trim)
        .filter(|b| !b.is_empty() && *b != caller.who.name)
    {
        let by: String = b.chars().take(64).collect();
        tracing::warn!(
            caller = %caller.who.name,
            %by,
            "API request named another actor in \"by\"; recorded as the caller"
        );
    }
}

/// An optional body that only names who acts (ignored: the caller acts).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct By {
    /// Ignored: the caller acts (kept so that older clients still work).
    by: Option<String>,
}

/// Acknowledge a new or reopened ticket.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/ack", tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's number")),
    request_body(content = Option<By>, description = "Optional"),
    responses((status = 204, description = "Acknowledged")))]
pub async fn ack(
    State(state): State<AppState>,
    caller: ApiCaller,
    Id(id): Id<i64>,
    body: Option<Body<By>>,
) -> Result<Response, WebError> {
    let by = body.and_then(|b| b.0.by);
    state
        .tickets
        .acknowledge(
            TicketId(id),
            actor(&caller, by.as_deref()),
            chrono::Utc::now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A public update (the customer is told, with the next checkpoint), an internal note, or a
/// question that waits on the customer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"message": "We are restoring the database from last night's backup.", "next_update": "1h", "spent": "20m"}))]
pub struct UpdateBody {
    message: String,
    /// When the customer hears next, e.g. `30m`, `2h` (default: the SLA cadence).
    next_update: Option<String>,
    /// Staff only: nothing is sent.
    #[serde(default)]
    internal: bool,
    /// The message asks the customer something: the SLA clocks pause until they answer.
    #[serde(default)]
    wait_on_customer: bool,
    /// Time the caller spent, e.g. `15m`, `1h30m`; logged with the update.
    spent: Option<String>,
    /// Ignored: the caller acts.
    by: Option<String>,
}

/// The optional `spent` of a body: refused with the reason when it is not a time.
fn spent(s: Option<&str>) -> Result<Option<Spent>, WebError> {
    Spent::parse_optional(s).map_err(WebError::Rejected)
}

/// Post an update, a note or a question.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/updates", tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's number")),
    request_body = UpdateBody,
    responses((status = 204, description = "Posted (and, when public, queued to the customer)")))]
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Id(id): Id<i64>,
    Body(b): Body<UpdateBody>,
) -> Result<Response, WebError> {
    let next = match b.next_update {
        Some(s) => Some(humantime::parse_duration(&s).map_err(|e| {
            WebError::Rejected(format!("next_update {s:?}: {e} (write e.g. 30m, 2h)"))
        })?),
        None => None,
    };
    let spent = spent(b.spent.as_deref())?;
    let now = chrono::Utc::now();
    let actor = actor(&caller, b.by.as_deref());
    if b.wait_on_customer {
        state
            .tickets
            .wait_on_customer_logged(TicketId(id), actor, &b.message, spent, now)
            .await?;
    } else {
        state
            .tickets
            .update_logged(
                TicketId(id),
                actor,
                &b.message,
                next,
                b.internal,
                spent,
                now,
            )
            .await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Who gets the ticket; `null` (or no `assignee`) unassigns it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"assignee": "ann"}))]
pub struct AssignBody {
    /// A staff user's login name (`forewarn user list`).
    assignee: Option<String>,
}

/// Give an open ticket to a staff user, or unassign it. Someone else's ticket is reassigned
/// only by an admin (no ticket "football", R6); the customer is told nothing.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/assign", tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's number")),
    request_body = AssignBody,
    responses((status = 204, description = "Assigned")))]
pub async fn assign(
    State(state): State<AppState>,
    caller: ApiCaller,
    Id(id): Id<i64>,
    Body(b): Body<AssignBody>,
) -> Result<Response, WebError> {
    let assignee = super::given(&b.assignee);
    state
        .tickets
        .assign(TicketId(id), &caller.who, assignee, chrono::Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One way forward when there is no single fix (seed 004 §4).
#[derive(ToSchema)]
#[schema(as = SolutionOption)]
#[allow(dead_code)]
struct SolutionOptionDoc {
    title: String,
    pros: String,
    cons: String,
}

/// The explanation the customer gets (R13).
/// Read as [`ResolveBodyDoc`] describes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    #[serde(flatten)]
    resolution: Resolution,
    /// Resolve although the ticket's checks still fail; needs `reason`.
    #[serde(default)]
    anyway: bool,
    reason: Option<String>,
    /// Time the caller spent, e.g. `15m`, `1h30m`; logged with the resolution.
    spent: Option<String>,
    /// Ignored: the caller acts.
    by: Option<String>,
}

/// Resolve with the explanation the customer gets.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/resolve", tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's number")),
    request_body(content = ResolveBodyDoc),
    responses((status = 204, description = "Resolved; the customer is told")))]
pub async fn resolve(
    State(state): State<AppState>,
    caller: ApiCaller,
    Id(id): Id<i64>,
    Body(mut b): Body<ResolveBody>,
) -> Result<Response, WebError> {
    let spent = spent(b.spent.as_deref())?;
    let actor = actor(&caller, b.by.as_deref());
    if b.anyway {
        let reason = b
            .reason
            .take()
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| {
                WebError::Rejected(
                    "\"anyway\": true needs a \"reason\": why resolve while the checks still fail"
                        .into(),
                )
            })?;
        b.resolution.resolved_while_failing = Some(reason);
    }
    state
        .tickets
        .resolve_logged(TicketId(id), actor, b.resolution, spent, chrono::Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What a resolution body holds (the explanation's fields beside the options of the call).
#[derive(ToSchema)]
#[schema(as = ResolveBody)]
#[schema(example = json!({"cause": "The disk of web-01 filled up with logs.", "action": "We rotated the logs and added space.", "fully_solved": true, "prevention": "Logs now rotate daily.", "spent": "45m"}))]
#[allow(dead_code)]
pub struct ResolveBodyDoc {
    /// What caused it.
    cause: String,
    /// What was done.
    action: String,
    /// Whether it is fully solved (say what remains in `action` or an option).
    fully_solved: bool,
    /// How to avoid it next time.
    prevention: String,
    /// Ways forward when there is no single fix.
    options: Option<Vec<SolutionOptionDoc>>,
    /// Resolve although the ticket's checks still fail; needs `reason`.
    anyway: Option<bool>,
    reason: Option<String>,
    /// Time the caller spent, e.g. `15m`, `1h30m`.
    spent: Option<String>,
    /// Ignored: the caller acts.
    by: Option<String>,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenBody {
    /// Why (on the timeline; default "reopened by staff").
    reason: Option<String>,
    /// Ignored: the caller acts.
    by: Option<String>,
}

/// Reopen a resolved or closed ticket.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/reopen", tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's number")),
    request_body(content = Option<ReopenBody>, description = "Optional"),
    responses((status = 204, description = "Reopened")))]
pub async fn reopen(
    State(state): State<AppState>,
    caller: ApiCaller,
    Id(id): Id<i64>,
    body: Option<Body<ReopenBody>>,
) -> Result<Response, WebError> {
    let b = body.map(|b| b.0).unwrap_or_default();
    let actor = actor(&caller, b.by.as_deref());
    let reason = b.reason.unwrap_or_else(|| "reopened by staff".into());
    state
        .tickets
        .reopen(TicketId(id), actor, &reason, chrono::Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Close a ticket: a resolved one with the staff scope, an open one (no resolution) only as an
/// admin.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/close", tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's number")),
    request_body(content = Option<By>, description = "Optional"),
    responses((status = 204, description = "Closed")))]
pub async fn close(
    State(state): State<AppState>,
    caller: ApiCaller,
    Id(id): Id<i64>,
    body: Option<Body<By>>,
) -> Result<Response, WebError> {
    let by = body.and_then(|b| b.0.by);
    ignore_by(&caller, by.as_deref());
    state
        .tickets
        .close(TicketId(id), &caller.who, chrono::Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"severity": "P1", "reason": "Every shop of the customer is down"}))]
pub struct RouteBody {
    /// `P1` … `P4`.
    severity: Option<String>,
    /// Another skill group.
    skill_group: Option<String>,
    /// Why (on the timeline, for the team).
    reason: String,
    /// Ignored: the caller acts.
    by: Option<String>,
}

/// A change from one value to another.
#[derive(Serialize, ToSchema)]
pub struct Change {
    from: String,
    to: String,
}

/// What a route changed.
#[derive(Serialize, ToSchema)]
pub struct Routed {
    severity: Option<Change>,
    skill_group: Option<Change>,
    /// When the customer was told a sooner next update, its time.
    customer_told_next_update_by: Option<chrono::DateTime<chrono::Utc>>,
    /// Who the group's rotation gave the ticket to, if it did.
    assigned_by_rotation: Option<String>,
}

/// Change an open ticket's severity and/or skill group. The SLA targets not met yet are
/// recomputed; a raise that brings the next update forward tells the customer the new time.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/route", tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's number")),
    request_body = RouteBody,
    responses((status = 200, description = "What changed", body = Routed)))]
pub async fn route(
    State(state): State<AppState>,
    caller: ApiCaller,
    Id(id): Id<i64>,
    Body(b): Body<RouteBody>,
) -> Result<Response, WebError> {
    ignore_by(&caller, b.by.as_deref());
    let severity = match b.severity.as_deref() {
        None => None,
        Some(s) => Some(crate::ticket::Severity::parse(s).ok_or_else(|| {
            WebError::Rejected(format!("\"severity\": {s:?} is not one of P1, P2, P3, P4"))
        })?),
    };
    let routed = state
        .tickets
        .route(
            TicketId(id),
            &caller.who,
            crate::ticket::routing::Route {
                severity,
                skill_group: b.skill_group,
                reason: b.reason,
            },
            chrono::Utc::now(),
        )
        .await?;
    let change = |(from, to): (String, String)| Change { from, to };
    Ok(Json(Routed {
        severity: routed
            .severity
            .map(|(from, to)| change((from.to_string(), to.to_string()))),
        skill_group: routed.skill_group.map(change),
        customer_told_next_update_by: routed.told,
        assigned_by_rotation: routed.assigned,
    })
    .into_response())
}
