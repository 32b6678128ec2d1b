//! Ops alerts as Telegram bot messages (`[ops.telegram]`): one `sendMessage` per chat, through
//! the outbox like every other message (retried, sent once). The bot token is a secret
//! reference: it is read when the configuration loads, kept out of the outbox (a message only
//! names its chat) and out of every error text and log line.
//!
//! ```toml
//! [ops.telegram]
//! token = { env = "FOREWARN_TELEGRAM_TOKEN" }   # from @BotFather
//! chat_ids = [-1001234567890]                   # the ops group (negative) or people
//! # api_url = "https://api.telegram.org"        # a Bot API server of your own
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;
use url::Url;

use super::{Channel, DeliveryError, OutboxMessage};
use crate::diag::{Diagnostics, Source};
use crate::secret::{Secret, SecretRef};

/// Telegram's limit on a message's text, in characters.
pub const TEXT_LIMIT: usize = 4096;

pub const DEFAULT_API: &str = "https://api.telegram.org";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelegram {
    pub token: Spanned<SecretRef>,
    pub chat_ids: Spanned<Vec<Spanned<i64>>>,
    pub api_url: Option<Spanned<String>>,
}

/// `[ops.telegram]`, validated, with the token read.
#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub api: Url,
    pub token: Secret,
    pub chats: Vec<i64>,
}

impl PartialEq for TelegramConfig {
    fn eq(&self, other: &Self) -> bool {
        self.api == other.api
            && self.chats == other.chats
            && self.token.expose() == other.token.expose()
    }
}

impl Eq for TelegramConfig {}

/// Validates `[ops.telegram]`; `base` is the config file's directory (for a token file).
pub fn build(
    src: &Source,
    base: &Path,
    raw: &RawTelegram,
    diags: &mut Diagnostics,
) -> Option<TelegramConfig> {
    let before = diags.len();
    let mut err = |span: std::ops::Range<usize>, key: &str, message: String| {
        diags.push(src.diag(Some(span), key, message));
    };
    let token = match raw.token.get_ref().load(base) {
        Ok(t) => Some(t),
        Err(e) => {
            err(raw.token.span(), "ops.telegram.token", e.to_string());
            None
        }
    };
    if raw.chat_ids.get_ref().is_empty() {
        err(
            raw.chat_ids.span(),
            "ops.telegram.chat_ids",
            "name at least one chat: chat_ids = [-1001234567890] (a group's id is negative; \
             the bot must be a member)"
                .into(),
        );
    }
    let mut chats: Vec<i64> = Vec::new();
    for c in raw.chat_ids.get_ref() {
        if *c.get_ref() == 0 {
            err(
                c.span(),
                "ops.telegram.chat_ids",
                "0 is not a chat id".into(),
            );
        } else if chats.contains(c.get_ref()) {
            err(
                c.span(),
                "ops.telegram.chat_ids",
                format!("chat {} is listed twice", c.get_ref()),
            );
        } else {
            chats.push(*c.get_ref());
        }
    }
    let api = match &raw.api_url {
        None => Url::parse(DEFAULT_API).ok(),
        Some(u) => match Url::parse(u.get_ref()) {
            Ok(url)
                if url.scheme() == "https"
                    || (url.scheme() == "http" && url.host_str().is_some_and(is_loopback)) =>
            {
                Some(url)
            }
            Ok(_) => {
                err(
                    u.span(),
                    "ops.telegram.api_url",
                    format!(
                        "{:?} must be https (plain http only on loopback): the bot token \
                         travels in its path",
                        u.get_ref()
                    ),
                );
                None
            }
            Err(e) => {
                err(
                    u.span(),
                    "ops.telegram.api_url",
                    format!("bad URL {:?}: {e}", u.get_ref()),
                );
                None
            }
        },
    };
    if diags.len() > before {
        return None;
    }
    Some(TelegramConfig {
        api: api?,
        token: token?,
        chats,
    })
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The channels an ops alert goes to on Telegram: one per chat.
pub fn channels(config: &TelegramConfig) -> impl Iterator<Item = Channel> + '_ {
    config
        .chats
        .iter()
        .map(|&chat_id| Channel::Telegram { chat_id })
}

/// Sends Telegram messages with a shared HTTP client.
#[derive(Debug, Clone)]
pub struct Telegram {
    client: reqwest::Client,
    config: Option<TelegramConfig>,
    timeout: Duration,
}

/// What the Bot API answers.
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Debug, Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

impl Telegram {
    /// `config`: `[ops.telegram]` (`None`: a Telegram message in the outbox fails for good,
    /// saying why).
    pub fn new(client: reqwest::Client, config: Option<TelegramConfig>, timeout: Duration) -> Self {
        Telegram {
            client,
            config,
            timeout,
        }
    }

    /// POSTs `sendMessage`. `ok: true`: delivered. 429 (flood control), 5xx, timeouts and
    /// connection errors: transient. 400 (bad chat), 401 (bad token), 403 (the bot was removed
    /// from the chat): permanent, with the Bot API's description.
    pub async fn send(&self, msg: &OutboxMessage) -> Result<(), DeliveryError> {
        let Channel::Telegram { chat_id } = msg.channel else {
            return Err(DeliveryError::Permanent(
                "not a Telegram message (the Telegram sender sends only those)".to_owned(),
            ));
        };
        let Some(config) = &self.config else {
            return Err(DeliveryError::Permanent(
                "Telegram is not configured any more ([ops.telegram] is gone): nothing sent"
                    .to_owned(),
            ));
        };
        let mut url = config.api.clone();
        let path = format!(
            "{}/bot{}/sendMessage",
            url.path().trim_end_matches('/'),
            config.token.expose()
        );
        url.set_path(&path);
        let response = self
            .client
            .post(url)
            .timeout(self.timeout)
            .json(&serde_json::json!({
                "chat_id": chat_id,
                "text": text(msg),
                "disable_web_page_preview": true,
            }))
            .send()
            .await
            // The URL holds the token: never let it into an error text.
            .map_err(|e| {
                let e = e.without_url();
                if e.is_timeout() || e.is_connect() || e.is_request() {
                    DeliveryError::Transient(format!("Telegram Bot API unreachable: {e}"))
                } else {
                    DeliveryError::Transient(format!("Telegram Bot API: {e}"))
                }
            })?;
        let status = response.status();
        let answer: Option<Answer> = response.json().await.ok();
        if status.is_success() && answer.as_ref().is_some_and(|a| a.ok) {
            return Ok(());
        }
        let said = answer
            .as_ref()
            .and_then(|a| a.description.clone())
            .unwrap_or_else(|| "no description".to_owned());
        let code = status.as_u16();
        let retry = answer
            .as_ref()
            .and_then(|a| a.parameters.as_ref())
            .and_then(|p| p.retry_after);
        let text = match retry {
            Some(s) => format!("Telegram answered HTTP {code}: {said} (retry after {s} s)"),
            None => format!("Telegram answered HTTP {code}: {said} (chat {chat_id})"),
        };
        if status.is_server_error() || code == 429 || code == 408 {
            Err(DeliveryError::Transient(text))
        } else {
            Err(DeliveryError::Permanent(text))
        }
    }
}

/// The subject on its own line, then the text, within Telegram's limit (plain text: no markup
/// to escape or to break).
pub fn text(msg: &OutboxMessage) -> String {
    let whole = format!("{}\n\n{}", msg.subject, msg.body);
    if whole.chars().count() <= TEXT_LIMIT {
        return whole;
    }
    let mut cut: String = whole.chars().take(TEXT_LIMIT - 2).collect();
    cut.push_str(" …");
    cut
}
