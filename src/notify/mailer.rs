//! E-mail delivery through lettre: SMTP (plain, STARTTLS or TLS with rustls) or `.eml` files in
//! a folder when no SMTP server is configured.
//!
//! A customer mail (one with a language) goes out as a helpdesk's would: `multipart/alternative`
//! with the text and an HTML part made from it ([`super::html`]), from the hoster's name at the
//! `[mail] from` address, `Reply-To` the hoster's `[brand] reply_to`, `Content-Language`,
//! `List-Unsubscribe` on surveys, and every mail of a ticket answering its first one
//! (`In-Reply-To`, `References`). `Auto-Submitted: auto-generated` on every mail a person did not
//! write, so that auto-responders stay quiet. An ops alert stays text only, from `[mail] from`
//! as configured.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::config::{MailConfig, MailTransport, Security};
use super::{Channel, DeliveryError, OutboxMessage};
use crate::config::Brand;
use crate::ticket::TicketId;

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("cannot prepare TLS for SMTP server {host}: {reason}")]
    Tls { host: String, reason: String },
}

/// Sends e-mails. Cheap to share behind an `Arc`; each send opens its own SMTP connection
/// (no pool: a notification volume does not need one, and a fresh connection after the
/// server comes back is always a working one).
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    letterhead: Option<std::sync::Arc<dyn Letterhead>>,
}

/// What a mail takes from the running configuration, asked for each mail (a reload may change
/// it). Without one, customer mails come from [`Brand::default`] and are not threaded.
pub trait Letterhead: Send + Sync {
    /// Who customers hear from.
    fn brand(&self) -> Brand;
    /// The Message-ID every mail of the ticket answers: its first mail's.
    fn thread_root(&self, ticket: TicketId) -> String;
}

enum Transport {
    Smtp {
        smtp: AsyncSmtpTransport<Tokio1Executor>,
        host: String,
        port: u16,
        timeout: Duration,
    },
    Folder {
        dir: PathBuf,
        files: AsyncFileTransport<Tokio1Executor>,
    },
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mailer");
        d.field("from", &self.from.to_string());
        match &self.transport {
            Transport::Smtp { host, port, .. } => d.field("smtp", &format!("{host}:{port}")),
            Transport::Folder { dir, .. } => d.field("folder", dir),
        };
        d.field("letterhead", &self.letterhead.is_some());
        d.finish()
    }
}

impl Mailer {
    /// Brands customer mails and threads every mail of a ticket under its first one.
    pub fn with_letterhead(self, letterhead: std::sync::Arc<dyn Letterhead>) -> Mailer {
        Mailer {
            letterhead: Some(letterhead),
            ..self
        }
    }

    pub fn new(config: &MailConfig) -> Result<Mailer, MailerError> {
        let transport = match &config.transport {
            MailTransport::Smtp {
                host,
                port,
                security,
                credentials,
                timeout,
                ca_file,
            } => {
                let tls_err = |reason: String| MailerError::Tls {
                    host: host.clone(),
                    reason,
                };
                let ca = match ca_file {
                    Some(path) => {
                        let pem = std::fs::read(path)
                            .map_err(|e| tls_err(format!("CA file {}: {e}", path.display())))?;
                        Some(
                            lettre::transport::smtp::client::Certificate::from_pem(&pem)
                                .map_err(|e| tls_err(format!("CA file {}: {e}", path.display())))?,
                        )
                    }
                    None => None,
                };
                let tls_params = || {
                    let mut params = TlsParameters::builder(host.clone());
                    if let Some(ca) = &ca {
                        params = params.add_root_certificate(ca.clone());
                    }
                    params.build_rustls().map_err(|e| tls_err(e.to_string()))
                };
                let tls = match security {
                    Security::None => Tls::None,
                    Security::StartTls => Tls::Required(tls_params()?),
                    Security::Tls => Tls::Wrapper(tls_params()?),
                };
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    .port(*port)
                    .tls(tls)
                    .timeout(Some(*timeout))
                    .hello_name(ClientId::Domain(config.from.email.domain().to_owned()));
                if let Some((user, password)) = credentials {
                    builder = builder
                        .credentials(Credentials::new(user.clone(), password.expose().to_owned()));
                }
                Transport::Smtp {
                    smtp: builder.build(),
                    host: host.clone(),
                    port: *port,
                    timeout: *timeout,
                }
            }
            MailTransport::Folder(dir) => Transport::Folder {
                dir: dir.clone(),
                files: AsyncFileTransport::new(dir),
            },
        };
        Ok(Mailer {
            from: config.from.clone(),
            transport,
            letterhead: None,
        })
    }

    /// Where mails go, for logs and `forewarn outbox`: `smtp://host:port` or the folder.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp { host, port, .. } => format!("smtp://{host}:{port}"),
            Transport::Folder { dir, .. } => format!("folder {}", dir.display()),
        }
    }

    /// Sends an e-mail message of the outbox. `Ok` means the SMTP server accepted it (or the
    /// file was written).
    pub async fn send(&self, msg: &OutboxMessage) -> Result<(), DeliveryError> {
        let Channel::Email { to } = &msg.channel else {
            return Err(DeliveryError::Permanent(
                "not an e-mail message (the mailer sends only e-mail)".to_owned(),
            ));
        };
        let email = self.build(to, msg)?;
        match &self.transport {
            Transport::Smtp { smtp, timeout, .. } => {
                // lettre's timeout bounds each step; this bounds the whole conversation.
                let whole = timeout.saturating_mul(4);
                match tokio::time::timeout(whole, smtp.send(email)).await {
                    Ok(Ok(_response)) => Ok(()),
                    Ok(Err(e)) => Err(classify_smtp(&e)),
                    Err(_) => Err(DeliveryError::Transient(format!(
                        "SMTP conversation took longer than {}",
                        humantime::format_duration(whole)
                    ))),
                }
            }
            Transport::Folder { dir, files } => {
                tokio::fs::create_dir_all(dir).await.map_err(|e| {
                    DeliveryError::Transient(format!("cannot create {}: {e}", dir.display()))
                })?;
                files.send(email).await.map(|_id| ()).map_err(|e| {
                    DeliveryError::Transient(format!("cannot write into {}: {e}", dir.display()))
                })
            }
        }
    }

    /// The message as it goes out, with the stable Message-ID: a customer mail as text + HTML
    /// from the brand, an ops alert as text/plain.
    fn build(&self, to: &[String], msg: &OutboxMessage) -> Result<Message, DeliveryError> {
        if to.is_empty() {
            return Err(DeliveryError::Permanent("no recipients".to_owned()));
        }
        let extras = &msg.extras;
        let brand = match (&self.letterhead, extras.language) {
            (Some(l), Some(_)) => Some(l.brand()),
            (None, Some(_)) => Some(Brand::default()),
            (_, None) => None,
        };
        let from = match &brand {
            Some(brand) => Mailbox::new(Some(brand.name.clone()), self.from.email.clone()),
            None => self.from.clone(),
        };
        let mut builder = Message::builder()
            .from(from)
            .subject(msg.subject.clone())
            .message_id(Some(angle_brackets(&msg.message_id)))
            .date(SystemTime::from(msg.created_at));
        if !extras.personal {
            builder = builder
                .raw_header(raw_header("Auto-Submitted", "auto-generated"))
                // Exchange and Outlook do not read Auto-Submitted.
                .raw_header(raw_header("X-Auto-Response-Suppress", "OOF, AutoReply"));
        }
        if let Some(addr) = brand.as_ref().and_then(|b| b.reply_to.as_deref()) {
            let reply_to = addr.parse::<Mailbox>().map_err(|e| {
                DeliveryError::Permanent(format!("invalid [brand] reply_to {addr:?}: {e}"))
            })?;
            builder = builder.reply_to(reply_to);
        }
        if let Some(language) = extras.language {
            builder = builder.raw_header(raw_header("Content-Language", language.as_str()));
        }
        if let Some(url) = &extras.unsubscribe {
            builder = builder.raw_header(raw_header("List-Unsubscribe", &format!("<{url}>")));
        }
        if let (Some(letterhead), Some(ticket)) = (&self.letterhead, msg.ticket) {
            let root = letterhead.thread_root(ticket);
            if root != msg.message_id {
                builder = builder
                    .in_reply_to(angle_brackets(&root))
                    .references(angle_brackets(&root));
            }
        }
        for addr in to {
            let mailbox = addr.parse::<Mailbox>().map_err(|e| {
                DeliveryError::Permanent(format!("invalid recipient address {addr:?}: {e}"))
            })?;
            builder = builder.to(mailbox);
        }
        let built = match (&brand, extras.language) {
            (Some(brand), Some(language)) => {
                let html =
                    super::html::render(brand, language, &msg.subject, &msg.body, &extras.buttons)
                        .map_err(|e| {
                            DeliveryError::Permanent(format!("cannot write the HTML part: {e:#}"))
                        })?;
                builder.multipart(MultiPart::alternative_plain_html(msg.body.clone(), html))
            }
            _ => builder
                .header(ContentType::TEXT_PLAIN)
                .body(msg.body.clone()),
        };
        built.map_err(|e| DeliveryError::Permanent(format!("cannot build the message: {e}")))
    }
}

fn raw_header(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_owned())
}

/// `<id@host>`: the form the Message-ID header needs.
fn angle_brackets(id: &str) -> String {
    let id = id.trim();
    if id.starts_with('<') && id.ends_with('>') {
        id.to_owned()
    } else {
        format!("<{}>", id.trim_matches(['<', '>']))
    }
}

/// Reply codes that say "our credentials or TLS are wrong", not "this message is wrong":
/// retried (the operator fixes the config), not given up at once.
const SENDER_SIDE_5XX: [u16; 4] = [530, 534, 535, 538];

/// Transient: connection refused, timeouts, TLS and protocol trouble, 4xx replies.
/// Permanent: 5xx replies (recipient refused, message refused), except authentication ones.
pub fn classify_smtp(e: &lettre::transport::smtp::Error) -> DeliveryError {
    let text = e.to_string();
    match e.status().map(u16::from) {
        Some(code) if e.is_permanent() && !SENDER_SIDE_5XX.contains(&code) => {
            DeliveryError::Permanent(format!("SMTP {text}"))
        }
        _ if e.is_timeout() => DeliveryError::Transient(format!("SMTP timeout: {text}")),
        _ => DeliveryError::Transient(format!("SMTP {text}")),
    }
}
