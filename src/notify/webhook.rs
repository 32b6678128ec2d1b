//! Webhook delivery: a JSON POST, forewarn's own shape or Slack-compatible.

use std::time::Duration;

use serde_json::json;

use super::{Channel, DeliveryError, OutboxMessage};

/// How much of an error response is kept for the failure message.
pub const RESPONSE_BODY_LIMIT: usize = 2048;

/// Sends webhook messages with a shared HTTP client.
#[derive(Debug, Clone)]
pub struct Webhook {
    client: reqwest::Client,
    timeout: Duration,
}

impl Webhook {
    pub fn new(client: reqwest::Client, timeout: Duration) -> Webhook {
        Webhook { client, timeout }
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
        let mut response = request.send().await.map_err(classify_reqwest)?;
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
