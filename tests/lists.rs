//! Long lists never end silently (R6 at scale): with 120 open tickets the CLI, the API and the
//! queue each show a page and say how to get the next; following them reaches every ticket
//! once; a search by number, words or site finds the ticket. Real server, real binary, headless
//! Chromium for the queue.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/server.rs"]
mod server;

use std::collections::BTreeSet;
use std::process::Command;

use browser::{Browser, screenshots_dir};
use chrono::Utc;
use forewarn::model::CustomerId;

const TICKETS: i64 = 120;
const PASSWORD: &str = "correct horse battery staple";
const TOKEN: &str = "lists-test-staff-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_the_api_and_the_queue_page_through_every_ticket_and_find_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(dir.path().join("staff.token"), TOKEN).unwrap();
    let config = dir.path().join("forewarn.toml");
    std::fs::write(
        &config,
        "database = \"sqlite://data/forewarn.db\"\npublic_url = \"https://status.hosting.example/\"\n\
         [web]\nstaff_token = { file = \"staff.token\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks/acme.toml"),
        "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"it@acme.example\"]\n\n\
         [[check]]\nid = \"acme-shop\"\nname = \"Shop\"\ninterval = \"1h\"\n\
         [check.http]\nurl = \"https://shop.acme.example/\"\n",
    )
    .unwrap();
    let server = server::start(&config).await;
    let base = format!("http://{}", server.addr);
    server::add_staff(&server, "sam", "Sam Support", PASSWORD).await;
    let acme = CustomerId::parse("acme").unwrap();
    for i in 1..=TICKETS {
        let checks = if i == 77 {
            vec![forewarn::model::CheckId::parse("acme-shop").unwrap()]
        } else {
            vec![]
        };
        server
            .tickets
            .customer_request(
                &acme,
                &format!("Request number {i}"),
                "text",
                checks,
                Utc::now(),
            )
            .await
            .unwrap();
    }

    // The CLI: pages of 50 with the way to the next; following them reaches every ticket once.
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_forewarn"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let mut seen = BTreeSet::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec!["ticket", "list", "--open", "--limit", "50", "--json"];
        if let Some(a) = &after {
            args.extend(["--after", a.as_str()]);
        }
        let (out, err) = cli(&args);
        let page: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        pages += 1;
        for t in &page {
            assert!(seen.insert(t["id"].as_i64().unwrap()), "each ticket once");
        }
        match err.split("--after ").nth(1) {
            Some(rest) => after = Some(rest.split_whitespace().next().unwrap().to_owned()),
            None => break,
        }
    }
    assert_eq!((pages, seen.len() as i64), (3, TICKETS));
    let (table, _) = cli(&["ticket", "list", "--open", "--limit", "50"]);
    assert!(table.contains("50 tickets shown"), "{table}");
    assert!(
        table.contains("More tickets: add --after"),
        "never a silent cap: {table}"
    );
    let (table, _) = cli(&["ticket", "list", "--all"]);
    assert!(
        table.contains(&format!("{TICKETS} tickets shown")),
        "{table}"
    );
    assert!(!table.contains("More tickets"), "{table}");
    let (found, _) = cli(&["ticket", "list", "--search", "shop.acme.example", "--json"]);
    let found: Vec<serde_json::Value> = serde_json::from_str(&found).unwrap();
    assert_eq!(found.len(), 1, "a site finds its check's ticket");
    assert_eq!(found[0]["title"], "Request number 77");

    // The API: Link rel="next" until the last page.
    let http = server::client();
    let mut url = format!("{base}/api/v1/tickets?open=true&limit=50");
    let mut api_seen = BTreeSet::new();
    loop {
        let r = http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let next = r
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let page: Vec<serde_json::Value> = r.json().await.unwrap();
        for t in &page {
            assert!(api_seen.insert(t["id"].as_i64().unwrap()));
        }
        match next {
            Some(l) => {
                assert!(l.ends_with("rel=\"next\""), "{l}");
                url = format!("{base}{}", &l[1..l.find('>').unwrap()]);
            }
            None => break,
        }
    }
    assert_eq!(api_seen.len() as i64, TICKETS);
    let r = http
        .get(format!("{base}/api/v1/tickets?q=%2342"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let v: Vec<serde_json::Value> = r.json().await.unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["id"], 42);
    let r = http
        .get(format!("{base}/api/v1/tickets?after=yesterday"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "a bad cursor is refused with a reason");

    // The queue: 50 a page, the way to the next, and a search box.
    let mut b = Browser::start().await;
    b.sign_in(&base, "sam", PASSWORD).await;
    let page = b.goto(&format!("{base}/")).await;
    assert!(page.text.contains("120 open tickets"), "{}", page.text);
    assert!(
        page.text.contains("1–50 of 120 · page 1 of 3"),
        "{}",
        page.text
    );
    b.screenshot(&screenshots_dir().join("queue-paged-desktop.png"))
        .await;
    let page = b.click("nav.paging a").await;
    assert!(
        page.text.contains("51–100 of 120 · page 2 of 3"),
        "{}",
        page.text
    );
    b.fill(&[("input[name=q]", "Request number 77")]).await;
    let page = b.click("form.filters").await;
    assert!(page.text.contains("#77 Request number 77"), "{}", page.text);
    assert!(!page.text.contains("Request number 76"), "{}", page.text);
    assert!(!page.text.contains("page 1 of"), "one page: no paging");
    b.size(390, 844).await;
    b.goto(&format!("{base}/")).await;
    b.assert_fits("the paged queue on a phone").await;
    b.quit().await;
    server.shutdown().await;
}

/// The number of distinct `href="{prefix}…"` links on a page.
fn links(page: &str, prefix: &str) -> BTreeSet<String> {
    page.split(&format!("href=\"{prefix}"))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|id| !id.is_empty() && !id.starts_with('?'))
        .map(str::to_owned)
        .collect()
}

/// The "Next →" link of a page.
fn next(page: &str) -> Option<String> {
    let i = page.find("\">Next →</a>")?;
    let start = page[..i].rfind("href=\"")? + 6;
    Some(page[start..i].replace("&amp;", "&"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checks_customers_pages_show_a_page_at_a_time_search_and_filter() {
    const CUSTOMERS: usize = 130;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    let config = dir.path().join("forewarn.toml");
    std::fs::write(
        &config,
        "database = \"sqlite://data/forewarn.db\"\npublic_url = \"https://status.hosting.example/\"\n",
    )
    .unwrap();
    for c in 0..CUSTOMERS {
        std::fs::write(
            dir.path().join(format!("checks/c{c:04}.toml")),
            format!(
                "[customer]\nid = \"c{c:04}\"\nname = \"Customer {c}\"\ntier = \"{}\"\n\
                 [[check]]\nid = \"c{c:04}-shop\"\ncron = \"0 0 1 1 *\"\n[check.http]\nurl = \"http://127.0.0.1:9/\"\n\
                 [[check]]\nid = \"c{c:04}-mail\"\ncron = \"0 0 1 1 *\"\n[check.http]\nurl = \"http://127.0.0.1:9/mail\"\n",
                if c == 42 { "platinum" } else { "standard" }
            ),
        )
        .unwrap();
    }
    let server = server::start(&config).await;
    let base = format!("http://{}", server.addr);
    server::add_staff(&server, "sam", "Sam Support", PASSWORD).await;
    // Three checks failing, the rest not run yet.
    let now = Utc::now();
    let failing: Vec<forewarn::model::CheckResult> = [5, 50, 105]
        .iter()
        .map(|c| forewarn::model::CheckResult {
            check_id: forewarn::model::CheckId::parse(&format!("c{c:04}-shop")).unwrap(),
            customer_id: CustomerId::parse(&format!("c{c:04}")).unwrap(),
            kind: forewarn::probe::Kind::Http,
            planned_at: now,
            started_at: now,
            outcome: forewarn::probe::Outcome::failed(
                forewarn::probe::Failure::Connect,
                forewarn::probe::Status::Critical,
                "connection refused",
                std::time::Duration::from_millis(1),
                Default::default(),
            ),
        })
        .collect();
    server.store.record(&failing).await.unwrap();
    let cookie = server::session_cookie(&base, "sam", PASSWORD).await;
    let get = |path: String| {
        let cookie = cookie.clone();
        let url = format!("{base}{path}");
        async move {
            let r = server::client()
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };

    // Every check once, a hundred a page, failing ones first; the page says where it is.
    let mut page = get("/checks".into()).await;
    assert!(page.contains("1–100 of 260 · page 1 of 3"), "{page}");
    let first = links(&page, "/checks/");
    assert_eq!(first.len(), 100);
    for c in ["c0005-shop", "c0050-shop", "c0105-shop"] {
        assert!(first.contains(c), "failing {c} on the first page");
    }
    let mut seen = first;
    while let Some(link) = next(&page) {
        page = get(link).await;
        let here = links(&page, "/checks/");
        assert!(here.is_disjoint(&seen), "a check on two pages");
        seen.extend(here);
    }
    assert!(page.contains("201–260 of 260 · page 3 of 3"), "{page}");
    assert_eq!(seen.len(), 260);
    // Search by customer id, then a status filter; both keep to what matches.
    let found = get("/checks?q=c0042".into()).await;
    assert_eq!(
        links(&found, "/checks/"),
        BTreeSet::from(["c0042-mail".to_owned(), "c0042-shop".to_owned()])
    );
    assert!(!found.contains("page 1 of"), "one page needs no paging");
    let failing = get("/checks?status=failing".into()).await;
    assert_eq!(links(&failing, "/checks/").len(), 3, "{failing}");
    let none = get("/checks?q=nothing-like-this".into()).await;
    assert!(none.contains("No check matches"), "{none}");

    // Customers: a page at a time, and a search by tier.
    let customers = get("/customers".into()).await;
    assert!(
        customers.contains("1–100 of 130 · page 1 of 2"),
        "{customers}"
    );
    assert_eq!(links(&customers, "/customers/").len(), 100);
    let second = get(next(&customers).expect("a next page")).await;
    assert_eq!(links(&second, "/customers/").len(), 30);
    let platinum = get("/customers?q=platinum".into()).await;
    assert_eq!(
        links(&platinum, "/customers/"),
        BTreeSet::from(["c0042".to_owned()])
    );
    server.shutdown().await;
}
