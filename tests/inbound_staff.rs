//! What staff get of mail from customers, through the real server, a real Dovecot and headless
//! Chromium: the Mail page lists the mailbox and the stranger's mail (never answered); staff open
//! a ticket for a customer with it from the page, and that customer's contact (not the
//! stranger) gets the acknowledgement; a second decision on the same mail does nothing; a
//! dropped mail leaves the list. On the ticket page a mail's attachments are listed with name
//! and size, and served to staff only: an image inline, HTML as a download, never sniffed or
//! scripted. Screenshots at desktop and phone width (target/screenshots/).

#[path = "support/browser.rs"]
mod browser;
#[path = "support/imap.rs"]
mod imap;
#[path = "support/server.rs"]
mod server;
#[path = "support/smtp_server.rs"]
mod smtp_server;

use std::time::{Duration, Instant};

use browser::{Browser, screenshots_dir};
use forewarn::store::{InboundOutcome, TicketFilter};
use forewarn::ticket::model::EventKind;
use imap::Dovecot;
use smtp_server::SmtpServer;

const CONTACT: &str = "it@acme.example";
const STRANGER: &str = "boss@unknown.example";
const STAFF_PASSWORD: &str = "correct horse battery staple";
/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];
const EVIL_HTML: &str = "<html><body><script>document.title='pwned'</script>hello</body></html>";

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn plain(from: &str, subject: &str, body: &str, n: u32) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@hosting.example\r\nSubject: {subject}\r\n\
         Message-ID: <staff-{n}@customer.example>\r\nDate: Mon, 7 Dec 2026 06:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A contact's mail with a screenshot and an HTML file attached.
fn with_attachments() -> Vec<u8> {
    format!(
        "From: Acme IT <{CONTACT}>\r\nTo: support@hosting.example\r\nSubject: Checkout shows an error\r\n\
         Message-ID: <staff-att@customer.example>\r\nDate: Mon, 7 Dec 2026 06:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the screenshot: checkout fails.\r\n\
         --b1\r\nContent-Type: image/png; name=\"screenshot.png\"\r\nContent-Disposition: attachment; filename=\"screenshot.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --b1\r\nContent-Type: text/html; name=\"page.html\"\r\nContent-Disposition: attachment; filename=\"page.html\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        b64(PNG),
        b64(EVIL_HTML.as_bytes())
    )
    .into_bytes()
}

async fn until<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_read_a_mail_open_a_ticket_from_the_unmatched_list_and_get_attachments_safely() {
    let dovecot = Dovecot::start();
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = imap::serve_config(dir.path(), &dovecot, smtp.addr(), CONTACT);
    let server = server::start(&config).await;
    let base = format!("http://{}", server.addr);
    server::add_staff(&server, "sam", "Sam Support", STAFF_PASSWORD).await;

    // A contact's mail with attachments opens a ticket; two strangers' mails wait for staff.
    dovecot.append("INBOX", &with_attachments()).await;
    dovecot
        .append(
            "INBOX",
            &plain(
                &format!("The Boss <{STRANGER}>"),
                "Our shop is down",
                "Our shop at shop.acme.example shows an error since 9:00. Please help!",
                1,
            ),
        )
        .await;
    dovecot
        .append(
            "INBOX",
            &plain(
                "seo@spam.example",
                "Rank #1 on Google",
                "Buy our SEO package.",
                2,
            ),
        )
        .await;
    smtp.wait_for(1, Duration::from_secs(30)).await;
    let store = server.store.clone();
    until("two unmatched mails", || async {
        let u = store
            .inbound_messages(InboundOutcome::Unmatched, 10)
            .await
            .unwrap();
        (u.len() == 2).then_some(())
    })
    .await;
    let first = server
        .store
        .tickets(&TicketFilter::default())
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let first = first[0].id;

    // Without a session there is nothing to see.
    let http = server::client();
    let unmatched = server
        .store
        .inbound_messages(InboundOutcome::Unmatched, 10)
        .await
        .unwrap();
    let boss = unmatched
        .iter()
        .find(|r| r.sender == STRANGER)
        .unwrap()
        .key
        .clone();
    let spam = unmatched
        .iter()
        .find(|r| r.sender != STRANGER)
        .unwrap()
        .key
        .clone();
    for path in [
        "/inbound".to_owned(),
        format!("/mail/{boss}"),
        format!("/mail/{boss}/raw"),
    ] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path} needs a session");
        assert!(!r.text().await.unwrap().contains("shop.acme.example"));
    }

    let mut b = Browser::start().await;
    b.sign_in(&base, "sam", STAFF_PASSWORD).await;
    let page = b.goto(&format!("{base}/inbound")).await;
    assert!(page.text.contains("support"), "{}", page.text);
    assert!(page.text.contains("Our shop is down"), "{}", page.text);
    assert!(page.text.contains(STRANGER), "{}", page.text);
    assert!(
        page.text.contains("shows an error since 9:00"),
        "the mail's text is on the list: {}",
        page.text
    );
    let shots = screenshots_dir();
    b.screenshot(&shots.join("inbound-desktop.png")).await;
    b.size(390, 844).await;
    b.goto(&format!("{base}/inbound")).await;
    b.assert_fits("the Mail page on a phone").await;
    b.screenshot(&shots.join("inbound-phone.png")).await;
    b.size(1280, 900).await;
    b.goto(&format!("{base}/inbound")).await;

    // Open a ticket for Acme with the stranger's mail: Acme's contact is acknowledged.
    let form = format!("form[action=\"/mail/{boss}/decide\"]");
    b.fill(&[(&format!("{form} select[name=customer]"), "acme")])
        .await;
    let page = b.click(&format!("{form} button")).await;
    assert!(page.url.contains("/tickets/"), "{}", page.url);
    assert!(
        page.text.contains("Ticket opened with the mail"),
        "{}",
        page.text
    );
    assert!(page.text.contains("Our shop is down"), "{}", page.text);
    let acks = smtp.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(acks[1].recipients, vec![CONTACT.to_owned()]);
    assert!(
        acks.iter().all(|m| !m
            .recipients
            .iter()
            .any(|r| r.contains("unknown.example") || r.contains("spam.example"))),
        "nothing to strangers"
    );
    let tickets = server
        .store
        .tickets(&TicketFilter::default())
        .await
        .unwrap();
    assert_eq!(tickets.len(), 2);
    let opened = tickets.iter().find(|t| t.id != first).unwrap();
    assert_eq!(opened.customer.as_str(), "acme");
    let r = server.store.inbound_message(&boss).await.unwrap().unwrap();
    assert_eq!(r.outcome, InboundOutcome::Opened);
    assert_eq!(r.ticket, Some(opened.id));
    assert_eq!(r.handled_by.as_deref(), Some("sam"));

    // The same decision again (a second tab): nothing more happens.
    let again = b.goto(&format!("{base}/mail/{boss}")).await;
    assert!(again.text.contains("opened"), "{}", again.text);
    assert!(
        !again.text.contains("Open a ticket"),
        "no decision forms once decided"
    );

    // Drop the spam: off the list, nothing sent.
    let page = b.goto(&format!("{base}/inbound")).await;
    assert!(page.text.contains("Rank #1 on Google"), "{}", page.text);
    let page = b
        .click(&format!(
            "form[action=\"/mail/{spam}/decide\"] button.danger"
        ))
        .await;
    assert!(page.text.contains("Dropped"), "{}", page.text);
    assert!(!page.text.contains("Rank #1 on Google"), "{}", page.text);
    assert!(page.text.contains("No unmatched mail"), "{}", page.text);
    assert_eq!(
        server
            .store
            .inbound_message(&spam)
            .await
            .unwrap()
            .unwrap()
            .outcome,
        InboundOutcome::Dropped
    );

    // The first ticket's page lists the attachments; the image is served inline, the HTML
    // as a download that runs nothing.
    let page = b.goto(&format!("{base}/tickets/{}", first.0)).await;
    assert!(page.text.contains("screenshot.png"), "{}", page.text);
    assert!(page.text.contains("page.html"), "{}", page.text);
    assert!(
        page.text.contains("the whole mail as received"),
        "{}",
        page.text
    );
    b.screenshot(&shots.join("ticket-mail-desktop.png")).await;
    let timeline = server.store.timeline(first).await.unwrap();
    let Some(EventKind::MailReceived {
        mailbox,
        uidvalidity,
        uid,
        attachments,
        ..
    }) = timeline
        .iter()
        .map(|e| &e.kind)
        .find(|k| matches!(k, EventKind::MailReceived { .. }))
    else {
        panic!("a MailReceived entry: {timeline:#?}")
    };
    assert_eq!(attachments.len(), 2);
    assert_eq!(attachments[0].name, "screenshot.png");
    assert_eq!(attachments[0].size, PNG.len() as u64);
    let mail = format!("/mail/{mailbox}/{uidvalidity}/{uid}");
    let page = b.goto(&format!("{base}{mail}")).await;
    assert!(
        page.text.contains("Acme IT <it@acme.example>"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("See the screenshot: checkout fails."),
        "{}",
        page.text
    );
    b.size(390, 844).await;
    b.goto(&format!("{base}{mail}")).await;
    b.assert_fits("a mail's page on a phone").await;
    b.screenshot(&shots.join("mail-phone.png")).await;
    b.size(1280, 900).await;
    b.quit().await;

    // The files, with a session (signed in over HTTP as the same staff user).
    let cookie = server::session_cookie(&base, "sam", STAFF_PASSWORD).await;
    let get = |path: String| {
        let (http, cookie, base) = (http.clone(), cookie.clone(), base.clone());
        async move {
            http.get(format!("{base}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
        }
    };
    let png = get(format!("{mail}/attachments/0")).await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(png.headers()["x-content-type-options"], "nosniff");
    assert!(
        png.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    assert!(
        png.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert_eq!(png.bytes().await.unwrap().as_ref(), PNG);
    let html = get(format!("{mail}/attachments/1")).await;
    assert_eq!(html.status(), 200);
    assert_eq!(html.headers()["content-type"], "application/octet-stream");
    assert!(
        html.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"page.html\"")
    );
    assert_eq!(html.text().await.unwrap(), EVIL_HTML);
    assert_eq!(get(format!("{mail}/attachments/7")).await.status(), 404);
    let raw = get(format!("{mail}/raw")).await;
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.headers()["content-type"], "message/rfc822");
    assert_eq!(
        raw.bytes().await.unwrap().as_ref(),
        with_attachments().as_slice()
    );

    // Deciding again over HTTP: refused as already handled, no third ticket.
    let page = get(format!("/mail/{boss}")).await.text().await.unwrap();
    let csrf = {
        let needle = r#"name="csrf" value=""#;
        let at = page.find(needle).expect("the logout form's token") + needle.len();
        page[at..].split('"').next().unwrap().to_owned()
    };
    let r = http
        .post(format!("{base}/mail/{boss}/decide"))
        .header("cookie", cookie.clone())
        .form(&[
            ("csrf", csrf.as_str()),
            ("decision", "open"),
            ("customer", "acme"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("/mail/{boss}?done=already")
    );
    assert_eq!(
        server
            .store
            .tickets(&TicketFilter::default())
            .await
            .unwrap()
            .len(),
        2
    );
    // A forged form (no token) does nothing.
    let r = http
        .post(format!("{base}/mail/{spam}/decide"))
        .header("cookie", cookie)
        .form(&[("decision", "open"), ("customer", "acme")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        smtp.received().len(),
        2,
        "two acknowledgements, nothing else"
    );
    server.shutdown().await;
}
