//! Raw RFC 822 bytes → a typed [`Mail`]: the sender, the threading headers, the text decoded
//! from any charset and transfer encoding (safe text for HTML-only mail), the reply without its
//! quoted history and signature, whether a machine sent it, and what a bounce reports.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use regex::Regex;

/// One inbound mail, as much of it as forewarn reads. Message-IDs are kept without their
/// angle brackets (`abc.inst@host`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The sender's address, lowercased; empty when the mail names none.
    pub from: String,
    pub from_name: Option<String>,
    pub subject: String,
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub date: Option<DateTime<Utc>>,
    /// The text part decoded (or text made from the only HTML part).
    pub text: String,
    /// [`Self::text`] without quoted history and signature: what goes on the timeline.
    pub reply: String,
    /// Why a machine sent it (auto-reply, list, bounce), if one did.
    pub automatic: Option<String>,
    /// What a delivery report says about mail it could not deliver.
    pub bounce: Option<Bounce>,
    /// Attachments: file name (or `unnamed`) and size in bytes.
    pub attachments: Vec<(String, usize)>,
}

/// A delivery failure report (a bounce).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounce {
    /// The Message-IDs of the mails it reports (without angle brackets).
    pub message_ids: Vec<String>,
    /// The recipient that failed (`Final-Recipient`), if the report says.
    pub recipient: Option<String>,
    /// Why (`Diagnostic-Code`, else `Status`), if the report says.
    pub reason: Option<String>,
}

impl Mail {
    /// Every Message-ID this mail answers: `In-Reply-To` first, then `References` newest first.
    pub fn answers(&self) -> impl Iterator<Item = &str> {
        self.in_reply_to
            .iter()
            .chain(self.references.iter().rev())
            .map(String::as_str)
    }
}

/// Parses a raw message; `None` when the bytes are not a mail at all.
pub fn parse(raw: &[u8]) -> Option<Mail> {
    let m = MessageParser::default().parse(raw)?;
    let (from, from_name) = match m.from().and_then(|a| a.first()) {
        Some(a) => (
            a.address().unwrap_or_default().trim().to_lowercase(),
            a.name().map(str::to_owned).filter(|n| !n.trim().is_empty()),
        ),
        None => (String::new(), None),
    };
    let text = body_text(&m);
    let reply = trim_reply(&text);
    let bounce = bounce_of(&m, &from);
    let automatic = automatic(&m, &from).or_else(|| bounce.as_ref().map(|_| "bounce".into()));
    Some(Mail {
        subject: m.subject().unwrap_or_default().trim().to_owned(),
        message_id: m.message_id().map(str::to_owned),
        in_reply_to: ids(m.in_reply_to()),
        references: ids(m.references()),
        date: m
            .date()
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
        attachments: attachment_parts(&m, bounce.is_some())
            .map(|p| (attachment_name(p), p.contents().len()))
            .collect(),
        from,
        from_name,
        text,
        reply,
        automatic,
        bounce,
    })
}

/// One attachment of a kept original, for staff to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentBytes {
    pub name: String,
    /// As the sender declared it (`application/octet-stream` when they did not).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The `n`th attachment (counted from 0, in the order of [`Mail::attachments`]) of a raw
/// message; `None` when there is no such attachment or the bytes are not a mail.
pub fn attachment(raw: &[u8], n: usize) -> Option<AttachmentBytes> {
    let m = MessageParser::default().parse(raw)?;
    let from = m
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let bounce = bounce_of(&m, &from).is_some();
    let part = attachment_parts(&m, bounce).nth(n)?;
    let content_type = part
        .content_type()
        .map(|c| match c.subtype() {
            Some(sub) => format!("{}/{sub}", c.ctype()),
            None => c.ctype().to_owned(),
        })
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    Some(AttachmentBytes {
        name: attachment_name(part),
        content_type,
        bytes: part.contents().to_vec(),
    })
}

/// The parts listed as attachments: all of them, but for a bounce not the returned message.
fn attachment_parts<'a>(
    m: &'a Message<'a>,
    bounce: bool,
) -> impl Iterator<Item = &'a mail_parser::MessagePart<'a>> {
    m.attachments()
        .filter(move |p| !bounce || !matches!(p.body, PartType::Message(_)))
}

fn attachment_name(p: &mail_parser::MessagePart<'_>) -> String {
    p.attachment_name().unwrap_or("unnamed").to_owned()
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// The first text part, decoded; text made from the HTML when there is only HTML.
fn body_text(m: &Message<'_>) -> String {
    let text = match m.text_part(0).map(|p| &p.body) {
        Some(PartType::Text(t)) => t.to_string(),
        Some(PartType::Html(h)) => html_to_text(h),
        _ => match m.html_part(0).map(|p| &p.body) {
            Some(PartType::Html(h)) => html_to_text(h),
            _ => String::new(),
        },
    };
    text.replace("\r\n", "\n").trim().to_owned()
}

static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)<a\s[^>]*?href\s*=\s*["']([^"']*)["'][^>]*>(.*?)</a\s*>"#).expect("regex")
});

static HIDDEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?is)<script\b.*?(</script\s*>|\z)|<style\b.*?(</style\s*>|\z)|<head\b.*?(</head\s*>|\z)|<template\b.*?(</template\s*>|\z)|<noscript\b.*?(</noscript\s*>|\z)|<!--.*?(-->|\z)",
    )
    .expect("regex")
});

/// Safe text from HTML: scripts, styles and every tag dropped, entities decoded, a link's
/// address kept after its words.
pub fn html_to_text(html: &str) -> String {
    let visible = HIDDEN.replace_all(html, " ");
    let linked = LINK.replace_all(&visible, |c: &regex::Captures<'_>| {
        let href = &c[1];
        let words = &c[2];
        if href.is_empty() || words.contains(href) || href.starts_with("mailto:") {
            words.to_owned()
        } else {
            format!("{words} ({href})")
        }
    });
    // The converter decodes entities; a `<` it decoded is text now, never markup again.
    let text = mail_parser::decoders::html::html_to_text(&linked);
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

static WROTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(on\s.*wrote:|.*\bwrote:|.*написал(\(а\)|а)?:)\s*$").expect("regex")
});
static OUTLOOK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(-{2,}\s*(original message|исходное сообщение)\s*-{2,}|_{5,}|(from|от):\s.+)$",
    )
    .expect("regex")
});

/// The new words of a reply: quoted lines (`>`), the history under "On … wrote:" / «…
/// написал(а):» or an Outlook header, and the signature under `-- ` are left out.
pub fn trim_reply(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let bare = line.trim();
        if *line == "-- " || bare == "--" || OUTLOOK.is_match(bare) {
            break;
        }
        // "On Mon, 7 Dec 2026, Support <s@x>\nwrote:" is sometimes wrapped over two lines.
        let wrapped = bare.to_lowercase().starts_with("on ")
            && lines
                .get(i + 1)
                .is_some_and(|next| WROTE.is_match(&format!("{bare} {}", next.trim())));
        if WROTE.is_match(bare) || wrapped {
            break;
        }
        if bare.starts_with('>') {
            continue;
        }
        kept.push(*line);
    }
    let reply = kept.join("\n").trim().to_owned();
    if reply.is_empty() {
        text.trim().to_owned()
    } else {
        reply
    }
}

/// Why a machine sent this mail, if one did.
fn automatic(m: &Message<'_>, from: &str) -> Option<String> {
    let header = |name: &str| m.header_raw(name).map(|v| v.trim().to_lowercase());
    if let Some(v) = header("Auto-Submitted").filter(|v| !v.starts_with("no")) {
        return Some(format!("Auto-Submitted: {v}"));
    }
    if let Some(v) = header("Precedence")
        .filter(|v| ["bulk", "junk", "list", "auto_reply"].contains(&v.as_str()))
    {
        return Some(format!("Precedence: {v}"));
    }
    for name in [
        "X-Autoreply",
        "X-Autorespond",
        "List-Id",
        "List-Unsubscribe",
    ] {
        if m.header_raw(name).is_some() {
            return Some(format!("{name} present"));
        }
    }
    let local = from.split('@').next().unwrap_or_default();
    if local == "mailer-daemon" || local == "postmaster" {
        return Some(format!("sent by {local}"));
    }
    if m.header_raw("Return-Path").map(str::trim) == Some("<>") {
        return Some("empty Return-Path".into());
    }
    None
}

static MESSAGE_ID_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?im)^message-id:\s*<([^>\s]+)>").expect("regex"));
static REPORT_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^(final-recipient|diagnostic-code|status):\s*(.+?)\s*$").expect("regex")
});

/// A delivery report: `multipart/report` (RFC 3464) or a mail from a mailer daemon, with the
/// Message-IDs of the mails it returns (from the attached message or its quoted headers).
fn bounce_of(m: &Message<'_>, from: &str) -> Option<Bounce> {
    let report = m.root_part().content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let daemon = from.starts_with("mailer-daemon@") || from.starts_with("postmaster@");
    if !report && !daemon {
        return None;
    }
    let own = m.message_id();
    let mut bounce = Bounce::default();
    let add = |id: &str, ids: &mut Vec<String>| {
        if Some(id) != own && !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    };
    for part in m.parts.iter().skip(1) {
        let text = match &part.body {
            PartType::Message(inner) => {
                if let Some(id) = inner.message_id() {
                    add(id, &mut bounce.message_ids);
                }
                continue;
            }
            PartType::Text(t) | PartType::Html(t) => t.to_string(),
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            PartType::Multipart(_) => continue,
        };
        for c in MESSAGE_ID_LINE.captures_iter(&text) {
            add(&c[1], &mut bounce.message_ids);
        }
        for c in REPORT_FIELD.captures_iter(&text) {
            let value = c[2].to_owned();
            match c[1].to_lowercase().as_str() {
                "final-recipient" => {
                    let address = value.rsplit(';').next().unwrap_or(&value).trim();
                    bounce.recipient.get_or_insert(address.to_owned());
                }
                "diagnostic-code" => bounce.reason = Some(value),
                _ => {
                    bounce.reason.get_or_insert(value);
                }
            }
        }
    }
    if m.parts.len() == 1 {
        // A plain-text bounce quotes the returned headers in its body.
        for c in MESSAGE_ID_LINE.captures_iter(&body_text(m)) {
            add(&c[1], &mut bounce.message_ids);
        }
    }
    Some(bounce)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(raw: &str) -> Mail {
        parse(raw.replace('\n', "\r\n").as_bytes()).expect("a mail")
    }

    #[test]
    fn reads_the_headers_of_a_reply() {
        let m = mail(
            "From: \"Ivan Petrov\" <Ivan@Example.COM>\n\
             To: support@hoster.example\n\
             Subject: Re: [#12] Site down\n\
             Message-ID: <r1@example.com>\n\
             In-Reply-To: <abc.inst@hoster.example>\n\
             References: <root.inst@hoster.example> <abc.inst@hoster.example>\n\
             Date: Mon, 7 Dec 2026 05:00:00 +0000\n\
             Content-Type: text/plain; charset=utf-8\n\
             \n\
             Thanks, it works now.\n",
        );
        assert_eq!(m.from, "ivan@example.com");
        assert_eq!(m.from_name.as_deref(), Some("Ivan Petrov"));
        assert_eq!(m.subject, "Re: [#12] Site down");
        assert_eq!(m.message_id.as_deref(), Some("r1@example.com"));
        assert_eq!(m.in_reply_to, ["abc.inst@hoster.example"]);
        assert_eq!(
            m.references,
            ["root.inst@hoster.example", "abc.inst@hoster.example"]
        );
        assert_eq!(
            m.answers().collect::<Vec<_>>(),
            [
                "abc.inst@hoster.example",
                "abc.inst@hoster.example",
                "root.inst@hoster.example"
            ]
        );
        let date = m.date.map(|d| d.to_rfc3339());
        assert_eq!(date.as_deref(), Some("2026-12-07T05:00:00+00:00"));
        assert_eq!(m.text, "Thanks, it works now.");
        assert_eq!(m.automatic, None);
        assert_eq!(m.bounce, None);
    }

    /// `check(content-type and transfer-encoding headers, encoded body, expected text)`.
    fn check(headers: &str, body: &[u8], expected: &str) {
        let mut raw = format!(
            "From: a@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n{}\r\n\r\n",
            headers.replace('\n', "\r\n")
        )
        .into_bytes();
        raw.extend_from_slice(body);
        let m = parse(&raw).expect("a mail");
        assert_eq!(m.text, expected, "{headers}");
    }

    #[test]
    fn decodes_every_charset_and_transfer_encoding() {
        // "Привет, сайт не работает" in KOI8-R, 8bit.
        let koi8: &[u8] =
            b"\xf0\xd2\xc9\xd7\xc5\xd4, \xd3\xc1\xca\xd4 \xce\xc5 \xd2\xc1\xc2\xcf\xd4\xc1\xc5\xd4";
        check(
            "Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit",
            koi8,
            "Привет, сайт не работает",
        );
        // The same in Windows-1251, quoted-printable.
        check(
            "Content-Type: text/plain; charset=windows-1251\nContent-Transfer-Encoding: quoted-printable",
            b"=CF=F0=E8=E2=E5=F2, =F1=E0=E9=F2 =ED=E5 =F0=E0=E1=EE=F2=E0=E5=F2",
            "Привет, сайт не работает",
        );
        // UTF-8, quoted-printable.
        check(
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable",
            b"=D0=9F=D1=80=D0=B8=D0=B2=D0=B5=D1=82, =D0=BC=D0=B8=D1=80",
            "Привет, мир",
        );
        // UTF-8, base64 ("Привет, мир").
        check(
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64",
            b"0J/RgNC40LLQtdGCLCDQvNC40YA=",
            "Привет, мир",
        );
        // KOI8-R in base64 ("Привет").
        check(
            "Content-Type: text/plain; charset=KOI8-R\nContent-Transfer-Encoding: base64",
            b"8NLJ18XU",
            "Привет",
        );
    }

    #[test]
    fn encoded_words_in_the_subject_and_name_are_decoded() {
        let m = mail(
            "From: =?koi8-r?B?6dfBzg==?= <ivan@example.com>\n\
             Subject: =?windows-1251?Q?=CF=F0=E8=E2=E5=F2?=\n\
             \n\
             x\n",
        );
        assert_eq!(m.from_name.as_deref(), Some("Иван"));
        assert_eq!(m.subject, "Привет");
    }

    #[test]
    fn html_only_mail_becomes_text_without_markup() {
        let m = mail(
            "From: a@example.com\n\
             Subject: x\n\
             Content-Type: text/html; charset=utf-8\n\
             \n\
             <html><head><style>p{color:red}</style><script>alert('head')</script></head>\n\
             <body><p>Our shop &amp; blog are <b>down</b> &lt;again&gt;.</p>\n\
             <script type=\"text/javascript\">document.location='http://evil.example'</script>\n\
             <p>See <a href=\"https://shop.example/status\">the status page</a>.</p>\n\
             <img src=x onerror=alert(1)></body></html>\n",
        );
        let t = &m.text;
        assert!(t.contains("Our shop & blog are down <again>."), "{t}");
        assert!(
            t.contains("the status page (https://shop.example/status)"),
            "{t}"
        );
        for gone in [
            "alert",
            "document.location",
            "color:red",
            "<p",
            "<b>",
            "<img",
            "<script",
        ] {
            assert!(!t.contains(gone), "{gone} in {t}");
        }
    }

    #[test]
    fn a_text_part_is_preferred_to_html_and_attachments_are_listed() {
        let raw = "From: a@example.com\n\
             Subject: x\n\
             Content-Type: multipart/mixed; boundary=\"b1\"\n\
             \n\
             --b1\n\
             Content-Type: multipart/alternative; boundary=\"b2\"\n\
             \n\
             --b2\n\
             Content-Type: text/plain; charset=utf-8\n\
             \n\
             Plain words.\n\
             --b2\n\
             Content-Type: text/html; charset=utf-8\n\
             \n\
             <p>HTML words.</p>\n\
             --b2--\n\
             --b1\n\
             Content-Type: application/octet-stream; name=\"error.log\"\n\
             Content-Disposition: attachment; filename=\"error.log\"\n\
             Content-Transfer-Encoding: base64\n\
             \n\
             aGVsbG8gd29ybGQ=\n\
             --b1--\n";
        let m = mail(raw);
        assert_eq!(m.text, "Plain words.");
        assert_eq!(m.attachments, [("error.log".to_owned(), 11)]);
        let a = super::attachment(raw.as_bytes(), 0).expect("the attachment");
        assert_eq!(a.name, "error.log");
        assert_eq!(a.bytes, b"hello world");
        assert_eq!(a.content_type, "application/octet-stream");
        assert!(super::attachment(raw.as_bytes(), 1).is_none());
    }

    #[test]
    fn quoted_history_and_signatures_are_trimmed() {
        let check = |text: &str, expected: &str| assert_eq!(trim_reply(text), expected, "{text}");
        check(
            "Still down for me.\n\nOn Mon, 7 Dec 2026 at 05:00, Support <s@hoster.example> wrote:\n> We detected a problem.\n> Next update by 06:00.",
            "Still down for me.",
        );
        check(
            "Still down.\nOn Mon, 7 Dec 2026 at 05:00, Support <s@hoster.example>\nwrote:\n> old",
            "Still down.",
        );
        check(
            "Всё ещё не работает.\n\n7 декабря 2026 г., в 05:00, Поддержка <s@hoster.example> написал(а):\n> Мы обнаружили проблему.",
            "Всё ещё не работает.",
        );
        check("Thanks.\n-- \nJohn Smith\nACME Ltd", "Thanks.");
        check(
            "Works now.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n\nWe detected",
            "Works now.",
        );
        check(
            "Works now.\n\n________________________________\nFrom: Support <s@hoster.example>\nSent: Monday",
            "Works now.",
        );
        check("Yes\n> quoted\nand more", "Yes\nand more");
        // A mail that is all quote keeps its text rather than becoming empty.
        check("> only a quote", "> only a quote");
    }

    #[test]
    fn machines_are_recognised() {
        let check = |header: &str, expected: Option<&str>| {
            let m = mail(&format!(
                "From: someone@example.com\n{header}Subject: Out of office\n\nAway.\n"
            ));
            assert_eq!(m.automatic.as_deref(), expected, "{header}");
        };
        check("", None);
        check("Auto-Submitted: no\n", None);
        check(
            "Auto-Submitted: auto-replied\n",
            Some("Auto-Submitted: auto-replied"),
        );
        check("Precedence: bulk\n", Some("Precedence: bulk"));
        check("Precedence: auto_reply\n", Some("Precedence: auto_reply"));
        check("X-Autoreply: yes\n", Some("X-Autoreply present"));
        check("X-Autorespond: yes\n", Some("X-Autorespond present"));
        check("List-Id: <news.example.com>\n", Some("List-Id present"));
        check(
            "List-Unsubscribe: <mailto:u@x>\n",
            Some("List-Unsubscribe present"),
        );
        check("Return-Path: <>\n", Some("empty Return-Path"));
        let m = mail("From: MAILER-DAEMON@mx.example.com\nSubject: x\n\nfailed\n");
        assert_eq!(m.automatic.as_deref(), Some("sent by mailer-daemon"));
    }

    #[test]
    fn a_delivery_report_names_the_returned_mail() {
        let m = mail(
            "From: Mail Delivery System <MAILER-DAEMON@mx.hoster.example>\n\
             To: support@hoster.example\n\
             Subject: Undelivered Mail Returned to Sender\n\
             Message-ID: <bounce1@mx.hoster.example>\n\
             Auto-Submitted: auto-replied\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"rb\"\n\
             \n\
             --rb\n\
             Content-Type: text/plain\n\
             \n\
             I'm sorry to have to inform you that your message could not be delivered.\n\
             --rb\n\
             Content-Type: message/delivery-status\n\
             \n\
             Reporting-MTA: dns; mx.hoster.example\n\
             \n\
             Final-Recipient: rfc822; ivan@gone.example\n\
             Action: failed\n\
             Status: 5.1.1\n\
             Diagnostic-Code: smtp; 550 5.1.1 user unknown\n\
             --rb\n\
             Content-Type: text/rfc822-headers\n\
             \n\
             From: Support <support@hoster.example>\n\
             Subject: [#7] We detected a problem\n\
             Message-ID: <abc.inst@hoster.example>\n\
             --rb--\n",
        );
        let b = m.bounce.expect("a bounce");
        assert_eq!(b.message_ids, ["abc.inst@hoster.example"]);
        assert_eq!(b.recipient.as_deref(), Some("ivan@gone.example"));
        assert_eq!(b.reason.as_deref(), Some("smtp; 550 5.1.1 user unknown"));
        assert!(m.automatic.is_some());
    }

    #[test]
    fn a_bounce_with_the_whole_message_attached() {
        let m = mail(
            "From: postmaster@mx.example.com\n\
             Subject: Delivery failure\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"rb\"\n\
             \n\
             --rb\n\
             Content-Type: text/plain\n\
             \n\
             Failed.\n\
             --rb\n\
             Content-Type: message/rfc822\n\
             \n\
             From: support@hoster.example\n\
             Message-ID: <def.inst@hoster.example>\n\
             Subject: hi\n\
             \n\
             body\n\
             --rb--\n",
        );
        let b = m.bounce.expect("a bounce");
        assert_eq!(b.message_ids, ["def.inst@hoster.example"]);
        assert!(m.attachments.is_empty(), "{:?}", m.attachments);
    }
}
