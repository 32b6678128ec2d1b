//! The one ops fan-out: an ops alert becomes one message per configured ops channel (the e-mail
//! list, the webhook, each Telegram chat), each keyed `<key>/<channel>` so the same alert is
//! queued once. The
//! detector (incidents, dead probers) and the ticket service (SLA, reopenings, tickets outside
//! an incident) both alert through here. Also the Message-ID every queued message gets.

use crate::config::Config;
use crate::notify::{Channel, MailExtras, NewMessage};

/// One message per configured ops channel, keyed `<key>/email`, `<key>/webhook` and
/// `<key>/telegram-<chat>`.
pub fn messages(config: &Config, key: &str, subject: &str, body: &str) -> Vec<NewMessage> {
    let mut out = Vec::new();
    if !config.ops.email.is_empty() {
        let key = format!("{key}/email");
        out.push(NewMessage {
            message_id: message_id(config, &key),
            key,
            ticket: None,
            channel: Channel::Email {
                to: config.ops.email.clone(),
            },
            subject: subject.to_owned(),
            body: body.to_owned(),
            extras: MailExtras::default(),
        });
    }
    if let Some(hook) = &config.ops.webhook {
        let key = format!("{key}/webhook");
        out.push(NewMessage {
            message_id: message_id(config, &key),
            key,
            ticket: None,
            channel: Channel::Webhook {
                url: hook.url.to_string(),
                slack: hook.slack,
            },
            subject: subject.to_owned(),
            body: body.to_owned(),
            extras: MailExtras::default(),
        });
    }
    for &chat_id in config.ops.telegram.iter().flat_map(|t| &t.chats) {
        let key = format!("{key}/telegram-{chat_id}");
        out.push(NewMessage {
            message_id: message_id(config, &key),
            key,
            ticket: None,
            channel: Channel::Telegram { chat_id },
            subject: subject.to_owned(),
            body: body.to_owned(),
            extras: MailExtras::default(),
        });
    }
    out
}

/// A stable Message-ID from the idempotency key: a resend of the same message is recognisable,
/// and the installation id keeps two installations (or a reinstall) from ever sharing one.
pub fn message_id(config: &Config, key: &str) -> String {
    let host = config.public_url.host_str().unwrap_or("forewarn.invalid");
    message_id_in(&config.installation, host, key)
}

/// [`message_id`] for an installation id and a host.
fn message_id_in(installation: &str, host: &str, key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(installation.as_bytes());
    ctx.update(b"\n");
    ctx.update(key.as_bytes());
    let digest = ctx.finish();
    let hex: String = digest.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let installation = if installation.is_empty() {
        "forewarn"
    } else {
        installation
    };
    format!("<{hex}.{installation}@{host}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_unique_per_installation() {
        let id = |installation, key| message_id_in(installation, "support.example", key);
        let first = id("a1b2c3d4", "ticket-1/opened");
        assert_eq!(
            first,
            id("a1b2c3d4", "ticket-1/opened"),
            "a resend keeps its id"
        );
        assert!(first.ends_with(".a1b2c3d4@support.example>"), "{first}");
        assert_ne!(first, id("a1b2c3d4", "ticket-1/resolved-0"));
        // A reinstall (a new database) numbers its tickets from 1 again: other ids.
        assert_ne!(first, id("e5f6a7b8", "ticket-1/opened"));
    }
}
