//! The `[mail]` and `[ops]` tables of `forewarn.toml`: raw serde structs → validated runtime
//! types, with every problem reported (file:line:col: key: message).
//!
//! ```toml
//! [mail]
//! from = "Example Hosting Support <support@hosting.example>"
//! # No smtp_url: mails are written as .eml files into outbox_dir (default "data/mail").
//! smtp_url = "smtp://mail.hosting.example:587"  # or smtps://host (implicit TLS, port 465)
//! security = "starttls"   # smtp:// only: "starttls" (default, required), "tls" or "none"
//! username = "forewarn"
//! password = { env = "FOREWARN_SMTP_PASSWORD" }  # or { file = "secrets/smtp" }
//! timeout = "30s"
//!
//! [ops]
//! email = ["ops@hosting.example"]
//! webhook_url = "https://hooks.slack.com/services/…"
//! webhook_format = "slack"   # or "json" (default)
//! ```
//!
//! Default ports: 465 for `tls` (and `smtps://`), 587 for `starttls`, 25 for `none`. The URL
//! carries no user, password, path or query: credentials are `username` and `password`, the
//! password never written inline. Credentials over `security = "none"` are refused unless the
//! host is a loopback address.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::Mailbox;
use serde::Deserialize;
use serde_spanned::Spanned;
use url::Url;

use crate::diag::{Diagnostics, Source};
use crate::notify::Channel;
use crate::secret::{Secret, SecretRef};

type S<T> = Spanned<T>;

/// `[mail]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMail {
    /// `Name <address>` or a bare address.
    pub from: Option<S<String>>,
    /// `smtp://host[:port]` or `smtps://host[:port]`; absent: write mails into `outbox_dir`.
    pub smtp_url: Option<S<String>>,
    /// `none`, `starttls` or `tls` (for `smtp://`; `smtps://` is always `tls`).
    pub security: Option<S<String>>,
    pub username: Option<S<String>>,
    pub password: Option<S<SecretRef>>,
    /// Where mails go when no SMTP server is configured, relative to the config file.
    pub outbox_dir: Option<S<String>>,
    /// Connect and per-command timeout, e.g. `30s`.
    pub timeout: Option<S<String>>,
    /// PEM file of the CA that signed the relay's certificate (a relay with a private CA).
    pub ca_file: Option<S<String>>,
    /// The first retry after a failed delivery (default 1s); each next one waits twice as
    /// long, up to `retry_max`.
    pub retry_after: Option<S<String>>,
    /// The longest wait between two attempts (default 4s): after the mail server returns,
    /// waiting mail goes out within this time. Only the oldest undelivered mail of each
    /// ticket is retried, so a relay that is down sees one attempt per ticket per period.
    pub retry_max: Option<S<String>>,
    /// A message still undelivered this long after it was queued is given up (default 3d).
    pub give_up_after: Option<S<String>>,
}

/// `[ops]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawOps {
    /// Addresses that receive ops alerts.
    #[serde(default)]
    pub email: Vec<S<String>>,
    pub webhook_url: Option<S<String>>,
    /// `json` (default) or `slack`.
    pub webhook_format: Option<S<String>>,
    /// `[ops.telegram]`: bot messages (see `notify::telegram`).
    pub telegram: Option<super::telegram::RawTelegram>,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text (a relay on the same host or network).
    None,
    /// Plain connection upgraded with STARTTLS; refuses to continue without it.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

impl Security {
    pub fn default_port(self) -> u16 {
        match self {
            Security::None => 25,
            Security::StartTls => 587,
            Security::Tls => 465,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::StartTls => "starttls",
            Security::Tls => "tls",
        }
    }
}

#[derive(Debug, Clone)]
pub enum MailTransport {
    Smtp {
        host: String,
        port: u16,
        security: Security,
        /// Username and password.
        credentials: Option<(String, Secret)>,
        timeout: Duration,
        /// Extra trust anchor for the relay's certificate.
        ca_file: Option<PathBuf>,
    },
    /// No SMTP server: each mail becomes an `.eml` file in this folder.
    Folder(PathBuf),
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub from: Mailbox,
    pub transport: MailTransport,
    pub retry: Retry,
}

/// When failed deliveries are tried again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    pub after: Duration,
    pub max: Duration,
    pub give_up_after: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            after: Duration::from_secs(1),
            max: Duration::from_secs(4),
            give_up_after: Duration::from_secs(3 * 86400),
        }
    }
}

/// Where ops alerts go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpsConfig {
    pub email: Vec<String>,
    pub webhook: Option<OpsWebhook>,
    pub telegram: Option<super::telegram::TelegramConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsWebhook {
    pub url: Url,
    /// Slack-compatible `{"text": …}` instead of forewarn's JSON.
    pub slack: bool,
}

impl OpsConfig {
    /// The channels an ops alert is queued on: one e-mail to the whole list, one webhook.
    pub fn channels(&self) -> Vec<Channel> {
        let mut out = Vec::new();
        if !self.email.is_empty() {
            out.push(Channel::Email {
                to: self.email.clone(),
            });
        }
        if let Some(w) = &self.webhook {
            out.push(Channel::Webhook {
                url: w.url.to_string(),
                slack: w.slack,
            });
        }
        if let Some(t) = &self.telegram {
            out.extend(super::telegram::channels(t));
        }
        out
    }
}

pub const DEFAULT_FROM: &str = "forewarn <forewarn@localhost>";
pub const DEFAULT_OUTBOX_DIR: &str = "data/mail";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Validates `[mail]`; `base` is the config file's directory. Without a table, mails go to
/// `base/data/mail`.
pub fn build_mail(
    src: &Source,
    base: &Path,
    raw: Option<RawMail>,
    diags: &mut Diagnostics,
) -> MailConfig {
    let raw = raw.unwrap_or_default();
    let mut v = V { src, diags };
    let from = match &raw.from {
        Some(f) => f.get_ref().parse::<Mailbox>().unwrap_or_else(|e| {
            v.err(
                f,
                "mail.from",
                format!(
                    "{:?} is not a sender: {e} (write \"Name <address@domain>\" or an address)",
                    f.get_ref()
                ),
            );
            default_from()
        }),
        None => {
            if let Some(u) = &raw.smtp_url {
                v.err(
                    u,
                    "mail.from",
                    "mail.from is required with smtp_url: the address customers see and reply to",
                );
            }
            default_from()
        }
    };
    let timeout = match &raw.timeout {
        Some(t) => match humantime::parse_duration(t.get_ref()) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                v.err(t, "mail.timeout", "must be more than zero");
                DEFAULT_TIMEOUT
            }
            Err(e) => {
                v.err(
                    t,
                    "mail.timeout",
                    format!("bad duration {:?}: {e} (write e.g. 10s, 1m)", t.get_ref()),
                );
                DEFAULT_TIMEOUT
            }
        },
        None => DEFAULT_TIMEOUT,
    };
    let defaults = Retry::default();
    let mut duration = |raw: &Option<S<String>>, key: &str, default: Duration| match raw {
        Some(t) => match humantime::parse_duration(t.get_ref()) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                v.err(t, key, "must be more than zero");
                default
            }
            Err(e) => {
                let shown = t.get_ref();
                v.err(
                    t,
                    key,
                    format!("bad duration {shown:?}: {e} (write e.g. 10s, 1m)"),
                );
                default
            }
        },
        None => default,
    };
    let retry = Retry {
        after: duration(&raw.retry_after, "mail.retry_after", defaults.after),
        max: duration(&raw.retry_max, "mail.retry_max", defaults.max),
        give_up_after: duration(
            &raw.give_up_after,
            "mail.give_up_after",
            defaults.give_up_after,
        ),
    };
    let security = raw
        .security
        .as_ref()
        .and_then(|s| match s.get_ref().as_str() {
            "none" => Some(Security::None),
            "starttls" => Some(Security::StartTls),
            "tls" => Some(Security::Tls),
            other => {
                v.err(
                    s,
                    "mail.security",
                    format!("unknown security {other:?}: use \"none\", \"starttls\" or \"tls\""),
                );
                None
            }
        });
    let Some(url) = &raw.smtp_url else {
        for (key, present) in [
            ("mail.security", raw.security.as_ref().map(Spanned::span)),
            ("mail.username", raw.username.as_ref().map(Spanned::span)),
            ("mail.password", raw.password.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = present {
                v.diags.push(v.src.diag(
                    Some(span),
                    key,
                    format!("{key} needs mail.smtp_url (without it mails go to outbox_dir)"),
                ));
            }
        }
        let dir = raw
            .outbox_dir
            .as_ref()
            .map_or(DEFAULT_OUTBOX_DIR, |d| d.get_ref().as_str());
        return MailConfig {
            from,
            transport: MailTransport::Folder(base.join(dir)),
            retry,
        };
    };
    let credentials = match (&raw.username, &raw.password) {
        (Some(user), Some(pass)) => match pass.get_ref().load(base) {
            Ok(secret) => Some((user.get_ref().clone(), secret)),
            Err(e) => {
                v.err(pass, "mail.password", e.to_string());
                None
            }
        },
        (Some(user), None) => {
            v.err(
                user,
                "mail.password",
                "mail.username needs mail.password: { env = \"NAME\" } or { file = \"path\" }",
            );
            None
        }
        (None, Some(pass)) => {
            v.err(pass, "mail.username", "mail.password needs mail.username");
            None
        }
        (None, None) => None,
    };
    let Some((host, port, security)) = parse_smtp_url(&mut v, url, security) else {
        return MailConfig {
            from,
            transport: MailTransport::Folder(base.join(DEFAULT_OUTBOX_DIR)),
            retry,
        };
    };
    if security == Security::None && credentials.is_some() && !is_loopback(&host) {
        v.err(
            url,
            "mail.security",
            "credentials would cross the network in plain text: use security = \"starttls\" or \"tls\"",
        );
    }
    let ca_file = raw.ca_file.as_ref().and_then(|f| {
        let path = base.join(f.get_ref());
        match std::fs::read(&path) {
            Ok(pem) if pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") => Some(path),
            Ok(_) => {
                v.err(
                    f,
                    "mail.ca_file",
                    format!("{} holds no PEM certificate", path.display()),
                );
                None
            }
            Err(e) => {
                v.err(
                    f,
                    "mail.ca_file",
                    format!("cannot read {}: {e}", path.display()),
                );
                None
            }
        }
    });
    MailConfig {
        from,
        transport: MailTransport::Smtp {
            host,
            port,
            security,
            credentials,
            timeout,
            ca_file,
        },
        retry,
    }
}

fn default_from() -> Mailbox {
    DEFAULT_FROM.parse().expect("static sender parses")
}

fn parse_smtp_url(
    v: &mut V,
    url: &Spanned<String>,
    security: Option<Security>,
) -> Option<(String, u16, Security)> {
    const KEY: &str = "mail.smtp_url";
    let parsed = match Url::parse(url.get_ref()) {
        Ok(u) => u,
        Err(e) => {
            v.err(
                url,
                KEY,
                format!(
                    "bad URL {:?}: {e} (write smtp://host:587 or smtps://host)",
                    url.get_ref()
                ),
            );
            return None;
        }
    };
    let security = match (parsed.scheme(), security) {
        ("smtp", s) => s.unwrap_or(Security::StartTls),
        ("smtps", None | Some(Security::Tls)) => Security::Tls,
        ("smtps", Some(other)) => {
            v.err(
                url,
                KEY,
                format!(
                    "smtps:// is TLS from the first byte, but security = {:?}: use smtp:// for that",
                    other.as_str()
                ),
            );
            return None;
        }
        (other, _) => {
            v.err(
                url,
                KEY,
                format!("URL scheme {other:?} is not supported here: use smtp or smtps"),
            );
            return None;
        }
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        v.err(
            url,
            KEY,
            "no credentials in the URL: write mail.username and mail.password = { env = \"NAME\" }",
        );
        return None;
    }
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() || parsed.fragment().is_some()
    {
        v.err(
            url,
            KEY,
            "write only smtp://host:port (TLS is chosen with mail.security)",
        );
        return None;
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        v.err(url, KEY, format!("URL {:?} has no host", url.get_ref()));
        return None;
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port().unwrap_or(security.default_port());
    Some((host, port, security))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Validates `[ops]`. Without a table, ops alerts go nowhere (`channels()` is empty).
pub fn build_ops(
    src: &Source,
    base: &Path,
    raw: Option<RawOps>,
    diags: &mut Diagnostics,
) -> OpsConfig {
    let Some(raw) = raw else {
        return OpsConfig::default();
    };
    let mut v = V { src, diags };
    let mut email = Vec::new();
    for (i, e) in raw.email.iter().enumerate() {
        match e.get_ref().parse::<lettre::Address>() {
            Ok(_) => email.push(e.get_ref().clone()),
            Err(err) => v.err(
                e,
                &format!("ops.email[{i}]"),
                format!("{:?} is not an e-mail address: {err}", e.get_ref()),
            ),
        }
    }
    let slack = match raw.webhook_format.as_ref() {
        None => false,
        Some(f) => match f.get_ref().as_str() {
            "json" => false,
            "slack" => true,
            other => {
                v.err(
                    f,
                    "ops.webhook_format",
                    format!("unknown format {other:?}: use \"json\" or \"slack\""),
                );
                false
            }
        },
    };
    if let (None, Some(f)) = (&raw.webhook_url, &raw.webhook_format) {
        v.err(
            f,
            "ops.webhook_format",
            "ops.webhook_format needs ops.webhook_url",
        );
    }
    let webhook = raw
        .webhook_url
        .as_ref()
        .and_then(|u| match Url::parse(u.get_ref()) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host_str().is_some_and(|h| !h.is_empty()) =>
            {
                Some(OpsWebhook { url, slack })
            }
            Ok(_) => {
                v.err(
                    u,
                    "ops.webhook_url",
                    format!("{:?} is not an http(s) URL with a host", u.get_ref()),
                );
                None
            }
            Err(e) => {
                v.err(
                    u,
                    "ops.webhook_url",
                    format!("bad URL {:?}: {e}", u.get_ref()),
                );
                None
            }
        });
    let telegram = raw
        .telegram
        .as_ref()
        .and_then(|t| super::telegram::build(src, base, t, v.diags));
    OpsConfig {
        email,
        webhook,
        telegram,
    }
}

/// Pushes diagnostics at a value's span.
struct V<'a, 'b> {
    src: &'a Source<'a>,
    diags: &'b mut Diagnostics,
}

impl V<'_, '_> {
    fn err<T>(&mut self, at: &Spanned<T>, key: &str, message: impl Into<String>) {
        self.diags
            .push(self.src.diag(Some(at.span()), key, message));
    }
}
