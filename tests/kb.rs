//! The knowledge base, end to end: the real server on loopback with a copy of the shipped
//! playbooks and articles, a real SMTP server, the real binary for `validate` and `kb`, and
//! headless Chromium for the pages.
//!
//! - `/kb` and an article without login, in English and Russian (`?lang=`, `Accept-Language`),
//!   links that keep the language, the search;
//! - an internal article answers 404 to anyone, exactly like a missing one, and opens for staff;
//! - raw HTML in an article is shown as text;
//! - a customer's first mail about a problem with a public article carries its "Read more"
//!   link in the customer's language (read at the SMTP server);
//! - a resolved ticket saved as an article: a draft file, never overwritten, a timeline note,
//!   not public after a restart, readable by staff;
//! - a bad article or a playbook naming a missing article: `forewarn validate` names file and
//!   line;
//! - Chromium renders the index and an article in both languages at a phone's and a desktop's
//!   width (screenshots under target/screenshots/kb-*.png).

#[path = "support/browser.rs"]
mod browser;
#[path = "support/smtp_server.rs"]
mod smtp_server;
#[path = "support/server.rs"]
mod support_server;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use forewarn::model::CustomerId;
use forewarn::server::RunningServer;
use forewarn::ticket::{Actor, EventKind, Resolution, SolutionOption};
use smtp_server::SmtpServer;

const BRAND: &str = "Northwind Hosting";
const STAFF: &str = "kim";
const PASSWORD: &str = "kim's long password";

/// An article whose text holds raw HTML: it must reach readers as text.
const HOSTILE: &str = "+++\ntitle = \"About <b>tags</b>\"\nvisibility = \"public\"\nplaybooks = [\"slow_site\"]\n+++\n\n\
Safe text first.\n\n<script>alert('kb')</script>\n\nInline <img src=x onerror=alert(2)> too, and a [link](javascript:alert(3)).\n";

/// Copies `from` into `to`, folders and all.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A configuration directory: the shipped playbooks and articles under `playbooks/` (plus the
/// hostile article), an English and a Russian customer each with a check that fails.
fn setup(dir: &Path, base: &str, smtp: Option<&SmtpServer>) -> PathBuf {
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks"),
        &dir.join("playbooks"),
    );
    for lang in ["en", "ru"] {
        std::fs::write(
            dir.join(format!("playbooks/kb/{lang}/about-tags.md")),
            HOSTILE,
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    let mail = smtp.map_or_else(String::new, |s| {
        format!(
            "[mail]\nfrom = \"support@northwind.example\"\nsmtp_url = \"smtp://{}\"\nsecurity = \"none\"\n",
            s.addr()
        )
    });
    std::fs::write(
        dir.join("forewarn.toml"),
        format!(
            "database = \"sqlite://data/forewarn.db\"\npublic_url = \"{base}/\"\n{mail}\
             [brand]\nname = \"{BRAND}\"\n"
        ),
    )
    .unwrap();
    for (id, name, lang, contact) in [
        ("acme", "Acme Ltd", "en", "ops@acme.example"),
        ("globex", "Глобекс", "ru", "it@globex.example"),
    ] {
        std::fs::write(
            dir.join(format!("checks/{id}.toml")),
            format!(
                "[customer]\nid = \"{id}\"\nname = \"{name}\"\ncontacts = [\"{contact}\"]\nlanguage = \"{lang}\"\n\n\
                 [[check]]\nid = \"{id}-shop\"\nname = \"Shop\"\ninterval = \"1s\"\ntimeout = \"1s\"\n[check.http]\nurl = \"http://127.0.0.1:9/\"\n"
            ),
        )
        .unwrap();
    }
    dir.join("forewarn.toml")
}

/// Starts the server of `path` on `listener`.
async fn start(path: &Path, listener: tokio::net::TcpListener) -> RunningServer {
    forewarn::probe::install_crypto_provider();
    let config = forewarn::config::load(path).unwrap_or_else(|e| panic!("{e}"));
    forewarn::server::start(config, path.to_owned(), listener)
        .await
        .unwrap()
}

/// GET `path` with these headers: status and body.
async fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut r = support_server::client().get(format!("{base}{path}"));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// The `<title>` of a page.
fn title(html: &str) -> &str {
    let start = html.find("<title>").expect("a title") + 7;
    let end = html[start..].find("</title>").unwrap() + start;
    &html[start..end]
}

/// The value of the first hidden `name="csrf"` field.
fn csrf(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

/// A request Acme's contact wrote, resolved by staff with an explanation and an option.
async fn resolved_request(server: &RunningServer) -> forewarn::ticket::TicketId {
    let customer = CustomerId::parse("acme").unwrap();
    let t = &server.tickets;
    let at = Utc::now() - chrono::Duration::hours(2);
    let id = t
        .customer_request(
            &customer,
            "Mail goes to spam",
            "Our invoices land in spam.",
            vec![],
            at,
        )
        .await
        .unwrap();
    t.resolve(
        id,
        Actor::Staff(STAFF.into()),
        Resolution {
            cause: "The domain had no DKIM record.".into(),
            action: "Added DKIM and SPF and checked delivery.".into(),
            fully_solved: true,
            prevention: "Check DNS records after moving the mail server.".into(),
            options: vec![SolutionOption {
                title: "A dedicated sending IP".into(),
                pros: "Your reputation no longer depends on neighbours.".into(),
                cons: "Costs €5 a month.".into(),
            }],
            resolved_while_failing: None,
        },
        at + chrono::Duration::minutes(30),
    )
    .await
    .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_read_public_articles_staff_read_internal_ones_and_mails_link_them() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let path = setup(dir.path(), &base, Some(&smtp));
    let server = start(&path, listener).await;
    support_server::add_staff(&server, STAFF, "Kim", PASSWORD).await;

    // The index, in English by default, with public articles only.
    let (status, html) = get(&base, "/kb", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(title(&html), format!("Help center · {BRAND}"));
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains("Your site does not answer or shows an error"));
    assert!(
        html.contains("href=\"/kb/site-down?lang=en\""),
        "links keep the language"
    );
    assert!(html.contains("href=\"/kb?lang=ru\""), "a switch to Russian");
    assert!(
        !html.contains("Freeing disk space"),
        "no internal article: {html}"
    );
    let seen = html.replace("/static/forewarn.css", "").to_lowercase();
    assert!(
        !seen.contains("forewarn"),
        "the hoster's brand only: {html}"
    );

    // Russian: by Accept-Language, and by ?lang= over Accept-Language.
    let (status, html) = get(
        &base,
        "/kb",
        &[("accept-language", "ru-RU,ru;q=0.9,en;q=0.5")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(title(&html), format!("Справочный центр · {BRAND}"));
    assert!(html.contains("Ваш сайт не отвечает или показывает ошибку"));
    assert!(html.contains("href=\"/kb/site-down?lang=ru\""));
    let (_, html) = get(&base, "/kb?lang=ru", &[("accept-language", "en")]).await;
    assert!(html.contains("<html lang=\"ru\">"));
    let (_, html) = get(
        &base,
        "/kb?lang=xx",
        &[("accept-language", "de, ru;q=0.3, en;q=0.2")],
    )
    .await;
    assert!(
        html.contains("<html lang=\"ru\">"),
        "the first language we speak by weight"
    );

    // One article in each language, with its title and a way back in the same language.
    let (status, html) = get(&base, "/kb/site-down?lang=en", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        title(&html),
        format!("Your site does not answer or shows an error · {BRAND}")
    );
    assert!(html.contains("<h2>What we do</h2>"), "{html}");
    assert!(html.contains("<code>502 Bad Gateway</code>"), "{html}");
    assert!(html.contains("href=\"/kb?lang=en\""));
    let (status, html) = get(&base, "/kb/site-down?lang=ru", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("<html lang=\"ru\">"));
    assert!(html.contains("<h2>Что делаем мы</h2>"), "{html}");
    assert!(
        html.contains("href=\"/kb?lang=ru\"") && html.contains("href=\"/kb/site-down?lang=en\"")
    );
    // A link inside an article to another one keeps the article's language.
    let (_, html) = get(&base, "/kb/certificate-expiring?lang=ru", &[]).await;
    assert!(html.contains("href=\"/kb/dns-mismatch?lang=ru\""), "{html}");

    // Search over title and text.
    let (_, html) = get(&base, "/kb?lang=en&q=padlock", &[]).await;
    assert!(
        html.contains("SSL certificate is expiring"),
        "found by its text: {html}"
    );
    assert!(!html.contains("Your site does not answer"), "{html}");
    assert!(html.contains("1 article found for “padlock”"), "{html}");
    let (_, html) = get(&base, "/kb?lang=ru&q=%D0%BA%D0%B2%D0%BE%D1%82%D0%B0", &[]).await;
    assert!(html.contains("лимиту места"), "квота: {html}");
    let (_, html) = get(&base, "/kb?lang=en&q=%3Cscript%3Enothing", &[]).await;
    assert!(
        html.contains("Nothing found for “&lt;script&gt;nothing”"),
        "{html}"
    );

    // An internal article and a missing one: the same 404 to anyone.
    let (internal_status, internal) = get(&base, "/kb/disk-cleanup-runbook?lang=en", &[]).await;
    let (missing_status, missing) = get(&base, "/kb/no-such-article?lang=en", &[]).await;
    assert_eq!((internal_status, missing_status), (404, 404));
    assert_eq!(internal, missing, "an internal article looks missing");
    assert!(!internal.contains("lsof"), "{internal}");

    // Raw HTML in an article is text, never markup; the page runs no script at all.
    let r = support_server::client()
        .get(format!("{base}/kb/about-tags?lang=en"))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = r.text().await.unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(&#39;kb&#39;)&lt;/script&gt;")
            || html.contains("&lt;script&gt;alert('kb')&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.to_lowercase().contains("javascript:"), "{html}");
    assert!(
        html.contains("About &lt;b&gt;tags&lt;/b&gt;"),
        "the title is text too"
    );

    // Staff read the internal article, marked; and see it on the index.
    let cookie = support_server::session_cookie(&base, STAFF, PASSWORD).await;
    let (status, html) = get(
        &base,
        "/kb/disk-cleanup-runbook?lang=en",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Internal: staff only"), "{html}");
    assert!(html.contains("lsof +L1"));
    let (_, html) = get(&base, "/kb?lang=ru", &[("cookie", &cookie)]).await;
    assert!(html.contains("Как безопасно освободить место"), "{html}");
    assert!(html.contains("Внутренняя: только для сотрудников"));

    // The first mail of each customer's outage links the article in their language.
    let start_wait = Instant::now();
    let (en, ru) = loop {
        let got = smtp.received();
        let to = |who: &str| {
            got.iter()
                .find(|m| m.recipients.iter().any(|r| r == who))
                .cloned()
        };
        if let (Some(en), Some(ru)) = (to("ops@acme.example"), to("it@globex.example")) {
            break (en, ru);
        }
        assert!(
            start_wait.elapsed() < Duration::from_secs(40),
            "no outage mails: {got:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        en.text.contains(&format!(
            "Read more: Your site does not answer or shows an error\n{base}/kb/site-down?lang=en"
        )),
        "{}",
        en.text
    );
    assert!(
        ru.text.contains(&format!(
            "Подробнее: Ваш сайт не отвечает или показывает ошибку\n{base}/kb/site-down?lang=ru"
        )),
        "{}",
        ru.text
    );
    let signature = en.text.rfind(BRAND).unwrap();
    assert!(
        en.text.find("Read more").unwrap() < signature,
        "above the signature"
    );
    // The link opens without login.
    let link = ru.text.lines().find(|l| l.contains("/kb/")).unwrap().trim();
    let r = support_server::client().get(link).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // The staff ticket page of the outage shows the articles that fit, next to the runbook.
    let outage = server
        .store
        .tickets(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.customer.as_str() == "acme" && t.problem == "site_down")
        .unwrap();
    let (_, page) = get(
        &base,
        &format!("/tickets/{}", outage.id.0),
        &[("cookie", &cookie)],
    )
    .await;
    assert!(page.contains("href=\"/kb/site-down?lang=en\""), "{page}");
    assert!(
        !page.contains("Save this resolution as an article"),
        "not resolved yet"
    );

    // A resolved ticket saved as an article.
    let id = resolved_request(&server).await;
    let (_, page) = get(&base, &format!("/tickets/{}", id.0), &[("cookie", &cookie)]).await;
    assert!(
        page.contains("Save this resolution as an article"),
        "{page}"
    );
    assert!(
        page.contains("value=\"mail-goes-to-spam\""),
        "slug from the title: {page}"
    );
    assert!(
        page.contains("# What happened\n\nThe domain had no DKIM record."),
        "{page}"
    );
    let token = csrf(&page);
    let (_, ru_form) = get(
        &base,
        &format!("/tickets/{}/article?lang=ru", id.0),
        &[("cookie", &cookie)],
    )
    .await;
    assert!(
        ru_form.contains("# Что случилось\n\nThe domain had no DKIM record."),
        "{ru_form}"
    );
    let form = |token: &str| {
        vec![
            ("csrf", token.to_owned()),
            ("lang", "en".to_owned()),
            ("slug", "mail-goes-to-spam".to_owned()),
            ("title", "Mail goes to spam".to_owned()),
            (
                "body",
                "# What happened\n\nThe domain had no DKIM record.".to_owned(),
            ),
        ]
    };
    let post = |form: Vec<(&'static str, String)>, cookie: String| {
        let url = format!("{base}/tickets/{}/article", id.0);
        async move {
            let origin = base_origin(&url);
            support_server::client()
                .post(url)
                .header("cookie", cookie)
                .header("origin", origin)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let draft = dir
        .path()
        .join("playbooks/kb/drafts/en/mail-goes-to-spam.md");
    // A wrong token writes nothing.
    let r = post(form("not-the-token"), cookie.clone()).await;
    assert_eq!(r.status(), 403);
    assert!(!draft.exists());
    // Without a session: the login page, and nothing written.
    let r = post(form(&token), String::new()).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let (status, _) = get(&base, &format!("/tickets/{}/article", id.0), &[]).await;
    assert_eq!(status, 303);
    assert!(!draft.exists());
    let r = post(form(&token), cookie.clone()).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/tickets/{}/article?written=en/mail-goes-to-spam", id.0)
    );
    let (_, done) = get(&base, &location, &[("cookie", &cookie)]).await;
    assert!(
        done.contains(&draft.display().to_string()),
        "where it was written: {done}"
    );
    let text = std::fs::read_to_string(&draft).unwrap();
    assert!(text.contains("visibility = \"draft\""), "{text}");
    assert!(text.contains("title = \"Mail goes to spam\""), "{text}");
    assert!(
        text.contains("playbooks = [\"customer_request\"]"),
        "{text}"
    );
    // Never overwritten.
    let r = post(form(&token), cookie.clone()).await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("exists already"));
    assert_eq!(std::fs::read_to_string(&draft).unwrap(), text);
    // The timeline says so, for staff only.
    let timeline = server.store.timeline(id).await.unwrap();
    assert!(
        timeline.iter().any(|e| !e.public
            && matches!(&e.kind, EventKind::InternalNote { text } if text.contains("mail-goes-to-spam.md"))),
        "{timeline:#?}"
    );

    // After a restart the draft is loaded, and still not public; staff read it, marked.
    server.shutdown().await;
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let server = start(&path, listener).await;
    let (status, html) = get(&base, "/kb/mail-goes-to-spam?lang=en", &[]).await;
    assert_eq!(status, 404, "{html}");
    assert_eq!(html, missing);
    let (_, index) = get(&base, "/kb?lang=en&q=spam", &[]).await;
    assert!(index.contains("Nothing found"), "{index}");
    let (status, html) = get(
        &base,
        "/kb/mail-goes-to-spam?lang=en",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Draft: not published"), "{html}");
    assert!(html.contains("<h2>What happened</h2>"), "{html}");
    server.shutdown().await;
}

/// `http://host:port` of a URL (forms are posted from the same site).
fn base_origin(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    u.origin().ascii_serialization()
}

/// Runs the binary with the configuration at `config`: exit code, stdout, stderr.
fn forewarn(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_names_the_file_and_line_of_a_bad_article_or_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = setup(dir.path(), "http://127.0.0.1:1", None);
    let (code, out, err) = forewarn(&path, &["validate"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = forewarn(&path, &["kb", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let internal = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["slug"] == "disk-cleanup-runbook" && a["language"] == "ru")
        .unwrap();
    assert_eq!(internal["visibility"], "internal");

    // A visibility that does not exist, on line 3.
    let bad = dir.path().join("playbooks/kb/en/about-tags.md");
    std::fs::write(&bad, HOSTILE.replace("\"public\"", "\"everyone\"")).unwrap();
    // A playbook naming an article that is not there, on line 6.
    let playbook = dir.path().join("playbooks/slow_site.toml");
    let text = std::fs::read_to_string(&playbook).unwrap();
    let at = text.find("\nrunbook").unwrap();
    let mut broken = text.clone();
    broken.insert_str(at, "\narticles = [\"no-such-article\"]\n");
    std::fs::write(&playbook, &broken).unwrap();
    let line = broken[..broken.find("articles =").unwrap()]
        .matches('\n')
        .count()
        + 1;
    // An article naming a playbook that does not exist.
    let ru = dir.path().join("playbooks/kb/ru/about-tags.md");
    std::fs::write(&ru, HOSTILE.replace("slow_site", "slow_sight")).unwrap();

    let (code, _, err) = forewarn(&path, &["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "{}:3:14: visibility: `everyone` is not a visibility",
            bad.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:{line}:13: articles[0]: no published article `no-such-article`",
            playbook.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:4:14: playbooks[0]: no playbook `slow_sight`",
            ru.display()
        )),
        "{err}"
    );
    let (code, out, _) = forewarn(&path, &["validate", "--json"]);
    assert_eq!(code, 1);
    assert!(out.contains("\"line\": 3"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_saves_a_resolution_as_a_draft_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = setup(dir.path(), "http://127.0.0.1:1", None);
    // The database, a staff user and a resolved ticket, as the server would leave them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = start(&path, listener).await;
    support_server::add_staff(&server, STAFF, "Kim", PASSWORD).await;
    let id = resolved_request(&server).await;
    server.shutdown().await;

    let ticket = id.0.to_string();
    let args = ["kb", "draft", &ticket, "--lang", "ru", "--by", STAFF];
    let (code, out, err) = forewarn(&path, &args);
    assert_eq!(code, 0, "{out}{err}");
    let draft = dir
        .path()
        .join("playbooks/kb/drafts/ru/mail-goes-to-spam.md");
    assert!(out.contains(&draft.display().to_string()), "{out}");
    let text = std::fs::read_to_string(&draft).unwrap();
    assert!(
        text.contains("# Что случилось"),
        "the catalog's headings: {text}"
    );
    assert!(text.contains("## A dedicated sending IP"), "{text}");
    let (code, _, err) = forewarn(&path, &args);
    assert_eq!(code, 1);
    assert!(err.contains("exists already"), "{err}");
    let (code, out, _) = forewarn(&path, &["kb", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.contains("mail-goes-to-spam") && l.contains("draft")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_knowledge_base_without_login_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let path = setup(dir.path(), &base, None);
    let server = start(&path, listener).await;
    let shots = browser::screenshots_dir();
    let mut b = browser::Browser::start().await;
    for lang in ["en", "ru"] {
        for (name, page, heading) in [
            (
                "index",
                format!("/kb?lang={lang}"),
                if lang == "en" {
                    "How can we help?"
                } else {
                    "Чем мы можем помочь?"
                },
            ),
            (
                "article",
                format!("/kb/disk-filling?lang={lang}"),
                if lang == "en" {
                    "The disk of your server is filling up"
                } else {
                    "На диске вашего сервера заканчивается место"
                },
            ),
        ] {
            b.goto(&format!("{base}{page}")).await;
            for (w, h) in [(390, 844), (1280, 900)] {
                let seen = b.size(w, h).await;
                let what = format!("{name} ({lang}, {w} px)");
                b.assert_fits(&what).await;
                b.screenshot(&shots.join(format!("kb-{name}-{lang}-{w}.png")))
                    .await;
                assert_eq!(
                    b.eval("document.documentElement.lang").await,
                    lang,
                    "{what}"
                );
                assert!(seen.title.ends_with(BRAND), "{what}: {}", seen.title);
                assert!(seen.text.contains(heading), "{what}: {}", seen.text);
                assert!(!seen.url.contains("/login"), "{what}: no login");
            }
        }
    }
    // The language switch leads to the other language of the same article.
    b.goto(&format!("{base}/kb/disk-filling?lang=en")).await;
    let page = b.click(".c-kb-langs a[hreflang=ru]").await;
    assert!(
        page.url.ends_with("/kb/disk-filling?lang=ru"),
        "{}",
        page.url
    );
    assert!(page.text.contains("Что делаем мы"), "{}", page.text);
    // The search form keeps the language.
    b.goto(&format!("{base}/kb?lang=ru")).await;
    b.fill(&[("input[name=q]", "сертификат")]).await;
    let page = b.click("form.c-search").await;
    assert!(page.url.contains("lang=ru"), "{}", page.url);
    assert!(page.text.contains("SSL-сертификат"), "{}", page.text);
    b.quit().await;
    server.shutdown().await;
}
