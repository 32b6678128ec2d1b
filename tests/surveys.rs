//! Follow-up surveys and customer pages end to end: the real server on loopback, a real SMTP
//! server receiving what lettre sends, plain HTTP requests like a browser's, on SQLite and
//! PostgreSQL. Times are passed to the services directly (a ticket "resolved two days ago"), so
//! nothing waits for the 24-hour delay.

#[path = "support/pg.rs"]
mod pg;
#[path = "support/scenario_db.rs"]
#[macro_use]
mod scenario_db;
#[path = "support/smtp_server.rs"]
mod smtp_server;
#[path = "support/server.rs"]
mod support_server;
#[allow(dead_code, unused_macros)]
#[path = "support/store.rs"]
mod support_store;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use forewarn::model::CustomerId;
use forewarn::server::RunningServer;
use forewarn::store::users::hash_password;
use forewarn::store::{NewUser, Role, StoreError};
use forewarn::ticket::{Actor, EventKind, Origin, Resolution, TicketId, TicketStatus};
use forewarn::token::{Purpose, Signer};
use scenario_db::Db;
use smtp_server::{Received, SmtpServer};
use support_server::client;

on_each_backend!(
    "fw_surveys";
    a_survey_goes_out_once_after_the_delay_and_an_unhappy_answer_reopens_and_queues_a_call_back,
    a_happy_answer_with_a_later_comment_is_credited_and_counts_in_the_report,
    tampered_expired_reused_and_other_customers_links_are_refused_without_data,
    one_reminder_and_no_survey_after_reopening_opting_out_or_a_recent_answer,
    the_customer_ticket_page_hides_internal_notes_and_takes_replies,
    report_a_problem_opens_a_customer_ticket_and_acknowledges_it,
    staff_survey_pages_need_a_session_and_log_call_backs,
    concurrent_survey_runs_and_clicks_record_once,
    a_survey_waits_until_the_tickets_checks_stayed_green_for_the_delay,
    a_new_link_secret_takes_effect_without_a_restart,
);

/// The link-signing key of the test configuration (so the test can forge links).
const SECRET: &str = "survey-test-secret-0123456789abcdef-0123456789";
const PUBLIC: &str = "http://customers.test/";
const PASSWORD: &str = "correct horse battery staple";

struct Scene {
    smtp: SmtpServer,
    server: RunningServer,
    base: String,
    _dir: tempfile::TempDir,
}

/// Customers Acme (en, two contacts, one check) and Globex (ru); surveys after 24 h.
async fn scene(db: &Db) -> Scene {
    forewarn::probe::install_crypto_provider();
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("checks")).unwrap();
    std::fs::write(d.join("link.secret"), SECRET).unwrap();
    std::fs::write(
        d.join("forewarn.toml"),
        format!(
            "database = \"{}\"\npublic_url = \"{PUBLIC}\"\n\
             [mail]\nfrom = \"support@hosting.example\"\nsmtp_url = \"smtp://{}\"\nsecurity = \"none\"\n\
             [web]\nsecret = {{ file = \"link.secret\" }}\n\
             [survey]\ndelay = \"24h\"\nreminder_after = \"3d\"\nquiet_period = \"30d\"\nlink_ttl = \"14d\"\n",
            db.config_url(),
            smtp.addr()
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("checks/acme.toml"),
        "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"ops@acme.example\", { name = \"Olga Boss\", email = \"boss@acme.example\", phone = \"+44 (20) 7946-0018\" }]\nlanguage = \"en\"\n\n\
         [[check]]\nid = \"acme-www\"\nname = \"Acme shop\"\ninterval = \"1h\"\ntimeout = \"1s\"\n[check.http]\nurl = \"http://127.0.0.1:9/\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("checks/globex.toml"),
        "[customer]\nid = \"globex\"\nname = \"Глобекс\"\ncontacts = [\"it@globex.example\"]\nlanguage = \"ru\"\n",
    )
    .unwrap();
    let path = d.join("forewarn.toml");
    let config = forewarn::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = forewarn::server::start(config, path, listener)
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    Scene {
        smtp,
        server,
        base,
        _dir: dir,
    }
}

fn customer(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

fn ago(hours: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::hours(hours)
}

fn resolution() -> Resolution {
    Resolution {
        cause: "a full disk on web-01".into(),
        action: "old logs removed, rotation fixed".into(),
        fully_solved: true,
        prevention: "disk alerts at 80 %".into(),
        options: vec![],
        resolved_while_failing: None,
    }
}

/// A customer ticket opened `opened` hours ago and resolved by `by` `resolved` hours ago.
async fn resolved_ticket(s: &Scene, who: &str, opened: i64, resolved: i64, by: &str) -> TicketId {
    let t = &s.server.tickets;
    let id = t
        .customer_request(
            &customer(who),
            "Shop is slow",
            "pages take 10 s",
            vec![],
            ago(opened),
        )
        .await
        .unwrap();
    t.resolve(id, Actor::Staff(by.into()), resolution(), ago(resolved))
        .await
        .unwrap();
    id
}

/// Survey mails received (not acknowledgements or updates).
fn survey_mails(smtp: &SmtpServer) -> Vec<Received> {
    smtp.received()
        .into_iter()
        .filter(|m| {
            m.subject
                .as_deref()
                .is_some_and(|s| s.contains("How did we do") || s.contains("Как мы справились"))
        })
        .collect()
}

async fn wait_for_surveys(smtp: &SmtpServer, n: usize) -> Vec<Received> {
    let start = std::time::Instant::now();
    loop {
        let got = survey_mails(smtp);
        if got.len() >= n {
            return got;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {n} survey mails, got {}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every link in a mail to `{PUBLIC}c/{kind}/…`, as a path on the test server.
fn links(mail: &Received, kind: &str) -> Vec<String> {
    let prefix = format!("{PUBLIC}c/{kind}/");
    mail.text
        .split_whitespace()
        .filter_map(|w| w.strip_prefix(&prefix))
        .map(|token| format!("/c/{kind}/{token}"))
        .collect()
}

async fn get(s: &Scene, path: &str) -> (u16, String) {
    let r = client()
        .get(format!("{}{path}", s.base))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(s: &Scene, path: &str, form: &[(&str, &str)]) -> (u16, String, Option<String>) {
    let r = client()
        .post(format!("{}{path}", s.base))
        .form(form)
        .send()
        .await
        .unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (r.status().as_u16(), r.text().await.unwrap(), location)
}

/// The value of the hidden `name` field in a page.
fn hidden(page: &str, name: &str) -> String {
    let needle = format!(r#"name="{name}" value=""#);
    let at = page.find(&needle).expect("the hidden field") + needle.len();
    page[at..].split('"').next().unwrap().to_owned()
}

fn signer() -> Signer {
    Signer::new(SECRET.as_bytes())
}

/// No customer data on a refusal page.
fn assert_no_data(page: &str) {
    for secret in ["Acme", "Shop is slow", "Глобекс", "acme.example"] {
        assert!(
            !page.contains(secret),
            "{secret:?} on a refusal page:\n{page}"
        );
    }
    assert!(page.contains("invalid or has expired") || page.contains("answered already"));
}

async fn a_survey_goes_out_once_after_the_delay_and_an_unhappy_answer_reopens_and_queues_a_call_back(
    db: Db,
) {
    let s = scene(&db).await;
    let due = resolved_ticket(&s, "acme", 72, 48, "anna").await;
    // Resolved one hour ago: not yet.
    let fresh = resolved_ticket(&s, "acme", 3, 1, "anna").await;

    let now = Utc::now();
    let first = s.server.surveys.tick(now).await.unwrap();
    assert_eq!(first.sent, 1, "{first:?}");
    assert_eq!(s.server.surveys.tick(now).await.unwrap().sent, 0, "once");
    let mail = wait_for_surveys(&s.smtp, 1).await.remove(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(survey_mails(&s.smtp).len(), 1, "one survey mail");
    assert_eq!(mail.recipients, ["ops@acme.example", "boss@acme.example"]);
    assert!(
        mail.subject
            .as_deref()
            .unwrap()
            .contains(&format!("#{}", due.0))
    );
    let answers = links(&mail, "s");
    assert_eq!(
        answers.len(),
        7,
        "five ratings and yes / no:\n{}",
        mail.text
    );
    assert_eq!(links(&mail, "u").len(), 1, "an unsubscribe link");
    let surveys = s
        .server
        .store
        .surveys(now - chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(surveys.len(), 1);
    assert_eq!(surveys[0].ticket, due);
    assert_ne!(surveys[0].ticket, fresh);
    assert_eq!(surveys[0].credited_to.as_deref(), Some("anna"));

    // The mail scanner opens "rating 2": a confirm page, nothing recorded.
    let rating_2 = &answers[1];
    let (status, page) = get(&s, rating_2).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"value="2" checked"#), "{page}");
    assert!(page.contains("Shop is slow"));
    let survey = s.server.store.survey(surveys[0].id).await.unwrap().unwrap();
    assert!(survey.answered_at.is_none(), "a GET records nothing");

    // The customer confirms: rating 2, not solved, with a comment.
    let (status, page, _) = post(
        &s,
        rating_2,
        &[
            ("rating", "2"),
            ("solved", "no"),
            ("comment", "still slow at night"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("we reopened your ticket"), "{page}");
    let survey = s.server.store.survey(survey.id).await.unwrap().unwrap();
    assert_eq!((survey.rating, survey.solved), (Some(2), Some(false)));
    assert_eq!(survey.comment.as_deref(), Some("still slow at night"));

    let callbacks = s.server.store.callbacks().await.unwrap();
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0].ticket, due);
    assert!(callbacks[0].reason.contains("rated 2/5"));
    assert!(callbacks[0].reason.contains("not solved"));

    let (ticket, timeline) = s.server.tickets.get(due).await.unwrap();
    assert_eq!(ticket.status, TicketStatus::Reopened);
    assert!(timeline.iter().any(|e| matches!(
        &e.kind,
        EventKind::Reopened { reason } if reason.contains("still slow at night")
    )));
    assert!(timeline.iter().any(|e| matches!(
        &e.kind,
        EventKind::SurveyAnswered { rating: Some(2), solved: Some(false), credited_to: Some(who), .. }
            if who == "anna"
    )));

    // The link is spent: another click, or the same POST again, is refused.
    let (status, page) = get(&s, rating_2).await;
    assert_eq!(status, 410);
    assert_no_data(&page);
    let (status, page, _) = post(&s, &answers[4], &[("rating", "5")]).await;
    assert_eq!(status, 410);
    assert_no_data(&page);
    assert_eq!(s.server.store.callbacks().await.unwrap().len(), 1);
    s.server.shutdown().await;
}

async fn a_happy_answer_with_a_later_comment_is_credited_and_counts_in_the_report(db: Db) {
    let s = scene(&db).await;
    // Resolved 7.5 days ago: still surveyed (delay + 7 days), and it stayed closed a week.
    let id = resolved_ticket(&s, "globex", 300, 180, "boris").await;
    assert_eq!(s.server.surveys.tick(Utc::now()).await.unwrap().sent, 1);
    let mail = wait_for_surveys(&s.smtp, 1).await.remove(0);
    assert!(mail.text.contains("Здравствуйте, Глобекс"), "{}", mail.text);
    let answers = links(&mail, "s");
    assert_eq!(
        links(&mail, "t").len(),
        1,
        "the ticket's page:\n{}",
        mail.text
    );
    // The confirm page speaks the customer's language.
    let (status, page) = get(&s, &answers[5]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Проблема решена?"), "{page}");
    assert!(page.contains(r#"value="yes" checked"#), "{page}");
    // "Solved: yes" link, then a rating on the confirm page.
    let (status, page, _) = post(&s, &answers[5], &[("rating", "5"), ("solved", "yes")]).await;
    assert_eq!(status, 200, "{page}");
    // (Globex reads Russian: "we reopened your ticket" would be "мы снова открыли заявку".)
    assert!(!page.contains("снова открыли"), "{page}");
    assert!(page.contains("Спасибо"), "{page}");
    let comment_token = hidden(&page, "token");
    let (status, page, _) = post(
        &s,
        "/c/comment",
        &[
            ("token", &comment_token),
            ("comment", "fast and clear, thanks"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    // The comment link is single-use too.
    let (status, page, _) = post(
        &s,
        "/c/comment",
        &[("token", &comment_token), ("comment", "x")],
    )
    .await;
    assert_eq!(status, 410);
    assert_no_data(&page);

    let (ticket, timeline) = s.server.tickets.get(id).await.unwrap();
    assert_eq!(
        ticket.status,
        TicketStatus::Resolved,
        "a happy answer reopens nothing"
    );
    assert!(timeline.iter().any(|e| matches!(
        &e.kind,
        EventKind::SurveyAnswered { rating: Some(5), solved: Some(true), credited_to: Some(who), .. }
            if who == "boris"
    )));
    assert!(timeline.iter().any(|e| matches!(
        &e.kind,
        EventKind::SurveyCommented { text, .. } if text == "fast and clear, thanks"
    )));
    assert!(s.server.store.callbacks().await.unwrap().is_empty());

    // The KPI report counts it: CSAT 1/1, response rate 1/1, a point for boris (resolved 7.5
    // days ago, stayed closed).
    let args = forewarn::cli::report::ReportArgs {
        since: Duration::from_secs(30 * 86400),
        by: None,
        format: forewarn::cli::report::Format::Json,
    };
    let json = forewarn::cli::report::render_report(
        &*s.server.store,
        &Default::default(),
        &args,
        Utc::now(),
    )
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["overall"]["csat"]["numerator"], 1, "{json}");
    assert_eq!(v["overall"]["survey_response_rate"]["denominator"], 1);
    let boris = v["per_engineer"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["engineer"] == "boris")
        .expect("boris in the report");
    assert_eq!(boris["points"], 1, "{json}");
    s.server.shutdown().await;
}

async fn tampered_expired_reused_and_other_customers_links_are_refused_without_data(db: Db) {
    let s = scene(&db).await;
    let acme_ticket = resolved_ticket(&s, "acme", 72, 48, "anna").await;
    s.server.surveys.tick(Utc::now()).await.unwrap();
    let mail = wait_for_surveys(&s.smtp, 1).await.remove(0);
    let answer = links(&mail, "s").remove(4);
    let survey = s.server.store.surveys(ago(24)).await.unwrap().remove(0).id;
    let in_a_day = Utc::now() + chrono::Duration::days(1);
    let acme_view = signer().sign(
        Purpose::TicketView,
        &customer("acme"),
        acme_ticket.0,
        "",
        in_a_day,
    );
    assert_eq!(get(&s, &format!("/c/t/{acme_view}")).await.0, 200);

    // Tampered: one character of the token changed.
    let mut tampered = answer.clone().into_bytes();
    let i = tampered.len() - 5;
    tampered[i] = if tampered[i] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    let mut refused = vec![(403, get(&s, &tampered).await)];
    // A key of our own making.
    let forged = Signer::new(b"not the server's key, but 32 b!!").sign(
        Purpose::TicketView,
        &customer("acme"),
        acme_ticket.0,
        "",
        in_a_day,
    );
    refused.push((403, get(&s, &format!("/c/t/{forged}")).await));
    // Expired (signed with the real key).
    let past = Utc::now() - chrono::Duration::minutes(1);
    let expired = signer().sign(
        Purpose::SurveyAnswer,
        &customer("acme"),
        survey,
        "rating-5",
        past,
    );
    refused.push((410, get(&s, &format!("/c/s/{expired}")).await));
    let expired_view = signer().sign(
        Purpose::TicketView,
        &customer("acme"),
        acme_ticket.0,
        "",
        past,
    );
    refused.push((410, get(&s, &format!("/c/t/{expired_view}")).await));
    // Another customer's link: Globex's valid link naming Acme's ticket or survey.
    let other = signer().sign(
        Purpose::TicketView,
        &customer("globex"),
        acme_ticket.0,
        "",
        in_a_day,
    );
    refused.push((403, get(&s, &format!("/c/t/{other}")).await));
    let other = signer().sign(
        Purpose::SurveyAnswer,
        &customer("globex"),
        survey,
        "rating-5",
        in_a_day,
    );
    refused.push((403, get(&s, &format!("/c/s/{other}")).await));
    // A link for one purpose opens nothing else.
    refused.push((403, get(&s, &format!("/c/checks/{acme_view}")).await));
    refused.push((403, get(&s, &format!("/c/s/{acme_view}")).await));
    for (i, (want, (status, page))) in refused.iter().enumerate() {
        assert_eq!(status, want, "case {i}: {page}");
        assert_no_data(page);
    }
    // Posting through a refused link changes nothing.
    let (status, page, _) = post(&s, &tampered, &[("rating", "5")]).await;
    assert_eq!(status, 403);
    assert_no_data(&page);
    let (status, _, _) = post(&s, &format!("/c/t/{other}/reply"), &[("text", "hi")]).await;
    assert_eq!(status, 403);
    assert!(
        s.server
            .store
            .survey(survey)
            .await
            .unwrap()
            .unwrap()
            .answered_at
            .is_none()
    );

    // Reused: the first POST records, the second is refused.
    assert_eq!(post(&s, &answer, &[]).await.0, 200);
    let (status, page, _) = post(&s, &answer, &[]).await;
    assert_eq!(status, 410);
    assert_no_data(&page);
    let answered = s.server.store.survey(survey).await.unwrap().unwrap();
    assert_eq!(answered.rating, Some(5));

    // A form posted from another site is refused before it is read.
    let r = client()
        .post(format!("{}/c/t/{acme_view}/reply", s.base))
        .header("origin", "https://evil.example")
        .form(&[("text", "pwned")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    s.server.shutdown().await;
}

async fn one_reminder_and_no_survey_after_reopening_opting_out_or_a_recent_answer(db: Db) {
    let s = scene(&db).await;
    // Surveyed four days ago, never answered: one reminder now, once.
    resolved_ticket(&s, "acme", 200, 150, "anna").await;
    let four_days_ago = Utc::now() - chrono::Duration::days(4);
    assert_eq!(s.server.surveys.tick(four_days_ago).await.unwrap().sent, 1);
    let now = Utc::now();
    let r = s.server.surveys.tick(now).await.unwrap();
    assert_eq!((r.sent, r.reminded), (0, 1));
    assert_eq!(
        s.server.surveys.tick(now).await.unwrap().reminded,
        0,
        "once"
    );
    let mut mails = wait_for_surveys(&s.smtp, 2).await;
    // Delivered in either order.
    mails.sort_by_key(|m| m.subject.as_deref().unwrap().starts_with("Reminder"));
    assert!(mails[1].subject.as_deref().unwrap().starts_with("Reminder"));
    assert!(!mails[0].subject.as_deref().unwrap().starts_with("Reminder"));

    // Reopened after its resolution: no survey.
    let reopened = resolved_ticket(&s, "globex", 100, 50, "anna").await;
    s.server
        .tickets
        .reopen(reopened, Actor::Staff("anna".into()), "not quite", ago(2))
        .await
        .unwrap();
    assert_eq!(s.server.surveys.tick(now).await.unwrap().sent, 0);

    // Acme opts out (the scanner's GET does not, the POST does): no survey for a new ticket.
    let unsubscribe = links(&mails[0], "u").remove(0);
    let (status, page) = get(&s, &unsubscribe).await;
    assert_eq!(status, 200);
    assert!(page.contains("Stop surveys"));
    assert!(s.server.store.opted_out().await.unwrap().is_empty());
    assert_eq!(post(&s, &unsubscribe, &[]).await.0, 200);
    assert_eq!(
        s.server.store.opted_out().await.unwrap(),
        ["boss@acme.example", "ops@acme.example"]
    );
    resolved_ticket(&s, "acme", 60, 30, "anna").await;
    assert_eq!(s.server.surveys.tick(now).await.unwrap().sent, 0);

    // Globex answered a survey last week: none for its next ticket within 30 days.
    let answered = resolved_ticket(&s, "globex", 400, 300, "anna").await;
    let week_ago = Utc::now() - chrono::Duration::days(7);
    assert_eq!(s.server.surveys.tick(week_ago).await.unwrap().sent, 1);
    let globex_mail = wait_for_surveys(&s.smtp, 3)
        .await
        .into_iter()
        .find(|m| m.recipients == ["it@globex.example"])
        .unwrap();
    assert_eq!(globex_mail.recipients, ["it@globex.example"]);
    assert_eq!(post(&s, &links(&globex_mail, "s")[3], &[]).await.0, 200);
    let survey = s.server.store.surveys(ago(24 * 8)).await.unwrap();
    assert!(
        survey
            .iter()
            .any(|x| x.ticket == answered && x.rating == Some(4))
    );
    resolved_ticket(&s, "globex", 60, 30, "anna").await;
    assert_eq!(s.server.surveys.tick(now).await.unwrap().sent, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(survey_mails(&s.smtp).len(), 3, "nothing more went out");
    s.server.shutdown().await;
}

async fn the_customer_ticket_page_hides_internal_notes_and_takes_replies(db: Db) {
    let s = scene(&db).await;
    let t = &s.server.tickets;
    let id = t
        .customer_request(
            &customer("acme"),
            "Mail bounces",
            "since 9:00",
            vec![],
            ago(2),
        )
        .await
        .unwrap();
    t.update(
        id,
        Actor::Staff("anna".into()),
        "SECRET-NOTE customer is on the old plan",
        None,
        true,
        ago(1),
    )
    .await
    .unwrap();
    t.wait_on_customer(
        id,
        Actor::Staff("anna".into()),
        "Which address bounces?",
        ago(1),
    )
    .await
    .unwrap();
    // The acknowledgement mail carries the customer's signed page, not the staff page.
    let start = std::time::Instant::now();
    let ack = loop {
        if let Some(m) = s.smtp.received().into_iter().find(|m| {
            m.subject
                .as_deref()
                .is_some_and(|x| x.contains("We received"))
        }) {
            break m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no acknowledgement"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let page_link = links(&ack, "t").remove(0);
    assert!(
        !ack.text.contains(&format!("{PUBLIC}tickets/")),
        "{}",
        ack.text
    );

    let r = client()
        .get(format!("{}{page_link}", s.base))
        .send()
        .await
        .unwrap();
    for (name, value) in [
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        ("x-robots-tag", "noindex"),
    ] {
        assert_eq!(r.headers()[name], value, "{name}");
    }
    let (status, page) = get(&s, &page_link).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Mail bounces"));
    assert!(page.contains("Which address bounces?"));
    assert!(page.contains("waiting for your reply"));
    assert!(!page.contains("SECRET-NOTE"), "no internal notes:\n{page}");

    let (status, _, location) = post(
        &s,
        &format!("{page_link}/reply"),
        &[("text", "info@acme.example")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some(page_link.as_str()));
    let (ticket, timeline) = t.get(id).await.unwrap();
    assert_eq!(
        ticket.status,
        TicketStatus::InProgress,
        "out of waiting_on_customer"
    );
    assert!(timeline.iter().any(
        |e| matches!(&e.kind, EventKind::PublicUpdate { text, .. } if text == "info@acme.example")
            && matches!(&e.actor, Actor::Customer(n) if n == "Acme Ltd")
    ));
    // An empty reply is refused with what to do.
    let (status, page, _) = post(&s, &format!("{page_link}/reply"), &[("text", "  ")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("write between 1 and"));

    // Resolved, then the customer asks to close: logged and closed.
    t.resolve(id, Actor::Staff("anna".into()), resolution(), Utc::now())
        .await
        .unwrap();
    let (_, page) = get(&s, &page_link).await;
    assert!(
        page.contains("old logs removed"),
        "the resolution explanation:\n{page}"
    );
    assert_eq!(post(&s, &format!("{page_link}/close"), &[]).await.0, 303);
    let (ticket, timeline) = t.get(id).await.unwrap();
    assert_eq!(ticket.status, TicketStatus::Closed);
    assert!(
        timeline
            .iter()
            .any(|e| matches!(e.kind, EventKind::CustomerAskedToClose))
    );
    s.server.shutdown().await;
}

async fn report_a_problem_opens_a_customer_ticket_and_acknowledges_it(db: Db) {
    let s = scene(&db).await;
    let link = signer().sign(
        Purpose::ChecksView,
        &customer("acme"),
        0,
        "",
        Utc::now() + chrono::Duration::days(1),
    );
    let (status, page) = get(&s, &format!("/c/checks/{link}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Acme shop"), "{page}");
    assert!(page.contains("Uptime, 30 days"));
    assert!(!page.contains("Глобекс"));

    let (status, _, location) = post(
        &s,
        &format!("/c/checks/{link}/report"),
        &[
            ("check", "acme-www"),
            ("title", "Checkout fails"),
            ("text", "error 502 on pay"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let ticket_page = location.expect("to the new ticket's page");
    assert!(ticket_page.starts_with("/c/t/"));
    let tickets = s.server.store.tickets(&Default::default()).await.unwrap();
    assert_eq!(tickets.len(), 1);
    let t = &tickets[0];
    assert_eq!(t.origin, Origin::Customer, "reactive, not proactive");
    assert_eq!(t.problem, "customer_request");
    assert_eq!(
        t.checks.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        ["acme-www"]
    );
    let start = std::time::Instant::now();
    while !s.smtp.received().iter().any(|m| {
        m.subject
            .as_deref()
            .is_some_and(|x| x.contains("Checkout fails"))
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no acknowledgement mail"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let timeline = s.server.store.timeline(t.id).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| matches!(e.kind, EventKind::AutoAckQueued))
    );
    let (status, page) = get(&s, &ticket_page).await;
    assert_eq!(status, 200);
    assert!(page.contains("error 502 on pay"));
    // A check of another customer cannot be named; the ticket then names none.
    let globex_link = signer().sign(
        Purpose::ChecksView,
        &customer("globex"),
        0,
        "",
        Utc::now() + chrono::Duration::days(1),
    );
    assert_eq!(
        post(
            &s,
            &format!("/c/checks/{globex_link}/report"),
            &[("check", "acme-www"), ("title", "x"), ("text", "y")]
        )
        .await
        .0,
        303
    );
    let tickets = s.server.store.tickets(&Default::default()).await.unwrap();
    assert!(tickets[0].checks.is_empty(), "{:?}", tickets[0]);
    s.server.shutdown().await;
}

async fn staff_survey_pages_need_a_session_and_log_call_backs(db: Db) {
    let s = scene(&db).await;
    for path in ["/surveys", "/surveys/callbacks"] {
        let (status, _) = get(&s, path).await;
        assert_eq!(status, 303, "{path}");
    }
    let (status, _, location) = post(&s, "/surveys/callbacks/1", &[("outcome", "x")]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/login")));

    // An unhappy answer makes a call-back task.
    resolved_ticket(&s, "acme", 72, 48, "anna").await;
    s.server.surveys.tick(Utc::now()).await.unwrap();
    let mail = wait_for_surveys(&s.smtp, 1).await.remove(0);
    assert_eq!(
        post(&s, &links(&mail, "s")[0], &[("comment", "awful")])
            .await
            .0,
        200
    );

    s.server
        .store
        .create_user(
            NewUser {
                name: "csm".into(),
                display_name: "Cora CSM".into(),
                role: Role::Staff,
                password_hash: hash_password(PASSWORD).unwrap(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let r = client()
        .post(format!("{}/login", s.base))
        .form(&[("name", "csm"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = |path: String| {
        let cookie = cookie.clone();
        let base = s.base.clone();
        async move {
            let r = client()
                .get(format!("{base}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, list) = page("/surveys?rating=low".into()).await;
    assert_eq!(status, 200);
    assert!(
        list.contains("awful") && list.contains("1/5") && list.contains("anna"),
        "{list}"
    );
    let (_, none) = page("/surveys?rating=high".into()).await;
    assert!(!none.contains("awful"));
    let (_, one) = page("/surveys?rating=1".into()).await;
    assert!(one.contains("awful"), "{one}");
    let (status, odd) = page("/surveys?rating=9&show=all".into()).await;
    assert_eq!(status, 200);
    assert!(
        !odd.contains(r#"href="/tickets/"#),
        "a rating not offered lists nothing: {odd}"
    );
    let (status, queue) = page("/surveys/callbacks".into()).await;
    assert_eq!(status, 200);
    assert!(queue.contains("rated 1/5"), "{queue}");
    // Whom to call, with the number as a link a phone or softphone dials; the contact with only
    // an address is not offered as a number.
    assert!(
        queue.contains("Olga Boss")
            && queue.contains(r#"href="tel:+442079460018">+44 (20) 7946-0018</a>"#),
        "{queue}"
    );
    let task = s.server.store.callbacks().await.unwrap().remove(0);
    let csrf = hidden(&queue, "csrf");
    let log = |csrf: String| {
        let cookie = cookie.clone();
        let url = format!("{}/surveys/callbacks/{}", s.base, task.id);
        async move {
            client()
                .post(url)
                .header("cookie", cookie)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("outcome", "called; disk upgrade offered"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(log("wrong".into()).await, 403, "CSRF token required");
    assert_eq!(log(csrf.clone()).await, 303);
    assert_eq!(log(csrf).await, 422, "logged once");
    let task = s.server.store.callbacks().await.unwrap().remove(0);
    assert_eq!(task.done_by.as_deref(), Some("csm"));
    assert_eq!(
        task.outcome.as_deref(),
        Some("called; disk upgrade offered")
    );
    let timeline = s.server.store.timeline(task.ticket).await.unwrap();
    assert!(timeline.iter().any(|e| matches!(&e.kind, EventKind::CallbackLogged { outcome, .. } if outcome.contains("disk upgrade"))));
    assert!(matches!(
        s.server
            .store
            .complete_callback(task.id, "csm", "again", Utc::now())
            .await,
        Err(StoreError::Conflict { .. })
    ));
    s.server.shutdown().await;
}

/// Two survey runs at once (two instances) send one survey; eight clicks on one link at once
/// (a double-clicking customer, a scanner racing them) record one answer and one call-back.
async fn concurrent_survey_runs_and_clicks_record_once(db: Db) {
    let s = scene(&db).await;
    resolved_ticket(&s, "acme", 72, 48, "anna").await;
    let now = Utc::now();
    let (a, b) = tokio::join!(s.server.surveys.tick(now), s.server.surveys.tick(now));
    assert_eq!(a.unwrap().sent + b.unwrap().sent, 1);
    let mail = wait_for_surveys(&s.smtp, 1).await.remove(0);
    let link = links(&mail, "s").remove(0);
    let clicks = (0..8).map(|_| post(&s, &link, &[("comment", "bad")]));
    let statuses: Vec<u16> = futures::future::join_all(clicks)
        .await
        .into_iter()
        .map(|(status, _, _)| status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 410).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(s.server.store.callbacks().await.unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(survey_mails(&s.smtp).len(), 1);
    s.server.shutdown().await;
}

/// The checks of a resolved ticket must have stayed green for the delay too: one failing now,
/// or green only for an hour, holds the survey back.
async fn a_survey_waits_until_the_tickets_checks_stayed_green_for_the_delay(db: Db) {
    use forewarn::probe::Status;
    let s = scene(&db).await;
    // Checks that the scheduler does not run, so their state is what the test records.
    let results = [
        support_store::result("acme-db", Status::Ok, ago(72), 5),
        support_store::result("acme-api", Status::Ok, ago(72), 5),
        support_store::result("acme-api", Status::Critical, ago(0), 5),
        support_store::result("acme-cdn", Status::Critical, ago(3), 5),
        support_store::result("acme-cdn", Status::Ok, ago(1), 5),
    ];
    s.server.store.record(&results).await.unwrap();
    let t = &s.server.tickets;
    let mut ids = Vec::new();
    for check in ["acme-db", "acme-api", "acme-cdn"] {
        let id = t
            .customer_request(
                &customer("acme"),
                &format!("{check} is slow"),
                "slow",
                vec![support_store::check_id(check)],
                ago(80),
            )
            .await
            .unwrap();
        // acme-api still fails: staff resolve anyway, with the reason.
        let mut r = resolution();
        r.resolved_while_failing = Some("fixed upstream; the check catches up".into());
        t.resolve(id, Actor::Staff("anna".into()), r, ago(48))
            .await
            .unwrap();
        ids.push(id);
    }
    assert_eq!(s.server.surveys.tick(Utc::now()).await.unwrap().sent, 1);
    let surveyed: Vec<TicketId> = s
        .server
        .store
        .surveys(ago(1))
        .await
        .unwrap()
        .iter()
        .map(|x| x.ticket)
        .collect();
    assert_eq!(
        surveyed,
        [ids[0]],
        "only the ticket whose check stayed green"
    );
    s.server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Configuration and the CLI.

/// A configuration directory: `forewarn.toml` from `global`, customer Acme, and the shipped
/// playbooks with `playbook_line` put at the top of `customer_request.toml`.
fn config_dir(global: &str, playbook_line: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("checks")).unwrap();
    std::fs::create_dir_all(d.join("playbooks")).unwrap();
    std::fs::write(d.join("forewarn.toml"), global).unwrap();
    std::fs::write(
        d.join("checks/acme.toml"),
        "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"ops@acme.example\"]\ntier = \"gold\"\n",
    )
    .unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks");
    for entry in std::fs::read_dir(shipped).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let mut text = std::fs::read_to_string(&path).unwrap();
            if path.file_stem().is_some_and(|s| s == "customer_request") {
                text = format!("{playbook_line}\n{text}");
            }
            std::fs::write(d.join("playbooks").join(path.file_name().unwrap()), text).unwrap();
        }
    }
    dir
}

#[test]
fn survey_delays_come_from_the_playbook_the_tier_or_the_default() {
    let dir = config_dir(
        "database = \"sqlite://data/t.db\"\n[survey]\ndelay = \"2d\"\ntier_delay = { gold = \"6h\" }\n",
        "survey_delay = \"90m\"",
    );
    let c =
        forewarn::config::load(&dir.path().join("forewarn.toml")).unwrap_or_else(|e| panic!("{e}"));
    let s = &c.survey;
    let h = |n: u64| Duration::from_secs(n * 3600);
    assert_eq!(s.delay_for("silver", None), h(48));
    assert_eq!(s.delay_for("gold", None), h(6));
    let by_playbook = c.playbooks.get("customer_request").unwrap().survey_delay;
    assert_eq!(by_playbook, Some(Duration::from_secs(90 * 60)));
    assert_eq!(
        s.delay_for("gold", by_playbook),
        Duration::from_secs(90 * 60)
    );
    assert_eq!(
        s.delay_range(&c.playbooks),
        (Duration::from_secs(90 * 60), h(48))
    );
    // Defaults: 24 h, a reminder after 3 days, 30 quiet days, links for 14 days.
    let dir = config_dir("database = \"sqlite://data/t.db\"\n", "");
    let c = forewarn::config::load(&dir.path().join("forewarn.toml")).unwrap();
    assert_eq!(
        (
            c.survey.delay,
            c.survey.reminder_after,
            c.survey.quiet_period,
            c.survey.link_ttl
        ),
        (h(24), h(72), h(720), h(336))
    );
    assert!(c.survey.enabled);
}

#[test]
fn bad_survey_settings_and_a_short_link_secret_are_located() {
    let dir = config_dir(
        "database = \"sqlite://data/t.db\"\n[web]\nsecret = { file = \"short.secret\" }\n[survey]\ndelay = \"soon\"\nreminder_after = \"3 fortnights\"\n",
        "survey_delay = \"later\"",
    );
    std::fs::write(dir.path().join("short.secret"), "tooshort").unwrap();
    let err = forewarn::config::load(&dir.path().join("forewarn.toml")).unwrap_err();
    let text = err.to_string();
    for needle in [
        "forewarn.toml:3:",
        "web.secret",
        "at least 32 random characters",
        "survey.delay",
        "survey.reminder_after",
        "customer_request.toml:1:",
        "survey_delay",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(err.len(), 4, "{text}");
}

#[test]
fn customer_link_prints_a_signed_checks_page_link_and_refuses_an_unknown_customer() {
    let dir = config_dir(
        &format!(
            "database = \"sqlite://data/t.db\"\npublic_url = \"{PUBLIC}\"\n[web]\nsecret = {{ file = \"link.secret\" }}\n"
        ),
        "",
    );
    std::fs::write(dir.path().join("link.secret"), SECRET).unwrap();
    let forewarn = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
            .arg("--config")
            .arg(dir.path().join("forewarn.toml"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = forewarn(&["customer", "link", "acme", "--valid", "2d", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let url = v["url"].as_str().unwrap();
    let token = url
        .strip_prefix(&format!("{PUBLIC}c/checks/"))
        .unwrap_or_else(|| panic!("{url}"));
    let claims = signer()
        .verify(token, Purpose::ChecksView, Utc::now())
        .unwrap();
    assert_eq!(claims.customer, customer("acme"));
    let days = (claims.expires - Utc::now()).num_hours();
    assert!((47..=48).contains(&days), "{days} h");
    let out = forewarn(&["customer", "link", "acme"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.starts_with("CUSTOMER") && table.contains("c/checks/"),
        "{table}"
    );
    let out = forewarn(&["customer", "link", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no customer \"nobody\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_run_list_and_callbacks_from_the_shell() {
    forewarn::probe::install_crypto_provider();
    let dir = config_dir(
        &format!("database = \"sqlite://data/t.db\"\npublic_url = \"{PUBLIC}\"\n"),
        "",
    );
    let path = dir.path().join("forewarn.toml");
    let config = forewarn::config::load(&path).unwrap();
    let store = forewarn::store::open(&config.database).await.unwrap();
    let shared = std::sync::Arc::new(std::sync::RwLock::new(std::sync::Arc::new(config)));
    let tickets = forewarn::ticket::service::TicketService::new(store.clone(), shared, None);
    let id = tickets
        .customer_request(&customer("acme"), "Slow shop", "slow", vec![], ago(80))
        .await
        .unwrap();
    tickets
        .resolve(id, Actor::Staff("anna".into()), resolution(), ago(48))
        .await
        .unwrap();
    let forewarn = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
            .arg("--config")
            .arg(&path)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        forewarn(&["survey", "run"]),
        "1 survey(s) and 0 reminder(s) queued\n"
    );
    assert_eq!(
        forewarn(&["survey", "run"]),
        "0 survey(s) and 0 reminder(s) queued\n"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&forewarn(&["survey", "list", "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["ticket"], id.0);
    assert_eq!(listed[0]["credited_to"], "anna");
    let table = forewarn(&["survey", "list"]);
    assert!(
        table.starts_with("TICKET") && table.contains(&format!("#{}", id.0)),
        "{table}"
    );
    assert!(forewarn(&["survey", "callbacks"]).starts_with("TASK"));
    assert_eq!(forewarn(&["survey", "callbacks", "--json"]).trim(), "[]");
    // The mail waits in the outbox for the server's worker, with the generated key's links.
    let queued = store.outbox(&Default::default()).await.unwrap();
    let survey_mail = queued
        .iter()
        .find(|m| m.key.starts_with("survey-"))
        .expect("the survey mail is queued");
    assert!(survey_mail.body.contains(&format!("{PUBLIC}c/s/")));
}

/// A secret changed by a reload refuses survey links signed with the old one at once (the
/// service reads the key of the current configuration, as the ticket and checks pages do).
async fn a_new_link_secret_takes_effect_without_a_restart(db: Db) {
    use std::sync::{Arc, RwLock};
    let s = scene(&db).await;
    resolved_ticket(&s, "acme", 72, 48, "anna").await;
    s.server.surveys.tick(Utc::now()).await.unwrap();
    let mail = wait_for_surveys(&s.smtp, 1).await.remove(0);
    let token = links(&mail, "s")[4].trim_start_matches("/c/s/").to_owned();
    let now = Utc::now();
    assert!(s.server.surveys.open_answer(&token, now).await.is_ok());

    // The same store, under a configuration whose secret was changed (as after SIGHUP).
    let mut config = forewarn::config::load(&s._dir.path().join("forewarn.toml")).unwrap();
    let old = config.web.secret.clone();
    config.web.secret = Some(forewarn::secret::Secret::new(
        "a-rotated-secret-0123456789abcdef-0123456789",
    ));
    let shared = Arc::new(RwLock::new(Arc::new(config)));
    let tickets = Arc::new(forewarn::ticket::service::TicketService::new(
        s.server.store.clone(),
        shared.clone(),
        None,
    ));
    let rotated = forewarn::survey::SurveyService::new(
        s.server.store.clone(),
        shared.clone(),
        tickets,
        Arc::new(signer()),
        None,
    );
    assert!(
        matches!(
            rotated.open_answer(&token, now).await,
            Err(forewarn::survey::SurveyError::Link(_))
        ),
        "a link signed with the old secret is refused"
    );
    // Back to the old secret: the link works again (it was never used).
    let mut config = (**shared.read().unwrap()).clone();
    config.web.secret = old;
    *shared.write().unwrap() = Arc::new(config);
    assert!(rotated.open_answer(&token, now).await.is_ok());
    s.server.shutdown().await;
}
