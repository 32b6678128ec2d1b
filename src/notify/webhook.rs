//! Webhook delivery: a JSON POST, forewarn's own shape or Slack-compatible.

use std::time::Duration;

use serde_json::json;

use super::customer_hook::{self, CustomerHooks};
use super::{Channel, DeliveryError, OutboxMessage};
use crate::model::CustomerId;

/// How much of an error response is kept for the failure message.
pub const RESPONSE_BODY_LIMIT: usize = 2048;

/// Sends webhook messages with a shared HTTP client: ops webhooks, and customers' own
/// (signed, found through [`CustomerHooks`]).
#[derive(Debug, Clone)]
pub struct Webhook {
    client: reqwest::Client,
    timeout: Duration,
    customers: CustomerHooks,
}

impl Webhook {
    pub fn new(client: reqwest::Client, timeout: Duration) -> Webhook {
        Webhook {
            client,
            timeout,
            customers: CustomerHooks::default(),
        }
    }

    /// Where customers' webhooks are found at delivery.
    pub fn with_customer_hooks(self, customers: CustomerHooks) -> Webhook {
        Webhook { customers, ..self }
    }

    /// POSTs a customer's event as queued, signed now with their secret (see
    /// [`super::customer_hook`]). Answers are classified like [`Webhook::send`]'s; a customer
    /// whose webhook was removed from the configuration meanwhile is a permanent failure.
    pub async fn send_signed(
        &self,
        msg: &OutboxMessage,
        customer: &CustomerId,
    ) -> Result<(), DeliveryError> {
        let Some(hook) = self.customers.get(customer) else {
            return Err(DeliveryError::Permanent(format!(
                "customer {customer} has no webhook in the configuration now \
                 (add `webhook = {{ url = …, secret = … }}` to its [customer] and retry)"
            )));
        };
        let event_id = customer_hook::event_id_of(&msg.body).unwrap_or_else(|| msg.key.clone());
        let signature = customer_hook::signature_header(
            &hook.secret,
            chrono::Utc::now().timestamp(),
            msg.body.as_bytes(),
        );
        let request = self
            .client
            .post(hook.url.as_str())
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(customer_hook::SIGNATURE_HEADER, signature)
            .header(customer_hook::EVENT_ID_HEADER, event_id.as_str())
            .header("Idempotency-Key", event_id.as_str())
            .body(msg.body.clone());
        let response = request.send().await.map_err(classify_reqwest)?;
        answered(response).await
    }

    /// POSTs the message. 2xx: delivered. 5xx, 408, 429, timeouts and connection errors:
    /// transient. Other 4xx (and redirects, which are not followed): permanent.
    pub async fn send(&self, msg: &OutboxMessage) -> Result<(), DeliveryError> {
        let Channel::Webhook { url, slack } = &msg.channel else {
            return Err(DeliveryError::Permanent(
                "not a webhook message (the webhook sender sends only webhooks)".to_owned(),
            ));
        };
        let request = self
            .client
            .post(url.as_str())
            .timeout(self.timeout)
            .header("Idempotency-Key", msg.key.as_str())
            .json(&payload(msg, *slack));
        let response = request.send().await.map_err(classify_reqwest)?;
        answered(response).await
    }
}

/// 2xx: delivered. 5xx, 408 and 429: transient. Other 4xx and redirects (never followed):
/// permanent. The failure keeps the start of the answer's body.
async fn answered(mut response: reqwest::Response) -> Result<(), DeliveryError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = read_capped(&mut response, RESPONSE_BODY_LIMIT).await;
    let text = if body.trim().is_empty() {
        format!("webhook answered HTTP {status}")
    } else {
        format!("webhook answered HTTP {status}: {}", body.trim())
    };
    let code = status.as_u16();
    if status.is_server_error() || code == 408 || code == 429 {
        Err(DeliveryError::Transient(text))
    } else {
        Err(DeliveryError::Permanent(text))
    }
}

/// The JSON body: `{"ticket", "subject", "text", "key", "message_id"}`, or Slack's
/// `{"text": "*subject*\ntext"}`.
pub fn payload(msg: &OutboxMessage, slack: bool) -> serde_json::Value {
    if slack {
        json!({ "text": format!("*{}*\n{}", msg.subject, msg.body) })
    } else {
        json!({
            "ticket": msg.ticket.map(|t| t.0),
            "subject": msg.subject,
            "text": msg.body,
            "key": msg.key,
            "message_id": msg.message_id,
        })
    }
}

/// At most `limit` bytes of the body (lossy UTF-8); a read error ends it early.
async fn read_capped(response: &mut reqwest::Response, limit: usize) -> String {
    let mut buf = Vec::new();
    while buf.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(limit - buf.len());
                buf.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn classify_reqwest(e: reqwest::Error) -> DeliveryError {
    let text = without_url(&e);
    if e.is_builder() || e.is_redirect() {
        DeliveryError::Permanent(format!("webhook request: {text}"))
    } else if e.is_timeout() {
        DeliveryError::Transient(format!("webhook timeout: {text}"))
    } else {
        DeliveryError::Transient(format!("webhook request: {text}"))
    }
}

/// The error and its causes, without the URL (a webhook URL often carries its token).
fn without_url(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    match e.url() {
        Some(url) => out.replace(url.as_str(), "<webhook url>"),
        None => out,
    }
}
