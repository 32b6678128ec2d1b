//! Every customer page, for an English and a Russian customer, in headless Chromium at a
//! phone's size (390 × 844) and a desktop's (1440 × 900), against the real server on loopback
//! and a real SMTP server: the checks page (a failing and a passing check), a ticket that
//! monitoring opened (with a staff update and an automatic update on its timeline), a
//! resolved ticket, the survey confirm page, the page after the answer, the page after the
//! comment, the unsubscribe question, a report sent from the checks page, a report over the
//! limit (429), and a refused link.
//!
//! On each page and size: no horizontal scroll, a screenshot under target/screenshots/, the
//! customer's `<html lang>`, the hoster's name and never "forewarn", times in the customer's
//! zone, and no English word on a Russian page.
//!
//! Needs `chromium` (Debian package) and python3 with websocket-client; `.ci/run` installs both.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/smtp_server.rs"]
mod smtp_server;

use std::time::{Duration, Instant};

use browser::{Browser, Page, screenshots_dir};
use chrono::Utc;
use chrono_tz::Tz;
use forewarn::model::{CustomerId, Language};
use forewarn::server::RunningServer;
use forewarn::ticket::{Actor, EventKind, Origin, Resolution, SolutionOption, TicketId};
use forewarn::token::{Purpose, Signer};
use forewarn::words::Words;
use forewarn::words::format::Reader;
use smtp_server::SmtpServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "customer-pages-secret-0123456789abcdef-0123456789";
const BRAND: &str = "Northwind Hosting";
const PHONE: &str = "+7 495 123-45-67";
const SIZES: [(u32, u32); 2] = [(390, 844), (1440, 900)];

/// English words that must not appear on a Russian customer's page (its visible text and
/// title, lower-cased).
const ENGLISH: &[&str] = &[
    "critical",
    "warning",
    "resolved",
    "in progress",
    "automatic update",
    "next update",
    "ticket",
    "status",
    "working",
    "unknown",
    "uptime",
    "service",
    "opened",
    "timeline",
    "monitoring",
    "support",
    "send",
    "back",
    "report",
    "subject",
    "answer",
    "survey",
    "thank",
    "please",
    "cause",
    "what we did",
    "since",
    " at ",
    " by ",
    "utc",
];

/// One customer of the scene.
struct Who {
    id: &'static str,
    name: &'static str,
    lang: Language,
    tz: Tz,
    /// Its contact, where its mails go.
    contact: &'static str,
}

const ACME: Who = Who {
    id: "acme",
    name: "Acme Ltd",
    lang: Language::En,
    tz: chrono_tz::America::New_York,
    contact: "ops@acme.example",
};

const GLOBEX: Who = Who {
    id: "globex",
    name: "Глобекс",
    lang: Language::Ru,
    tz: chrono_tz::Europe::Moscow,
    contact: "it@globex.example",
};

impl Who {
    fn customer(&self) -> CustomerId {
        CustomerId::parse(self.id).unwrap()
    }

    fn lang(&self) -> &'static str {
        self.lang.as_str()
    }

    /// A moment as this customer's pages write it.
    fn datetime(&self, at: chrono::DateTime<Utc>) -> String {
        Words::builtin().datetime(Reader::new(self.lang, self.tz), at)
    }

    /// The zone's abbreviation in December.
    fn zone(&self) -> &'static str {
        if self.ru() { "MSK" } else { "EST" }
    }

    fn ru(&self) -> bool {
        self.lang == Language::Ru
    }
}

/// A loopback server that answers every request with `body` as `content_type`.
async fn serve(status: &'static str, content_type: &'static str, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="36" viewBox="0 0 120 36"><rect width="36" height="36" rx="8" fill="#0e7c66"/><path d="M9 26V10l9 10 9-10v16" stroke="#fff" stroke-width="3" fill="none"/><text x="44" y="24" font-family="sans-serif" font-size="15" font-weight="700" fill="#0e7c66">NW</text></svg>"##;

async fn start(smtp: &SmtpServer, dir: &std::path::Path) -> (RunningServer, String) {
    forewarn::probe::install_crypto_provider();
    let logo = serve("200 OK", "image/svg+xml", LOGO).await;
    let up = serve("200 OK", "text/plain", "ok").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(dir.join("link.secret"), SECRET).unwrap();
    std::fs::write(
        dir.join("forewarn.toml"),
        format!(
            "database = \"sqlite://data/forewarn.db\"\npublic_url = \"{base}/\"\ntimezone = \"UTC\"\n\
             [mail]\nfrom = \"support@northwind.example\"\nsmtp_url = \"smtp://{}\"\nsecurity = \"none\"\n\
             [web]\nsecret = {{ file = \"link.secret\" }}\n\
             [web.customer_limits]\nreports_per_link = 1\n\
             [survey]\ndelay = \"1h\"\n\
             [brand]\nname = \"{BRAND}\"\nlogo_url = \"{logo}/logo.svg\"\nsupport_phone = \"{PHONE}\"\nwebsite = \"https://northwind.example/\"\n",
            smtp.addr()
        ),
    )
    .unwrap();
    for who in [&ACME, &GLOBEX] {
        let tz = who.tz.name();
        let (id, name, lang, contact) = (who.id, who.name, who.lang(), who.contact);
        std::fs::write(
            dir.join(format!("checks/{id}.toml")),
            format!(
                "[customer]\nid = \"{id}\"\nname = \"{name}\"\ncontacts = [\"{contact}\"]\nlanguage = \"{lang}\"\ntimezone = \"{tz}\"\n\n\
                 [[check]]\nid = \"{id}-shop\"\nname = \"{}\"\ninterval = \"1s\"\ntimeout = \"1s\"\n[check.http]\nurl = \"{up}/\"\n\n\
                 [[check]]\nid = \"{id}-api\"\nname = \"{}\"\ninterval = \"1s\"\ntimeout = \"1s\"\n[check.http]\nurl = \"http://127.0.0.1:9/\"\n",
                if who.ru() { "Магазин" } else { "Shop" },
                if who.ru() { "API заказов" } else { "Orders API" },
            ),
        )
        .unwrap();
    }
    let path = dir.join("forewarn.toml");
    let config = forewarn::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let server = forewarn::server::start(config, path, listener)
        .await
        .unwrap();
    (server, base)
}

fn link(purpose: Purpose, who: &Who, subject: i64) -> String {
    let token = Signer::new(SECRET.as_bytes()).sign(
        purpose,
        &who.customer(),
        subject,
        "",
        Utc::now() + chrono::Duration::days(1),
    );
    let kind = match purpose {
        Purpose::TicketView => "t",
        Purpose::ChecksView => "checks",
        _ => unreachable!(),
    };
    format!("/c/{kind}/{token}")
}

/// Waits up to 30 s for the ticket monitoring opens for `who`'s failing check.
async fn monitoring_ticket(server: &RunningServer, who: &Who) -> TicketId {
    let start = Instant::now();
    loop {
        let tickets = server.store.tickets(&Default::default()).await.unwrap();
        if let Some(t) = tickets
            .iter()
            .find(|t| t.customer == who.customer() && t.origin == Origin::Monitoring)
        {
            return t.id;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no ticket for {}",
            who.id
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Staff take the ticket and post an update; later the promise lapses and forewarn sends the
/// automatic update.
async fn work(server: &RunningServer, who: &Who, id: TicketId) {
    let t = &server.tickets;
    let now = Utc::now();
    t.acknowledge(id, Actor::Staff("anna".into()), now)
        .await
        .unwrap();
    let text = if who.ru() {
        "Нашли причину: на web-02 закончилось место на диске. Освобождаем его."
    } else {
        "We found the cause: the disk of web-02 is full. We are freeing space now."
    };
    t.update(
        id,
        Actor::Staff("anna".into()),
        text,
        Some(Duration::from_secs(3600)),
        false,
        now,
    )
    .await
    .unwrap();
    let due = server
        .store
        .ticket(id)
        .await
        .unwrap()
        .unwrap()
        .next_update_due
        .unwrap();
    t.sla_tick(due + chrono::Duration::seconds(30))
        .await
        .unwrap();
    let timeline = server.store.timeline(id).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| matches!(e.kind, EventKind::AutomaticUpdate { .. })),
        "{timeline:#?}"
    );
}

/// A request resolved two days ago with two options, so that its survey goes out now.
async fn resolved_ticket(server: &RunningServer, who: &Who) -> TicketId {
    let ago = |h| Utc::now() - chrono::Duration::hours(h);
    let t = &server.tickets;
    let (title, text, resolution) = if who.ru() {
        (
            "Письма уходят в спам",
            "Письма клиентам попадают в спам с понедельника.",
            Resolution {
                cause: "У домена не было записи DKIM.".into(),
                action: "Добавили DKIM и SPF, проверили доставку.".into(),
                fully_solved: false,
                prevention: "Проверять DNS-записи после смены почтового сервера.".into(),
                options: vec![
                    SolutionOption {
                        title: "Отдельный IP для рассылок".into(),
                        pros: "Репутация не зависит от соседей.".into(),
                        cons: "Стоит 300 ₽ в месяц.".into(),
                    },
                    SolutionOption {
                        title: "Оставить как есть".into(),
                        pros: "Бесплатно.".into(),
                        cons: "Часть писем может попадать в спам.".into(),
                    },
                ],
                resolved_while_failing: None,
            },
        )
    } else {
        (
            "Mail goes to spam",
            "Our invoices land in our customers' spam folders since Monday.",
            Resolution {
                cause: "The domain had no DKIM record.".into(),
                action: "Added DKIM and SPF and checked delivery.".into(),
                fully_solved: false,
                prevention: "Check DNS records after moving the mail server.".into(),
                options: vec![
                    SolutionOption {
                        title: "A dedicated sending IP".into(),
                        pros: "Your reputation no longer depends on neighbours.".into(),
                        cons: "Costs €5 a month.".into(),
                    },
                    SolutionOption {
                        title: "Leave it as it is".into(),
                        pros: "Free.".into(),
                        cons: "Some mail may still land in spam.".into(),
                    },
                ],
                resolved_while_failing: None,
            },
        )
    };
    let id = t
        .customer_request(&who.customer(), title, text, vec![], ago(72))
        .await
        .unwrap();
    t.resolve(id, Actor::Staff("anna".into()), resolution, ago(48))
        .await
        .unwrap();
    id
}

/// The survey mail's links for `who`: the answer links (ratings 1–5, then yes / no) and the
/// unsubscribe link, as paths.
async fn survey_links(smtp: &SmtpServer, base: &str, who: &Who) -> (Vec<String>, String) {
    let start = Instant::now();
    loop {
        for m in smtp.received() {
            if !m.recipients.iter().any(|r| r == who.contact) {
                continue;
            }
            let paths: Vec<String> = m
                .text
                .split_whitespace()
                .filter_map(|w| w.strip_prefix(base))
                .map(str::to_owned)
                .collect();
            let answers: Vec<String> = paths
                .iter()
                .filter(|p| p.starts_with("/c/s/"))
                .cloned()
                .collect();
            if let Some(unsubscribe) = paths.iter().find(|p| p.starts_with("/c/u/"))
                && !answers.is_empty()
            {
                return (answers, unsubscribe.clone());
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no survey mail to {}",
            who.contact
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page now open, at every size: fits the width, screenshot, the customer's language and
/// the hoster's name. Returns the visible text (at the last size) and the widths at 390 px.
async fn look(b: &mut Browser, name: &str, lang: &str, russian: bool) -> Page {
    let shots = screenshots_dir();
    let mut last = None;
    for (w, h) in SIZES {
        let page = b.size(w, h).await;
        let what = format!("{name} ({lang}, {w} px)");
        let (scroll, inner) = b.assert_fits(&what).await;
        eprintln!("{what}: {scroll} px of {inner}");
        b.screenshot(&shots.join(format!("customer-{name}-{lang}-{w}.png")))
            .await;
        assert_eq!(
            b.eval("document.documentElement.lang").await,
            lang,
            "{what}: <html lang>"
        );
        assert!(page.title.contains(BRAND), "{what}: title {:?}", page.title);
        assert!(page.text.contains(BRAND), "{what}: {}", page.text);
        let seen = format!("{}\n{}", page.title, page.text).to_lowercase();
        assert!(!seen.contains("forewarn"), "{what}: {seen}");
        if russian {
            for word in ENGLISH {
                assert!(
                    !seen.contains(word),
                    "{what}: the English {word:?} on a Russian page:\n{seen}"
                );
            }
        }
        // The logo loaded (the policy allows its origin).
        assert_eq!(
            b.eval("document.querySelector('.c-logo').naturalWidth > 0")
                .await,
            true,
            "{what}: the logo shows"
        );
        // The support phone is a link to dial, except on a page in every language.
        assert_eq!(
            b.eval("!!document.querySelector('.c-footer a[href=\"tel:+74951234567\"]')")
                .await,
            name != "refused",
            "{what}: the phone in the footer"
        );
        last = Some(page);
    }
    // Phone numbers are written with no-break spaces and hyphens.
    let mut page = last.unwrap();
    page.text = page.text.replace('\u{a0}', " ").replace('\u{2011}', "-");
    page
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_customer_page_in_both_languages_on_a_phone_and_a_desktop() {
    // A page that fails to render says why in the test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("forewarn::web=warn")
        .with_test_writer()
        .try_init();
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start(&smtp, dir.path()).await;
    let mut b = Browser::start().await;

    let mut monitoring = Vec::new();
    for who in [&ACME, &GLOBEX] {
        let id = monitoring_ticket(&server, who).await;
        work(&server, who, id).await;
        monitoring.push(id);
    }
    let resolved: Vec<TicketId> = {
        let mut ids = Vec::new();
        for who in [&ACME, &GLOBEX] {
            ids.push(resolved_ticket(&server, who).await);
        }
        ids
    };
    let run = server.surveys.tick(Utc::now()).await.unwrap();
    assert_eq!(run.sent, 2, "one survey per customer");

    for (i, who) in [&ACME, &GLOBEX].into_iter().enumerate() {
        let (lang, ru) = (who.lang(), who.ru());

        // The checks page: a failing and a passing check, in the customer's words.
        let checks = link(Purpose::ChecksView, who, 0);
        b.goto(&format!("{base}{checks}")).await;
        let page = look(&mut b, "checks", lang, ru).await;
        let (failing, passing) = if ru {
            ("не работает", "работает")
        } else {
            ("not working", "working")
        };
        assert!(page.text.contains(failing), "{}", page.text);
        assert!(page.text.contains(passing), "{}", page.text);
        assert!(page.text.contains(who.zone()), "since, in their zone");

        // The ticket monitoring opened: a staff update, an automatic update, next update by.
        let id = monitoring[i];
        b.goto(&format!("{base}{}", link(Purpose::TicketView, who, id.0)))
            .await;
        let page = look(&mut b, "ticket", lang, ru).await;
        let ticket = server.store.ticket(id).await.unwrap().unwrap();
        let timeline = server.store.timeline(id).await.unwrap();
        let promised = timeline
            .iter()
            .find_map(|e| match e.kind {
                EventKind::AutomaticUpdate { next_update } => Some(next_update),
                _ => None,
            })
            .unwrap();
        for at in [ticket.created_at, promised] {
            let shown = who.datetime(at);
            assert!(page.text.contains(&shown), "{shown:?} in:\n{}", page.text);
        }
        let (title, freeing, auto, staff) = if ru {
            (
                "Сайт недоступен",
                "Освобождаем его",
                "Мы продолжаем работать",
                "поддержка",
            )
        } else {
            (
                "down",
                "We are freeing space now",
                "We are still working on it",
                "support",
            )
        };
        for expected in [title, freeing, auto, staff, who.zone()] {
            assert!(
                page.text.contains(expected),
                "{expected:?} in:\n{}",
                page.text
            );
        }

        // A reply the page cannot take (the browser would not send an empty one: the test
        // lifts that) says what to do, in the customer's language, with a way back.
        b.eval("document.querySelector('form[action$=\"/reply\"] textarea').removeAttribute('required')")
            .await;
        b.fill(&[("form[action$='/reply'] textarea[name=text]", "   ")])
            .await;
        b.click("form[action$='/reply']").await;
        let page = look(&mut b, "invalid", lang, ru).await;
        let what = if ru {
            "Напишите от 1 до 8000 символов"
        } else {
            "Please write between 1 and 8000 characters"
        };
        assert!(page.text.contains(what), "{}", page.text);
        assert_eq!(
            b.eval("document.querySelector('a.c-back').getAttribute('href').startsWith('/c/t/')")
                .await,
            true
        );

        // A resolved ticket: the explanation and the options.
        b.goto(&format!(
            "{base}{}",
            link(Purpose::TicketView, who, resolved[i].0)
        ))
        .await;
        let page = look(&mut b, "ticket-resolved", lang, ru).await;
        let option = if ru {
            "Отдельный IP для рассылок"
        } else {
            "A dedicated sending IP"
        };
        assert!(page.text.contains(option), "{}", page.text);

        // The survey: confirm, answer, comment; and the unsubscribe question.
        let (answers, unsubscribe) = survey_links(&smtp, &base, who).await;
        b.goto(&format!("{base}{}", answers[3])).await;
        look(&mut b, "survey", lang, ru).await;
        b.fill(&[("input[name=solved][value=yes]", "true")]).await;
        b.click("form[action^='/c/s/']").await;
        look(&mut b, "answered", lang, ru).await;
        let comment = if ru {
            "Быстро и понятно, спасибо!"
        } else {
            "Quick and clear, thanks!"
        };
        b.fill(&[("textarea[name=comment]", comment)]).await;
        b.click("form[action='/c/comment']").await;
        look(&mut b, "commented", lang, ru).await;
        b.goto(&format!("{base}{unsubscribe}")).await;
        look(&mut b, "unsubscribe", lang, ru).await;

        // A report from the checks page lands on its ticket; a second one on the same link is
        // over the limit (one per link here).
        for n in 0..2 {
            b.goto(&format!("{base}{checks}")).await;
            let subject = if ru {
                "Не открывается оплата"
            } else {
                "Checkout does not open"
            };
            b.fill(&[
                ("select[name=check]", ""),
                ("input[name=title]", subject),
                ("textarea[name=text]", &format!("{subject} ({n})")),
            ])
            .await;
            let page = b.click("form[action$='/report']").await;
            if n == 0 {
                assert!(page.url.contains("/c/t/"), "{}", page.url);
                look(&mut b, "report-ticket", lang, ru).await;
            } else {
                let page = look(&mut b, "limited", lang, ru).await;
                assert!(page.text.contains(PHONE), "{}", page.text);
                let written = b
                    .eval("document.querySelector('textarea.c-written').value")
                    .await;
                assert!(
                    written
                        .as_str()
                        .unwrap()
                        .contains(&format!("{subject} (1)")),
                    "the text is given back: {written}"
                );
            }
        }
    }

    // A link that is not ours: every language, the phone, no customer data.
    b.goto(&format!("{base}/c/t/not-a-link")).await;
    let page = look(&mut b, "refused", "en", false).await;
    for expected in [
        "This link is invalid or has expired",
        "Ссылка недействительна или устарела",
        PHONE,
        "reply to the e-mail you received from us",
    ] {
        assert!(
            page.text.contains(expected),
            "{expected:?} in:\n{}",
            page.text
        );
    }
    assert_eq!(
        b.eval("document.querySelectorAll('[lang=ru]').length")
            .await,
        1,
        "the Russian block says it is Russian"
    );

    b.quit().await;
    server.shutdown().await;
}
