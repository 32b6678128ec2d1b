//! Message composition: the template context of a customer mail, the mail itself in the
//! customer's language, the signed link to the customer's ticket page, ops alerts about a
//! ticket, and the words forewarn writes itself (queued, maintenance).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::model::*;
use crate::config::{Config, Customer};
use crate::incident::evidence::{About, Fact};
use crate::notify::{Channel, MailExtras, NewMessage};
use crate::playbook::{MessageContext, MessageKind, Playbook};
use crate::store::InboundRecord;
use crate::store::tickets::NewEvent;
use crate::words::Words;
use crate::words::format::Reader;

pub use crate::notify::ops::message_id;

/// The ticket's title as its customer reads it: for a ticket monitoring opened, the site
/// names and the playbook's title in the customer's language ("Магазин: Сайт недоступен");
/// for a request, the subject the customer wrote.
pub fn customer_title(config: &Config, t: &Ticket, lang: crate::model::Language) -> String {
    let playbook = config.playbooks.get(&t.problem);
    match (t.origin, playbook) {
        (Origin::Monitoring, Some(p)) => {
            let names: Vec<String> = t
                .checks
                .iter()
                .filter_map(|c| config.check(c.as_str()).map(|c| c.name.clone()))
                .collect();
            let title = p.title.get(lang);
            if names.is_empty() {
                title.to_owned()
            } else {
                format!("{}: {title}", config.words.list(lang, &names))
            }
        }
        _ => t.title.clone(),
    }
}

/// The truth about a ticket nobody has taken yet, in the customer's words (`mail.queued`).
pub(super) fn queued_text(
    config: &Config,
    customer: &Customer,
    taken_by: Option<DateTime<Utc>>,
) -> String {
    let taken_by = taken_by
        .map(|t| config.words.datetime(reader(customer), t))
        .unwrap_or_default();
    config.words.text(
        customer.language,
        "mail.queued",
        minijinja::context! { taken_by => taken_by },
    )
}

/// A raised priority and the sooner checkpoint, in the customer's words (`mail.priority_raised`).
pub(super) fn priority_raised_text(
    config: &Config,
    customer: &Customer,
    next_update: DateTime<Utc>,
) -> String {
    config.words.text(
        customer.language,
        "mail.priority_raised",
        minijinja::context! { next_update => config.words.datetime(reader(customer), next_update) },
    )
}

/// The advance notice of a maintenance window (`mail.maintenance.*`): subject and body.
pub(super) fn maintenance_text(
    config: &Config,
    customer: &Customer,
    affected: &[String],
    reason: Option<&str>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> (String, String) {
    let words = &config.words;
    let r = reader(customer);
    let lang = customer.language;
    let ctx = minijinja::context! {
        customer => customer.name,
        start => words.datetime(r, start),
        end => words.datetime(r, end),
        start_day => words.date(r, start),
        reason => reason.unwrap_or_default(),
        sites => affected,
        brand => config.brand.signature(words, lang),
        phone => config.brand.support_phone.clone().unwrap_or_default(),
    };
    (
        crate::playbook::tidy_subject(&words.text(lang, "mail.maintenance.subject", ctx.clone())),
        crate::playbook::tidy_body(&words.text(lang, "mail.maintenance.body", ctx)),
    )
}

/// How a customer reads dates and numbers: their language and time zone.
pub fn reader(customer: &Customer) -> Reader {
    Reader::new(customer.language, customer.timezone)
}

pub(super) fn round_minutes(d: chrono::Duration) -> Duration {
    Duration::from_secs((d.num_seconds().max(60) as u64).div_ceil(60) * 60)
}

pub(super) fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The names of the ticket's checks, as the customer knows them.
pub(super) fn site_names(config: &Config, t: &Ticket) -> Vec<String> {
    t.checks
        .iter()
        .map(|id| {
            config
                .check(id.as_str())
                .map_or(id.to_string(), |c| c.name.clone())
        })
        .collect()
}

/// Several names as the language lists them: "A, B and C"; in Russian the templates quote the
/// list («{{ site }}»), so the names are joined to read «A», «B» и «C»
/// (`common.list.site_sep`, `common.list.site_and`).
pub fn list_sites(words: &Words, names: &[String], language: crate::model::Language) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => {
            let sep = words.word(language, "common.list.site_sep");
            let and = words.word(language, "common.list.site_and");
            format!("{}{and}{last}", init.join(&sep))
        }
    }
}

pub(super) fn targets(config: &Config, t: &Ticket) -> String {
    t.checks
        .iter()
        .filter_map(|id| {
            config
                .check(id.as_str())
                .map(|c| customer_target(c, &t.problem))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the customer calls the thing in trouble: the account for a quota, the disk and server
/// for a filling disk, otherwise the URL, host:port or DNS name.
pub(super) fn customer_target(c: &crate::config::Check, problem: &str) -> String {
    use crate::probe::ProbeSpec;
    match (&c.spec, problem) {
        (ProbeSpec::Agent(a), "quota_near") if !a.accounts.is_empty() => a.accounts.join(", "),
        (ProbeSpec::Agent(a), "disk_filling") if !a.mounts.is_empty() => format!(
            "{} on {}",
            a.mounts.join(", "),
            c.server
                .as_deref()
                .or(a.url.host_str())
                .unwrap_or("the server")
        ),
        _ => c.spec.target(),
    }
}

/// The template context for one customer message, in the customer's words, language and time
/// zone. Only this customer's checks appear. `facts` is what monitoring saw (none for a staff
/// message); `deadline` when a predicted problem hits.
#[allow(clippy::too_many_arguments)]
pub(super) fn context(
    config: &Config,
    customer: &Customer,
    t: &Ticket,
    sites: &[String],
    target: &str,
    facts: &[Fact],
    deadline: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> MessageContext {
    let words = &config.words;
    let lang = customer.language;
    let r = reader(customer);
    let site = list_sites(words, sites, lang);
    let about = About {
        site: &site,
        target,
        deadline,
        now: at,
    };
    let mut evidence: Vec<String> = Vec::new();
    for f in facts {
        let sentence = f.sentence(words, r, &about);
        if !evidence.contains(&sentence) {
            evidence.push(sentence);
        }
    }
    MessageContext {
        customer: customer.name.clone(),
        ticket: t.id.to_string(),
        ticket_url: customer_ticket_url(config, t, at),
        many: sites.len() > 1,
        site,
        target: target.to_owned(),
        detected_at: words.datetime(r, t.created_at.min(at)),
        evidence,
        next_update: t
            .next_update_due
            .map(|d| words.datetime(r, d))
            .unwrap_or_default(),
        status: t.status.as_str().to_owned(),
        status_text: words.word(lang, &format!("common.status.{}", t.status.as_str())),
        title: customer_title(config, t, lang),
        deadline: deadline.map(|d| words.date(r, d)).unwrap_or_default(),
        duration: String::new(),
        update: String::new(),
        resolution: None,
        brand: config.brand.signature(words, lang),
        phone: config.brand.support_phone.clone().unwrap_or_default(),
    }
}

/// The automatic acknowledgement of a new ticket (R7): the message and its `AutoAckQueued`
/// event, or an internal note saying why it could not be written.
pub(super) fn acknowledge_first(
    first: Result<Vec<NewMessage>, String>,
    at: DateTime<Utc>,
    events: &mut Vec<NewEvent>,
    messages: &mut Vec<NewMessage>,
) {
    let kind = match first {
        Ok(m) if m.is_empty() => return,
        Ok(m) => {
            messages.extend(m);
            EventKind::AutoAckQueued
        }
        Err(e) => EventKind::InternalNote {
            text: format!("the customer message could not be written: {e}"),
        },
    };
    events.push(NewEvent {
        at,
        actor: Actor::System,
        public: false,
        kind,
    });
}

/// The staff page of a ticket, for staff and ops messages.
pub fn ticket_url(config: &Config, id: TicketId) -> String {
    format!("{}tickets/{}", config.public_url, id.0)
}

/// The customer's page of a ticket: a signed link (`/c/t/{token}`, valid for
/// `survey.ticket_link_ttl`) when a link-signing key is set, else the staff page.
pub fn customer_ticket_url(config: &Config, t: &Ticket, at: DateTime<Utc>) -> String {
    match crate::token::Signer::from_config(config) {
        Some(signer) => {
            let ttl = chrono::Duration::from_std(config.survey.ticket_link_ttl)
                .unwrap_or_else(|_| chrono::Duration::days(90));
            let token = signer.sign(
                crate::token::Purpose::TicketView,
                &t.customer,
                t.id.0,
                "",
                at + ttl,
            );
            format!("{}c/t/{token}", config.public_url)
        }
        None => ticket_url(config, t.id),
    }
}

/// A customer e-mail from the playbook, in the customer's language, and its event for the
/// customer's webhook when they have one. Nothing when the customer has no contacts.
pub(super) fn customer_message(
    config: &Config,
    playbook: &Playbook,
    kind: MessageKind,
    customer: &Customer,
    t: &Ticket,
    ctx: &MessageContext,
    key: &str,
) -> Result<Vec<NewMessage>, String> {
    let to = customer.emails();
    if to.is_empty() {
        return Ok(Vec::new());
    }
    let rendered = playbook
        .render(kind, customer.language, ctx)
        .map_err(|e| e.to_string())?;
    let body = match read_more(config, playbook, kind, customer.language) {
        Some(link) => before_signature(&rendered.body, &ctx.brand, &link),
        None => rendered.body,
    };
    let key = format!("ticket-{}/{key}", t.id.0);
    // The customer's own webhook hears the same, in the same transaction (`customer_hook`).
    let hook = crate::notify::customer_hook::message(
        config,
        customer,
        crate::notify::customer_hook::Told {
            kind: kind.into(),
            key: &key,
            ticket: Some(t),
            subject: &rendered.subject,
            text: &body,
            link: Some(&ctx.ticket_url),
            at: Utc::now(),
        },
    );
    let mail = NewMessage {
        message_id: message_id(config, &key),
        key,
        ticket: Some(t.id),
        channel: Channel::Email { to },
        subject: rendered.subject,
        body,
        extras: MailExtras {
            language: Some(customer.language),
            ..MailExtras::default()
        },
    };
    Ok(std::iter::once(mail).chain(hook).collect())
}

/// "Read more" and the public article about the problem in the customer's language
/// (`mail.read_more`), for the mails that explain the problem: the first notice, the warning,
/// the resolution and a reopening. `None` when no public article fits.
fn read_more(
    config: &Config,
    playbook: &Playbook,
    kind: MessageKind,
    lang: crate::model::Language,
) -> Option<String> {
    use MessageKind::*;
    if !matches!(kind, Opened | Warning | Resolved | Reopened) {
        return None;
    }
    let article = config
        .kb
        .public_for_playbook(&config.playbooks, &playbook.key, lang)?;
    let url = format!(
        "{}kb/{}?lang={}",
        config.public_url,
        article.slug,
        lang.as_str()
    );
    Some(config.words.text(
        lang,
        "mail.read_more",
        minijinja::context! { title => article.title, url },
    ))
}

/// `body` with `paragraph` before its signature (the last paragraph, when it holds the
/// hoster's `brand`), else at its end.
fn before_signature(body: &str, brand: &str, paragraph: &str) -> String {
    match body.rsplit_once("\n\n") {
        Some((text, signature)) if !brand.is_empty() && signature.contains(brand) => {
            format!("{text}\n\n{paragraph}\n\n{signature}")
        }
        _ => format!("{}\n\n{paragraph}", body.trim_end()),
    }
}

/// Marks the customer mails a staff member's action causes as written by a person (no
/// `Auto-Submitted`): their update, question or resolution.
pub(super) fn written_by(actor: &Actor, messages: &mut [NewMessage]) {
    if matches!(actor, Actor::Staff(_)) {
        for m in messages {
            m.extras.personal = true;
        }
    }
}

/// Ops alerts: e-mail and webhook, if configured. Never sent to customers. Each call is a new
/// alert (its key carries the time).
pub(super) fn ops_messages(config: &Config, t: &Ticket, what: &str) -> Vec<NewMessage> {
    let stem = format!("{}-{}", slug(what), Utc::now().timestamp_millis());
    ops_messages_keyed(config, t, what, &stem)
}

/// Ops alerts whose idempotency key ends in `stem`: the same stem is queued once.
pub(super) fn ops_messages_keyed(
    config: &Config,
    t: &Ticket,
    what: &str,
    stem: &str,
) -> Vec<NewMessage> {
    let subject = format!("[{}] {} {} — {}", t.severity, t.id, t.title, what);
    let body = format!(
        "{what}\n\nTicket {} ({}), customer {}, problem {}, skill group {}.\n{}\n",
        t.id,
        t.status,
        t.customer,
        t.problem,
        t.skill_group,
        ticket_url(config, t.id)
    );
    let key = format!("ops/ticket-{}/{stem}", t.id.0);
    crate::notify::ops::messages(config, &key, &subject, &body)
}

fn slug(s: &str) -> String {
    s.chars()
        .take(24)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The Message-ID of a ticket's first customer mail: every later mail of the ticket answers it
/// (`In-Reply-To`, `References`), so mail clients show one conversation.
pub fn thread_root(config: &Config, ticket: TicketId) -> String {
    message_id(config, &format!("ticket-{}/opened", ticket.0))
}

/// The staff-only entry that says which mail an entry came from: its sender, subject and
/// attachments, and where its original is (`InboundStore::inbound_message`).
pub fn mail_received(r: &InboundRecord, at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        at,
        actor: Actor::System,
        public: false,
        kind: EventKind::MailReceived {
            mailbox: r.key.mailbox.clone(),
            uidvalidity: r.key.uidvalidity,
            uid: r.key.uid,
            from: r.sender.clone(),
            subject: r.subject.clone(),
            attachments: r.attachments.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{before_signature, list_sites};

    #[test]
    fn the_read_more_link_goes_before_the_signature() {
        assert_eq!(
            before_signature(
                "Hello.\n\nTicket #1: u\n\n— Northwind",
                "Northwind",
                "Read more"
            ),
            "Hello.\n\nTicket #1: u\n\nRead more\n\n— Northwind"
        );
        assert_eq!(
            before_signature("Hello.\n", "Northwind", "Read more"),
            "Hello.\n\nRead more"
        );
    }
    use crate::model::Language;
    use crate::words::Words;

    #[test]
    fn several_sites_read_as_a_list_in_each_language() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let w = Words::builtin();
        assert_eq!(list_sites(&w, &names(&["Shop"]), Language::En), "Shop");
        assert_eq!(
            list_sites(&w, &names(&["Shop", "Blog"]), Language::En),
            "Shop and Blog"
        );
        assert_eq!(
            list_sites(&w, &names(&["Shop", "Blog", "API"]), Language::En),
            "Shop, Blog and API"
        );
        // The Russian templates quote the list: «{{ site }}».
        let quoted = format!(
            "«{}»",
            list_sites(&w, &names(&["Магазин", "Форум"]), Language::Ru)
        );
        assert_eq!(quoted, "«Магазин» и «Форум»");
    }
}
