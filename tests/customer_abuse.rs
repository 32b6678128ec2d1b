//! One customer link must not flood the queue, and a customer's links can be revoked without
//! touching anyone else's: the real server on loopback, a real SMTP server, plain HTTP posts
//! like a browser's (or an attacker's), the real `forewarn` binary for `links revoke`, on
//! SQLite and PostgreSQL.

#[path = "support/pg.rs"]
mod pg;
#[path = "support/scenario_db.rs"]
#[macro_use]
mod scenario_db;
#[path = "support/smtp_server.rs"]
mod smtp_server;
#[path = "support/server.rs"]
mod support_server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use forewarn::model::CustomerId;
use forewarn::server::RunningServer;
use forewarn::store::{OutboxFilter, TicketFilter};
use forewarn::ticket::{Actor, EventKind, Origin, TicketId};
use forewarn::token::{Purpose, Signer};
use scenario_db::Db;
use smtp_server::SmtpServer;
use support_server::client;

on_each_backend!(
    "fw_abuse";
    a_burst_of_reports_on_one_link_makes_one_ticket_and_one_mail_and_loses_nothing,
    the_customer_limit_holds_over_several_links_and_a_new_subject_opens_its_own_ticket,
    replies_over_the_limit_are_refused_in_the_customers_language_with_their_text,
    a_revoked_customers_old_links_are_refused_and_new_ones_work,
);

/// The limit holds across instances: two servers on one PostgreSQL schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_limit_holds_across_two_instances_on_one_database() {
    let schema = pg::PgSchema::create("fw_abuse_two").await;
    two_instances(Db::Postgres(schema)).await;
}

const SECRET: &str = "abuse-test-secret-0123456789abcdef-0123456789";
const PUBLIC: &str = "http://customers.test/";
/// The default limits (README, `[web.customer_limits]`).
const REPORTS_PER_LINK: usize = 5;
const REPORTS_PER_CUSTOMER: usize = 20;
const REPLIES_PER_LINK: usize = 30;

struct Scene {
    smtp: SmtpServer,
    server: RunningServer,
    base: String,
    dir: tempfile::TempDir,
}

impl Scene {
    fn config(&self) -> PathBuf {
        self.dir.path().join("forewarn.toml")
    }
}

/// Customers Acme (en, one check) and Globex (ru, one check); default limits.
async fn scene(db: &Db) -> Scene {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), db, &smtp);
    let server = support_server::start(&dir.path().join("forewarn.toml")).await;
    let base = format!("http://{}", server.addr);
    Scene {
        smtp,
        server,
        base,
        dir,
    }
}

fn write_config(d: &Path, db: &Db, smtp: &SmtpServer) {
    std::fs::create_dir_all(d.join("checks")).unwrap();
    std::fs::write(d.join("link.secret"), SECRET).unwrap();
    std::fs::write(
        d.join("forewarn.toml"),
        format!(
            "database = \"{}\"\npublic_url = \"{PUBLIC}\"\n\
             [mail]\nfrom = \"support@hosting.example\"\nsmtp_url = \"smtp://{}\"\nsecurity = \"none\"\n\
             [web]\nsecret = {{ file = \"link.secret\" }}\n\
             # The bursts below come from one address: let the post limits, not the\n\
             # listener's per-address connection cap, decide.\n\
             max_connections_per_address = 200\n",
            db.config_url(),
            smtp.addr()
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("checks/acme.toml"),
        "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"ops@acme.example\"]\nlanguage = \"en\"\n\n\
         [[check]]\nid = \"acme-www\"\nname = \"Acme shop\"\ninterval = \"1h\"\ntimeout = \"1s\"\n[check.http]\nurl = \"http://127.0.0.1:9/\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("checks/globex.toml"),
        "[customer]\nid = \"globex\"\nname = \"Глобекс\"\ncontacts = [\"it@globex.example\"]\nlanguage = \"ru\"\n\n\
         [[check]]\nid = \"globex-www\"\nname = \"Сайт\"\ninterval = \"1h\"\ntimeout = \"1s\"\n[check.http]\nurl = \"http://127.0.0.1:9/\"\n",
    )
    .unwrap();
}

fn customer(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

fn signer() -> Signer {
    Signer::new(SECRET.as_bytes())
}

/// A fresh link to the customer's checks page, valid for a day.
fn checks_link(who: &str) -> String {
    let token = signer().sign(
        Purpose::ChecksView,
        &customer(who),
        0,
        "",
        Utc::now() + chrono::Duration::days(1),
    );
    format!("/c/checks/{token}")
}

/// A fresh link to the customer's page of a ticket, valid for a day.
fn ticket_link(who: &str, id: TicketId) -> String {
    let token = signer().sign(
        Purpose::TicketView,
        &customer(who),
        id.0,
        "",
        Utc::now() + chrono::Duration::days(1),
    );
    format!("/c/t/{token}")
}

/// What a post got back: status, `Retry-After`, `Location`, page.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    location: Option<String>,
    page: String,
}

async fn post(base: &str, path: &str, form: &[(&str, &str)]) -> Answer {
    let r = client()
        .post(format!("{base}{path}"))
        .form(form)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let retry_after = header("retry-after").map(|v| v.parse().unwrap());
    let location = header("location");
    Answer {
        status: r.status().as_u16(),
        retry_after,
        location,
        page: r.text().await.unwrap(),
    }
}

async fn get(base: &str, path: &str) -> (u16, String) {
    let r = client().get(format!("{base}{path}")).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Posts `n` reports through `link` at once (text `"{prefix} {i}"`), answers in order of `i`.
async fn burst(
    base: &str,
    link: &str,
    n: usize,
    check: &str,
    title: &str,
    prefix: &str,
) -> Vec<Answer> {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let (base, path) = (base.to_owned(), format!("{link}/report"));
        let (check, title, text) = (check.to_owned(), title.to_owned(), format!("{prefix} {i}"));
        set.spawn(async move {
            let form = [
                ("check", check.as_str()),
                ("title", &title),
                ("text", &text),
            ];
            (i, post(&base, &path, &form).await)
        });
    }
    let mut answers: Vec<(usize, Answer)> = set.join_all().await;
    answers.sort_by_key(|(i, _)| *i);
    answers.into_iter().map(|(_, a)| a).collect()
}

/// Every text customers wrote on the ticket's timeline.
async fn customer_texts(server: &RunningServer, id: TicketId) -> Vec<String> {
    server
        .store
        .timeline(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.actor, Actor::Customer(_)))
        .filter_map(|e| match e.kind {
            EventKind::PublicUpdate { text, .. } => Some(text),
            _ => None,
        })
        .collect()
}

async fn tickets_of(server: &RunningServer, who: &str) -> Vec<forewarn::ticket::Ticket> {
    server
        .store
        .tickets(&TicketFilter {
            customer: Some(customer(who)),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Mails the SMTP server received for `to`, after the outbox had a moment to send everything.
async fn mails_to(smtp: &SmtpServer, to: &str, at_least: usize) -> usize {
    let start = std::time::Instant::now();
    let count = || {
        smtp.received()
            .iter()
            .filter(|m| m.recipients.iter().any(|r| r == to))
            .count()
    };
    while count() < at_least {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {at_least} mails to {to}, got {}",
            count()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Anything else queued would go out within this time.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    count()
}

/// The first `/c/t/…` link on a page.
fn first_ticket_link(page: &str) -> String {
    let at = page.find("href=\"/c/t/").expect("a link to a ticket page") + "href=\"".len();
    page[at..].split('"').next().unwrap().to_owned()
}

async fn a_burst_of_reports_on_one_link_makes_one_ticket_and_one_mail_and_loses_nothing(db: Db) {
    let s = scene(&db).await;
    let link = checks_link("acme");
    let answers = burst(
        &s.base,
        &link,
        100,
        "acme-www",
        "Checkout fails",
        "error 502 on pay",
    )
    .await;

    let taken: Vec<usize> = (0..100).filter(|&i| answers[i].status == 303).collect();
    let refused: Vec<usize> = (0..100).filter(|&i| answers[i].status == 429).collect();
    assert_eq!(
        (taken.len(), refused.len()),
        (REPORTS_PER_LINK, 100 - REPORTS_PER_LINK),
        "statuses: {:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    // One ticket: the first report opened it, the others went onto it.
    let tickets = tickets_of(&s.server, "acme").await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let ticket = &tickets[0];
    assert_eq!(ticket.origin, Origin::Customer);
    assert_eq!(
        ticket.checks.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        ["acme-www"]
    );
    let joined = taken
        .iter()
        .filter(|&&i| {
            answers[i]
                .location
                .as_deref()
                .unwrap()
                .ends_with("?added=1")
        })
        .count();
    assert_eq!(joined, REPORTS_PER_LINK - 1, "all but the first joined");
    // Every taken report is on the ticket; no refused one is.
    let texts = customer_texts(&s.server, ticket.id).await;
    assert_eq!(texts.len(), REPORTS_PER_LINK, "{texts:?}");
    for &i in &taken {
        let text = format!("error 502 on pay {i}");
        assert!(
            texts.contains(&text),
            "{text:?} not on the ticket: {texts:?}"
        );
    }
    // A refused report says so, in English, gives the text back, names the ticket and when
    // the next is taken.
    for &i in &refused {
        let a = &answers[i];
        assert!(a.page.contains("We already have your report"), "{}", a.page);
        assert!(
            a.page
                .contains("one link takes at most 5 reports per 1 hour"),
            "{}",
            a.page
        );
        assert!(
            a.page.contains(&format!("error 502 on pay {i}<")),
            "{}",
            a.page
        );
        assert!(
            a.page
                .contains(&format!("ticket {} “Checkout fails”", ticket.id)),
            "{}",
            a.page
        );
        assert!(a.page.contains("You can send another after"));
        let retry = a.retry_after.expect("Retry-After");
        assert!((3500..=3601).contains(&retry), "Retry-After {retry}");
    }
    // The link on the refusal page opens that ticket.
    let (status, page) = get(&s.base, &first_ticket_link(&answers[refused[0]].page)).await;
    assert_eq!(status, 200);
    assert!(page.contains("error 502 on pay"), "{page}");
    // The page a joined report lands on says where it went.
    let joined_at = taken
        .iter()
        .find(|&&i| {
            answers[i]
                .location
                .as_deref()
                .unwrap()
                .ends_with("?added=1")
        })
        .unwrap();
    let (status, page) = get(&s.base, answers[*joined_at].location.as_deref().unwrap()).await;
    assert_eq!(status, 200);
    assert!(page.contains("we added your report to it"), "{page}");

    // One acknowledgement, nothing else queued.
    assert_eq!(mails_to(&s.smtp, "ops@acme.example", 1).await, 1);
    let outbox = s
        .server
        .store
        .outbox(&OutboxFilter::default())
        .await
        .unwrap();
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    s.server.shutdown().await;
}

async fn the_customer_limit_holds_over_several_links_and_a_new_subject_opens_its_own_ticket(
    db: Db,
) {
    let s = scene(&db).await;
    // Reports that name no service: the same subject joins, a new one opens a ticket.
    let first = checks_link("acme");
    let mut taken = 0;
    for (i, title) in ["Mail is down", "mail is down ", "Invoices are wrong"]
        .iter()
        .enumerate()
    {
        let a = post(
            &s.base,
            &format!("{first}/report"),
            &[
                ("check", ""),
                ("title", title),
                ("text", &format!("no service {i}")),
            ],
        )
        .await;
        assert_eq!(a.status, 303, "{}", a.page);
        taken += 1;
    }
    let tickets = tickets_of(&s.server, "acme").await;
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    let mail = tickets.iter().find(|t| t.title == "Mail is down").unwrap();
    assert_eq!(customer_texts(&s.server, mail.id).await.len(), 2);

    // More links of the same customer (every mail carries a fresh one): the customer's limit.
    let mut last = None;
    while taken < REPORTS_PER_CUSTOMER {
        let link = checks_link("acme");
        for _ in 0..REPORTS_PER_LINK.min(REPORTS_PER_CUSTOMER - taken) {
            let a = post(
                &s.base,
                &format!("{link}/report"),
                &[
                    ("check", "acme-www"),
                    ("title", "Slow"),
                    ("text", "slow pages"),
                ],
            )
            .await;
            assert_eq!(a.status, 303, "report {taken}: {}", a.page);
            taken += 1;
        }
        last = Some(link);
    }
    let a = post(
        &s.base,
        &format!("{}/report", checks_link("acme")),
        &[
            ("check", "acme-www"),
            ("title", "Slow"),
            ("text", "still slow"),
        ],
    )
    .await;
    assert_eq!(a.status, 429, "{}", a.page);
    assert!(
        a.page
            .contains("we take at most 20 reports per 1 hour from one customer"),
        "{}",
        a.page
    );
    assert!(a.page.contains("still slow"));
    // The link that reached its own limit says so.
    let a = post(
        &s.base,
        &format!("{}/report", last.unwrap()),
        &[("check", "acme-www"), ("title", "Slow"), ("text", "x")],
    )
    .await;
    assert_eq!(a.status, 429);
    // Another customer is not held up.
    let a = post(
        &s.base,
        &format!("{}/report", checks_link("globex")),
        &[
            ("check", "globex-www"),
            ("title", "Сайт не открывается"),
            ("text", "ошибка 500"),
        ],
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.page);
    assert_eq!(tickets_of(&s.server, "acme").await.len(), 3);
    s.server.shutdown().await;
}

async fn replies_over_the_limit_are_refused_in_the_customers_language_with_their_text(db: Db) {
    let s = scene(&db).await;
    let a = post(
        &s.base,
        &format!("{}/report", checks_link("globex")),
        &[
            ("check", "globex-www"),
            ("title", "Сайт не открывается"),
            ("text", "ошибка 500"),
        ],
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.page);
    let id = tickets_of(&s.server, "globex").await[0].id;
    let page = ticket_link("globex", id);
    for i in 0..REPLIES_PER_LINK {
        let a = post(
            &s.base,
            &format!("{page}/reply"),
            &[("text", &format!("ответ {i}"))],
        )
        .await;
        assert_eq!(a.status, 303, "reply {i}: {}", a.page);
    }
    let a = post(
        &s.base,
        &format!("{page}/reply"),
        &[("text", "ещё один ответ")],
    )
    .await;
    assert_eq!(a.status, 429, "{}", a.page);
    assert!(
        a.page.contains("Ваше сообщение не отправлено"),
        "{}",
        a.page
    );
    assert!(
        a.page
            .contains("по одной ссылке мы принимаем не больше 30 сообщений за 1 час"),
        "{}",
        a.page
    );
    assert!(a.page.contains("ещё один ответ<"), "{}", a.page);
    assert!(a.page.contains("Следующее можно отправить после"));
    assert!(a.retry_after.is_some());
    // "Please close" counts with the replies.
    let a = post(&s.base, &format!("{page}/close"), &[]).await;
    assert_eq!(a.status, 429, "{}", a.page);
    let texts = customer_texts(&s.server, id).await;
    assert_eq!(
        texts.len(),
        1 + REPLIES_PER_LINK,
        "the report and every reply taken"
    );
    assert!(!texts.iter().any(|t| t == "ещё один ответ"));
    // A fresh link (a new mail) takes replies again.
    let a = post(
        &s.base,
        &format!("{}/reply", ticket_link("globex", id)),
        &[("text", "с новой ссылки")],
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.page);
    s.server.shutdown().await;
}

/// Runs the real binary with the scene's configuration: (success, stdout, stderr).
async fn forewarn(config: &Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forewarn"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("FOREWARN_CONFIG");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("the forewarn binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn a_revoked_customers_old_links_are_refused_and_new_ones_work(db: Db) {
    let s = scene(&db).await;
    let acme_checks = checks_link("acme");
    let a = post(
        &s.base,
        &format!("{acme_checks}/report"),
        &[
            ("check", "acme-www"),
            ("title", "Checkout fails"),
            ("text", "502"),
        ],
    )
    .await;
    assert_eq!(a.status, 303);
    let acme_ticket = a.location.unwrap();
    let globex_checks = checks_link("globex");
    for path in [&acme_checks, &acme_ticket, &globex_checks] {
        assert_eq!(get(&s.base, path).await.0, 200, "{path}");
    }
    // A survey link of acme's (for no survey: refused as not ours until the revocation).
    let survey_link = format!(
        "/c/s/{}",
        signer().sign(
            Purpose::SurveyAnswer,
            &customer("acme"),
            999,
            "rating-5",
            Utc::now() + chrono::Duration::days(1),
        )
    );
    assert_eq!(get(&s.base, &survey_link).await.0, 403);

    let config = s.config();
    let (ok, stdout, stderr) = forewarn(&config, &["links", "revoke", "acme"]).await;
    assert!(ok, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("LINKS VALID FROM"), "{stdout}");
    assert!(stdout.contains("forewarn customer link acme"), "{stdout}");

    // Every old link of acme is refused with the clear page and no data; nothing is taken.
    for path in [&acme_checks, &acme_ticket, &survey_link] {
        let (status, page) = get(&s.base, path).await;
        assert_eq!(status, 410, "{path}: {page}");
        assert!(page.contains("This link was withdrawn"), "{page}");
        assert!(page.contains("Эта ссылка отозвана"), "{page}");
        assert!(page.contains("link in our most recent e-mail"), "{page}");
        for secret in ["Acme", "Checkout fails", "acme-www"] {
            assert!(
                !page.contains(secret),
                "{secret:?} on a refusal page:\n{page}"
            );
        }
    }
    let a = post(
        &s.base,
        &format!("{acme_checks}/report"),
        &[("check", "acme-www"), ("title", "x"), ("text", "y")],
    )
    .await;
    assert_eq!(a.status, 410, "{}", a.page);
    let a = post(&s.base, &format!("{acme_ticket}/reply"), &[("text", "y")]).await;
    assert_eq!(a.status, 410, "{}", a.page);
    let id = tickets_of(&s.server, "acme").await[0].id;
    assert_eq!(customer_texts(&s.server, id).await, ["502"]);

    // Globex's links still work.
    assert_eq!(get(&s.base, &globex_checks).await.0, 200);
    // A new link for acme, from the CLI, works; so does a ticket link signed now.
    let (ok, stdout, stderr) = forewarn(&config, &["customer", "link", "acme", "--json"]).await;
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let url = v["url"].as_str().unwrap();
    let fresh = format!("/{}", url.strip_prefix(PUBLIC).unwrap());
    let (status, page) = get(&s.base, &fresh).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Acme shop"));
    assert_eq!(get(&s.base, &ticket_link("acme", id)).await.0, 200);

    // The revocation is listed, as a table and as JSON.
    let (ok, stdout, _) = forewarn(&config, &["links", "list"]).await;
    assert!(ok);
    let acme_row = stdout.lines().find(|l| l.starts_with("acme")).unwrap();
    assert!(acme_row.contains(" 1 "), "{stdout}");
    let globex_row = stdout.lines().find(|l| l.starts_with("globex")).unwrap();
    assert!(globex_row.contains("never revoked"), "{stdout}");
    let (ok, stdout, _) = forewarn(&config, &["links", "list", "--json"]).await;
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{stdout}");
    assert_eq!(v[0]["customer"], "acme");
    assert_eq!(v[0]["revocations"], 1);
    // An unknown customer is an error.
    let (ok, _, stderr) = forewarn(&config, &["links", "revoke", "nobody"]).await;
    assert!(!ok);
    assert!(stderr.contains("no customer \"nobody\""), "{stderr}");
    s.server.shutdown().await;
}

/// Two instances on one database share the limit: a burst split over both takes 5 in all.
async fn two_instances(db: Db) {
    let s = scene(&db).await;
    let other = support_server::start(&s.config()).await;
    let other_base = format!("http://{}", other.addr);
    let link = checks_link("acme");
    let mut set = tokio::task::JoinSet::new();
    for i in 0..40 {
        let base = if i % 2 == 0 {
            s.base.clone()
        } else {
            other_base.clone()
        };
        let path = format!("{link}/report");
        set.spawn(async move {
            let text = format!("from both {i}");
            post(
                &base,
                &path,
                &[("check", "acme-www"), ("title", "Down"), ("text", &text)],
            )
            .await
            .status
        });
    }
    let statuses = set.join_all().await;
    let taken = statuses.iter().filter(|&&st| st == 303).count();
    let refused = statuses.iter().filter(|&&st| st == 429).count();
    assert_eq!(
        (taken, refused),
        (REPORTS_PER_LINK, 40 - REPORTS_PER_LINK),
        "{statuses:?}"
    );
    // Each instance joins its own reports onto one ticket; two instances may each open one.
    let tickets = tickets_of(&s.server, "acme").await;
    assert!((1..=2).contains(&tickets.len()), "{tickets:?}");
    let mut texts = Vec::new();
    for t in &tickets {
        texts.extend(customer_texts(&s.server, t.id).await);
    }
    assert_eq!(texts.len(), REPORTS_PER_LINK, "{texts:?}");
    other.shutdown().await;
    s.server.shutdown().await;
}
