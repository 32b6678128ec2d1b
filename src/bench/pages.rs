//! `forewarn bench-pages`: the staff and customer pages at a hosting company's scale, measured.
//!
//! It writes a throw-away configuration with `--customers` customers sharing `--checks` checks
//! (scheduled once a year, so nothing is probed while it measures), starts the real server on
//! it, records a state for every check (one in ten failing), and works `--tickets` tickets
//! through the ticket service as staff would over the last 60 days (opened by the customer,
//! acknowledged, updated, two in three resolved). Then it signs in as staff and requests each
//! page `--requests` times, one after another, and prints p50, p95, the slowest and the size of
//! each against the 300 ms budget. Everything stays on 127.0.0.1 and in a temp directory.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use clap::Args;
use serde::Serialize;

use crate::model::{CheckId, CheckResult, CustomerId};
use crate::probe::{Failure, Kind, Outcome, Status};
use crate::ticket::{Actor, Resolution, TicketId};
use crate::token::Purpose;

/// The budget each page is held to (issue 13).
pub const BUDGET: Duration = Duration::from_millis(300);

#[derive(Args, Debug, Clone)]
pub struct PagesArgs {
    /// Tickets to work through the ticket service before measuring.
    #[arg(long, default_value_t = 10_000)]
    pub tickets: usize,
    /// Checks in the configuration, each with a recorded state.
    #[arg(long, default_value_t = 100_000)]
    pub checks: usize,
    /// Customers the checks and tickets are spread over.
    #[arg(long, default_value_t = 1_000)]
    pub customers: usize,
    /// Requests per page.
    #[arg(long, default_value_t = 20)]
    pub requests: usize,
    /// The database: a PostgreSQL URL naming an empty database (it is filled and left as it
    /// is); default a SQLite file in the temp directory.
    #[arg(long)]
    pub database: Option<String>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    /// Keep the configuration and SQLite database in this directory instead of a temp one; a
    /// later run with the same sizes reuses them and skips the seeding (minutes at the default
    /// sizes), so a change to a page can be measured again quickly.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<std::path::PathBuf>,
}

/// What a kept directory was seeded with (`seeded.json`), so a later run can reuse it.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
struct Seeded {
    customers: usize,
    checks: usize,
    tickets: usize,
    sample_ticket: i64,
    sample_customer: String,
}

/// One page's figures.
#[derive(Debug, Clone, Serialize)]
pub struct PageFigures {
    pub page: String,
    pub path: String,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    pub bytes: usize,
    pub within_budget: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    customers: usize,
    checks: usize,
    tickets: usize,
    requests_per_page: usize,
    database: &'static str,
    config_load_s: f64,
    seed_s: f64,
    pages: Vec<PageFigures>,
}

pub async fn run(args: PagesArgs) -> anyhow::Result<bool> {
    if args.customers == 0 || args.checks < args.customers || args.requests == 0 {
        bail!(
            "--customers must be at least 1, --checks at least --customers, --requests at least 1"
        );
    }
    crate::probe::install_crypto_provider();
    let temp;
    let dir: &Path = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("--keep {}: cannot create it", dir.display()))?;
            dir
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("forewarn-bench-pages-")
                .tempdir()?;
            temp.path()
        }
    };
    let seeded_path = dir.join("seeded.json");
    let reuse: Option<Seeded> = std::fs::read(&seeded_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Seeded>(&b).ok())
        .filter(|s| {
            args.database.is_none()
                && (s.customers, s.checks, s.tickets) == (args.customers, args.checks, args.tickets)
        });
    if reuse.is_none() {
        // A kept directory seeded with other sizes starts again from an empty database.
        let _ = std::fs::remove_dir_all(dir.join("data"));
        let _ = std::fs::remove_file(&seeded_path);
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| "sqlite://data/forewarn.db".to_owned());
    progress(&format!(
        "writing {} customers with {} checks into {}",
        args.customers,
        args.checks,
        dir.display()
    ));
    let config_path = write_config(dir, &args, &database, addr)?;
    let loading = Instant::now();
    let config = crate::config::load(&config_path)
        .map_err(|d| anyhow::anyhow!("the generated configuration is invalid:\n{d}"))?;
    let config_load = loading.elapsed();
    progress(&format!(
        "configuration loaded in {:.1} s; starting the server on {addr}",
        config_load.as_secs_f64()
    ));
    let mut signing = config.clone();
    let server = crate::server::start(config, config_path, listener).await?;
    let seeding = Instant::now();
    let (sample, customer) = match reuse {
        Some(s) => {
            progress(&format!("reusing the database seeded in {}", dir.display()));
            (
                TicketId(s.sample_ticket),
                CustomerId::parse(&s.sample_customer).map_err(anyhow::Error::msg)?,
            )
        }
        None => {
            record_states(&server, &signing.checks, &args).await?;
            let (sample, customer) = work_tickets(&server, &args).await?;
            if args.keep.is_some() && args.database.is_none() {
                let seeded = Seeded {
                    customers: args.customers,
                    checks: args.checks,
                    tickets: args.tickets,
                    sample_ticket: sample.0,
                    sample_customer: customer.to_string(),
                };
                std::fs::write(&seeded_path, serde_json::to_vec(&seeded)?)?;
            }
            (sample, customer)
        }
    };
    let seed = seeding.elapsed();

    let base = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = sign_in(&server, &client, &base).await?;
    crate::token::ensure_secret(&mut signing, server.store.as_ref()).await?;
    let signer =
        crate::token::Signer::from_config(&signing).context("the server's link-signing key")?;
    let expires = Utc::now() + chrono::Duration::hours(1);
    let checks_link = signer.sign(Purpose::ChecksView, &customer, 0, "", expires);
    let ticket_link = signer.sign(Purpose::TicketView, &customer, sample.0, "", expires);
    let pages: Vec<(&str, String, bool)> = vec![
        ("queue", "/".into(), true),
        ("queue, page 20", "/?page=20".into(), true),
        ("search by words", "/?q=checkout".into(), true),
        ("search by customer", format!("/?q={customer}"), true),
        ("ticket", format!("/tickets/{}", sample.0), true),
        ("KPIs, 30 days", "/kpis?since=30d".into(), true),
        ("KPIs, 90 days", "/kpis?since=90d".into(), true),
        ("customers", "/customers".into(), true),
        ("customer (staff)", format!("/customers/{customer}"), true),
        ("checks", "/checks".into(), true),
        ("incidents", "/incidents".into(), true),
        ("surveys", "/surveys".into(), true),
        ("API tickets, 100", "/api/v1/tickets?limit=100".into(), true),
        (
            "customer checks page",
            format!("/c/checks/{checks_link}"),
            false,
        ),
        ("customer ticket page", format!("/c/t/{ticket_link}"), false),
    ];
    let mut figures = Vec::new();
    for (name, path, staff) in pages {
        progress(&format!("measuring {name} ({path})"));
        figures.push(
            measure(
                &client,
                &base,
                name,
                &path,
                staff.then_some(&cookie),
                args.requests,
            )
            .await?,
        );
    }
    server.shutdown().await;
    let report = Report {
        customers: args.customers,
        checks: args.checks,
        tickets: args.tickets,
        requests_per_page: args.requests,
        database: if database.starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        },
        config_load_s: config_load.as_secs_f64(),
        seed_s: seed.as_secs_f64(),
        pages: figures,
    };
    let all_within = report.pages.iter().all(|p| p.within_budget);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(all_within)
}

fn progress(what: &str) {
    eprintln!("[bench-pages {}] {what}", Utc::now().format("%H:%M:%S"));
}

fn customer_id(i: usize) -> String {
    format!("c{i:05}")
}

fn write_config(
    dir: &Path,
    args: &PagesArgs,
    database: &str,
    addr: std::net::SocketAddr,
) -> anyhow::Result<std::path::PathBuf> {
    let checks_dir = dir.join("checks");
    std::fs::create_dir_all(&checks_dir)?;
    std::fs::write(
        dir.join("staff.token"),
        "bench-pages-staff-token-0123456789\n",
    )?;
    let path = dir.join("forewarn.toml");
    std::fs::write(
        &path,
        format!(
            "database = \"{database}\"\nlisten = \"{addr}\"\npublic_url = \"http://{addr}/\"\n\
             checks_dir = \"checks\"\n[web]\nstaff_token = {{ file = \"staff.token\" }}\n"
        ),
    )?;
    let tiers = ["gold", "silver", "standard"];
    let plans = ["shared-start", "business", "vps-2", "dedicated"];
    for c in 0..args.customers {
        let id = customer_id(c);
        let language = if c % 3 == 0 { "ru" } else { "en" };
        let mut text = format!(
            "[customer]\nid = \"{id}\"\nname = \"Customer {c}\"\nlanguage = \"{language}\"\n\
             tier = \"{}\"\nplan = \"{}\"\nservers = [\"web-{c}\"]\n\
             contacts = [{{ name = \"Ops {c}\", email = \"ops@{id}.example\", phone = \"+44 20 7946 {:04}\" }}]\n",
            tiers[c % tiers.len()],
            plans[c % plans.len()],
            c % 10_000
        );
        // The checks, spread evenly; the first customers take the remainder.
        let n = args.checks / args.customers + usize::from(c < args.checks % args.customers);
        for k in 0..n {
            text.push_str(&format!(
                "\n[[check]]\nid = \"{id}-w{k:04}\"\nname = \"Site {k} of customer {c}\"\n\
                 server = \"web-{c}\"\ncron = \"0 0 1 1 *\"\n[check.http]\nurl = \"http://127.0.0.1:9/{k}\"\n"
            ));
        }
        std::fs::write(checks_dir.join(format!("{id}.toml")), text)?;
    }
    Ok(path)
}

/// A state for every check: one in ten failing.
async fn record_states(
    server: &crate::server::RunningServer,
    checks: &[crate::config::Check],
    args: &PagesArgs,
) -> anyhow::Result<()> {
    let now = Utc::now();
    for (i, batch) in checks.chunks(2_000).enumerate() {
        let results: Vec<CheckResult> = batch
            .iter()
            .enumerate()
            .map(|(k, check)| {
                let failing = (i * 2_000 + k) % 10 == 0;
                CheckResult {
                    check_id: check.id.clone(),
                    customer_id: check.customer.clone(),
                    kind: Kind::Http,
                    planned_at: now,
                    started_at: now,
                    outcome: if failing {
                        Outcome::failed(
                            Failure::Connect,
                            Status::Critical,
                            "connection refused",
                            Duration::from_millis(1),
                            BTreeMap::new(),
                        )
                    } else {
                        Outcome::from_conditions(
                            "HTTP 200 in 12 ms",
                            Duration::from_millis(12),
                            Vec::new(),
                            BTreeMap::new(),
                        )
                    },
                }
            })
            .collect();
        server.store.record(&results).await?;
    }
    progress(&format!("{} check states recorded", args.checks));
    Ok(())
}

/// Tickets worked as staff would, oldest first over the last 60 days. Returns a ticket with a
/// long timeline and its customer.
async fn work_tickets(
    server: &crate::server::RunningServer,
    args: &PagesArgs,
) -> anyhow::Result<(TicketId, CustomerId)> {
    let now = Utc::now();
    let span = chrono::Duration::days(60);
    let titles = [
        "Checkout fails with an error",
        "Mail does not arrive",
        "Site is slow in the evening",
        "Cannot log in to the control panel",
        "Certificate warning in the browser",
    ];
    let mut sample = None;
    let started = Instant::now();
    for i in 0..args.tickets {
        let c = i % args.customers;
        let customer = CustomerId::parse(&customer_id(c)).map_err(anyhow::Error::msg)?;
        let opened = now - span + span * i32::try_from(i)? / i32::try_from(args.tickets.max(1))?;
        let check =
            CheckId::parse(&format!("{}-w0000", customer_id(c))).map_err(anyhow::Error::msg)?;
        let id = server
            .tickets
            .customer_request(
                &customer,
                titles[i % titles.len()],
                "It started an hour ago; our customers are complaining.",
                vec![check],
                opened,
            )
            .await?;
        let engineer = Actor::Staff(format!("engineer{}", i % 7));
        let minutes = |m: i64| opened + chrono::Duration::minutes(m);
        server
            .tickets
            .acknowledge(id, engineer.clone(), minutes(4))
            .await?;
        server
            .tickets
            .update(
                id,
                engineer.clone(),
                "We found the cause and are fixing it.",
                Some(Duration::from_secs(3600)),
                false,
                minutes(20),
            )
            .await?;
        if i % 3 != 0 && opened < now - chrono::Duration::hours(2) {
            server
                .tickets
                .resolve(
                    id,
                    engineer,
                    Resolution {
                        cause: "A full disk on the web server".into(),
                        action: "Old logs removed and rotation fixed".into(),
                        fully_solved: true,
                        prevention: "Disk alerts at 80 %".into(),
                        options: Vec::new(),
                        resolved_while_failing: Some("the bench's checks never run".into()),
                    },
                    minutes(90),
                )
                .await?;
        } else if sample.is_none() {
            sample = Some((id, customer));
        }
        if (i + 1) % 1_000 == 0 {
            progress(&format!(
                "{} of {} tickets worked ({:.0} s)",
                i + 1,
                args.tickets,
                started.elapsed().as_secs_f64()
            ));
        }
    }
    sample.context("no open ticket: use --tickets 1 or more")
}

async fn sign_in(
    server: &crate::server::RunningServer,
    client: &reqwest::Client,
    base: &str,
) -> anyhow::Result<String> {
    const PASSWORD: &str = "bench pages password 0123456789";
    // A kept database (`--keep`) has the user from its first run.
    if server.store.user("bench").await?.is_none() {
        server
            .store
            .create_user(
                crate::store::NewUser {
                    name: "bench".into(),
                    display_name: "Bench Staff".into(),
                    role: crate::store::Role::Admin,
                    password_hash: crate::store::users::hash_password(PASSWORD)
                        .map_err(|e| anyhow::anyhow!("hashing the bench password: {e}"))?,
                },
                Utc::now(),
            )
            .await?;
    }
    let r = client
        .post(format!("{base}/login"))
        .form(&[("name", "bench"), ("password", PASSWORD)])
        .send()
        .await?;
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("signing in gave no session cookie")?;
    Ok(cookie.to_owned())
}

async fn measure(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    path: &str,
    cookie: Option<&String>,
    requests: usize,
) -> anyhow::Result<PageFigures> {
    let mut times = Vec::with_capacity(requests);
    let mut bytes = 0;
    for _ in 0..requests {
        let mut req = client.get(format!("{base}{path}"));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if path.starts_with("/api/") {
            req = req.bearer_auth("bench-pages-staff-token-0123456789");
        }
        let t = Instant::now();
        let r = req.send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        times.push(t.elapsed());
        if !status.is_success() {
            bail!("{name} ({path}) answered {status}");
        }
        bytes = body.len();
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    let p95 = at(0.95);
    Ok(PageFigures {
        page: name.to_owned(),
        path: path.to_owned(),
        p50_ms: ms(at(0.5)),
        p95_ms: ms(p95),
        max_ms: ms(*times.last().expect("at least one request")),
        bytes,
        within_budget: p95 <= BUDGET,
    })
}

fn print_report(r: &Report) {
    println!(
        "{} customers, {} checks, {} tickets on {}; configuration loaded in {:.1} s, data written in {:.0} s; {} requests per page\n",
        r.customers,
        r.checks,
        r.tickets,
        r.database,
        r.config_load_s,
        r.seed_s,
        r.requests_per_page
    );
    let rows: Vec<Vec<String>> = r
        .pages
        .iter()
        .map(|p| {
            vec![
                p.page.clone(),
                format!("{:.0}", p.p50_ms),
                format!("{:.0}", p.p95_ms),
                format!("{:.0}", p.max_ms),
                format!("{:.0}", p.bytes as f64 / 1024.0),
                if p.within_budget { "yes" } else { "NO" }.to_owned(),
            ]
        })
        .collect();
    print!(
        "{}",
        crate::cli::table::render(
            &["PAGE", "P50 MS", "P95 MS", "MAX MS", "KB", "P95 ≤ 300 MS"],
            &rows
        )
    );
}
