//! `/api/v1/customers`: the customers of the configuration (`checks/*.toml`), for staff tools
//! and billing: who they are, their tier and plan, whom to tell and call, their checks.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Id, Paging, Params, cursor_of, key_of, page_response, take_page};
use crate::config::{Config, Customer};
use crate::model::CustomerId;
use crate::store::TicketFilter;
use crate::web::auth::ApiCaller;
use crate::web::{AppState, WebError};

/// Customers on a page: 500 unless `limit` says otherwise, at most 1000.
pub const PAGING: Paging = Paging {
    default: 500,
    max: 1000,
};

/// One person (or desk) at a customer.
#[derive(Serialize, ToSchema)]
pub struct Contact {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

/// A customer as the configuration describes it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "acme", "name": "Acme Shops", "tier": "gold", "plan": "business", "language": "en", "timezone": "Europe/Berlin", "servers": ["web-01"], "contacts": [{"name": "Ops", "email": "ops@acme.example", "phone": null}], "checks": ["acme-www"]}))]
pub struct CustomerView {
    id: String,
    name: String,
    tier: String,
    plan: Option<String>,
    /// The language customer mails and pages speak (`en`, `ru`, …).
    language: String,
    /// Dates in the customer's mails and pages are in this zone.
    timezone: String,
    servers: Vec<String>,
    contacts: Vec<Contact>,
    /// The ids of the customer's checks.
    checks: Vec<String>,
}

impl CustomerView {
    fn of(config: &Config, c: &Customer) -> CustomerView {
        CustomerView {
            id: c.id.to_string(),
            name: c.name.clone(),
            tier: c.tier.clone(),
            plan: c.plan.clone(),
            language: c.language.as_str().to_owned(),
            timezone: c.timezone.name().to_owned(),
            servers: c.servers.clone(),
            contacts: c
                .contacts
                .iter()
                .map(|p| Contact {
                    name: p.name.clone(),
                    email: p.email.clone(),
                    phone: p.phone.clone(),
                })
                .collect(),
            checks: config
                .checks
                .iter()
                .filter(|k| k.customer == c.id)
                .map(|k| k.id.to_string())
                .collect(),
        }
    }
}

/// A customer with the tickets someone still owes them something on.
#[derive(Serialize, ToSchema)]
pub struct CustomerDetail {
    #[serde(flatten)]
    customer: CustomerView,
    /// Open tickets, newest first.
    open_tickets: Vec<super::schemas::TicketDoc>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only customers of this tier.
    tier: Option<String>,
    /// Customers on the page (default 500).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The cursor the previous page ended with (its `X-Next-After`).
    after: Option<String>,
}

/// Every customer, by id.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(ListQuery),
    responses((status = 200, description = "A page of customers; `Link: <…>; rel=\"next\"` and `X-Next-After` while more follow",
        body = Vec<CustomerView>, headers(
            ("link" = String, description = "The next page's address, rel=\"next\""),
            ("x-next-after" = String, description = "The next page's cursor")))))]
pub async fn list(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Params(q): Params<ListQuery>,
) -> Result<Response, WebError> {
    let limit = PAGING.limit(q.limit)?;
    let after = super::given(&q.after).map(key_of).transpose()?;
    let tier = super::given(&q.tier);
    let config = state.config();
    let mut customers: Vec<&Customer> = config
        .customers
        .iter()
        .filter(|c| tier.is_none_or(|t| c.tier == t))
        .filter(|c| after.as_deref().is_none_or(|a| c.id.as_str() > a))
        .collect();
    customers.sort_by(|a, b| a.id.cmp(&b.id));
    let (customers, next) = take_page(customers, limit, |c| cursor_of(c.id.as_str()));
    let items: Vec<CustomerView> = customers
        .iter()
        .map(|c| CustomerView::of(&config, c))
        .collect();
    let mut query = vec![("limit", limit.to_string())];
    if let Some(t) = tier {
        query.push(("tier", t.to_owned()));
    }
    Ok(page_response(&items, next, "/api/v1/customers", query))
}

/// One customer with its open tickets.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "The customer's id")),
    responses((status = 200, description = "The customer and its open tickets", body = CustomerDetail)))]
pub async fn show(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Id(id): Id<String>,
) -> Result<Response, WebError> {
    let config = state.config();
    let id = CustomerId::parse(&id).map_err(|_| WebError::NotFound)?;
    let customer = config.customer(&id).ok_or(WebError::NotFound)?;
    let open = state
        .tickets
        .list(&TicketFilter {
            open_only: true,
            customer: Some(id),
            ..Default::default()
        })
        .await?;
    let mut v = serde_json::json!(CustomerView::of(&config, customer));
    v["open_tickets"] = serde_json::json!(open);
    Ok(Json(v).into_response())
}
