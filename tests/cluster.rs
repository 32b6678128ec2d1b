//! Several `forewarn serve` processes on one PostgreSQL schema: loopback HTTP targets that log
//! which prober asked (the `X-Forewarn-Prober` header), the real SMTP server, SIGKILL.

#[path = "support/pg.rs"]
mod pg;
#[path = "support/smtp_server.rs"]
mod smtp_server;
#[path = "support/wait.rs"]
mod wait;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smtp_server::{Received, SmtpServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wait::wait_until;

/// One request a target answered: when, which check (the path), which prober.
#[derive(Debug, Clone)]
struct Hit {
    at: Instant,
    check: String,
    prober: String,
}

/// A loopback HTTP server standing for every site: `/c00`, `/c01`, … Answers 500 when the
/// rule says so for (check, prober region), else 200; logs every request.
#[derive(Clone)]
struct Sites {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    /// (check, region) pairs that fail; `*` matches any.
    failing: Arc<Mutex<HashSet<(String, String)>>>,
}

impl Sites {
    async fn start() -> Sites {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sites = Sites {
            addr: listener.local_addr().unwrap(),
            hits: Arc::default(),
            failing: Arc::default(),
        };
        let s = sites.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).to_string();
                    let check = req
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("/")
                        .trim_start_matches('/')
                        .to_owned();
                    let prober = req
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("x-forewarn-prober")
                                .then(|| value.trim().to_owned())
                        })
                        .unwrap_or_default();
                    let region = prober.split('/').next().unwrap_or_default().to_owned();
                    let fail = {
                        let f = s.failing.lock().unwrap();
                        [
                            (check.clone(), region.clone()),
                            (check.clone(), "*".to_owned()),
                            ("*".to_owned(), region),
                        ]
                        .iter()
                        .any(|k| f.contains(k))
                    };
                    s.hits.lock().unwrap().push(Hit {
                        at: Instant::now(),
                        check,
                        prober,
                    });
                    let (code, body) = if fail {
                        (500, "Internal Server Error")
                    } else {
                        (200, "Welcome")
                    };
                    let resp = format!(
                        "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        sites
    }

    fn fail(&self, check: &str, region: &str) {
        self.failing
            .lock()
            .unwrap()
            .insert((check.to_owned(), region.to_owned()));
    }

    fn heal(&self) {
        self.failing.lock().unwrap().clear();
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

/// A customer file: `n` checks `c00`… on the sites, every second, one per server.
fn write_checks(dir: &Path, sites: &Sites, n: usize) {
    let mut s = "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"ops@acme.example\"]\nlanguage = \"en\"\n".to_owned();
    for i in 0..n {
        s.push_str(&format!(
            "\n[[check]]\nid = \"c{i:02}\"\nname = \"site {i}\"\ninterval = \"1s\"\ntimeout = \"1s\"\n[check.http]\nurl = \"http://{}/c{i:02}\"\n",
            sites.addr
        ));
    }
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(dir.join("checks/acme.toml"), s).unwrap();
}

/// `forewarn serve` as a process; SIGKILLed when dropped (also when an assertion fails).
struct Serve {
    child: std::process::Child,
    name: String,
    config: PathBuf,
    port: u16,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes the instance's forewarn.toml (checks shared in `dir/checks`) and starts it.
fn serve(dir: &Path, db: &pg::PgSchema, smtp: SocketAddr, name: &str, region: &str) -> Serve {
    let own = dir.join(name);
    std::fs::create_dir_all(&own).unwrap();
    let port = free_port();
    let config = own.join("forewarn.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"{}\"\nlisten = \"127.0.0.1:{port}\"\nchecks_dir = \"../checks\"\n\
             public_url = \"https://status.hosting.example/\"\n\
             [mail]\nfrom = \"forewarn@hosting.example\"\nsmtp_url = \"smtp://{smtp}\"\nsecurity = \"none\"\n\
             [ops]\nemail = [\"noc@hosting.example\"]\n\
             [cluster]\ninstance = \"{name}\"\nregion = \"{region}\"\nlease = \"3s\"\nquorum = 2\n",
            db.url()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(own.join("serve.log")).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("RUST_LOG", "info")
        .stderr(log)
        .spawn()
        .unwrap();
    Serve {
        child,
        name: name.to_owned(),
        config,
        port,
    }
}

fn customer_mails(smtp: &SmtpServer) -> Vec<Received> {
    smtp.received()
        .into_iter()
        .filter(|m| !m.recipients.iter().any(|r| r.starts_with("noc@")))
        .collect()
}

fn ops_mails(smtp: &SmtpServer) -> Vec<Received> {
    smtp.received()
        .into_iter()
        .filter(|m| m.recipients.iter().any(|r| r.starts_with("noc@")))
        .collect()
}

/// Subjects of the ops alerts about incidents (not the ops copies of ticket mails).
fn incident_alerts(smtp: &SmtpServer) -> Vec<String> {
    ops_mails(smtp)
        .into_iter()
        .filter_map(|m| m.subject)
        .filter(|s| s.starts_with("[forewarn] incident"))
        .collect()
}

/// `forewarn cluster status [--json]` for the configuration at `config`; it must succeed.
fn cluster_status(config: &Path, json: bool) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"));
    cmd.arg("--config").arg(config).args(["cluster", "status"]);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every check answered for at least one of `probers` since `since`.
fn all_checks_seen(sites: &Sites, n: usize, since: Instant, probers: &[&str]) -> bool {
    let seen: HashSet<(String, String)> = sites
        .hits()
        .into_iter()
        .filter(|h| h.at >= since)
        .map(|h| (h.check, h.prober))
        .collect();
    (0..n).all(|i| {
        probers.iter().all(|p| {
            seen.iter()
                .any(|(c, q)| c == &format!("c{i:02}") && q.ends_with(p))
        })
    })
}

/// Every Message-ID appears once: nothing was delivered twice.
fn assert_each_mail_once(mails: &[Received]) {
    let mut ids = HashSet::new();
    for m in mails {
        let id = m.message_id.clone().expect("a Message-ID");
        assert!(ids.insert(id.clone()), "mail {id} arrived twice");
    }
}

/// Three instances share twelve checks; a site fails (one ticket, one mail); the instance
/// running its check is SIGKILLed; its checks run elsewhere within a lease
/// period; the sites recover (one resolution mail). Across the run every check kept its
/// one-second cadence on one instance at a time and every customer mail arrived once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_checks_survive_a_sigkill_and_mail_once() {
    const N: usize = 12;
    forewarn::probe::install_crypto_provider();
    let db = pg::PgSchema::create("fw_cluster").await;
    let smtp = SmtpServer::start().await;
    let sites = Sites::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_checks(dir.path(), &sites, N);
    let mut instances: Vec<Serve> = ["a", "b", "c"]
        .iter()
        .map(|n| serve(dir.path(), &db, smtp.addr(), n, "default"))
        .collect();
    let t0 = Instant::now();

    // The three share the checks: after a renewal or two each runs some, and all run.
    wait_until(
        "every instance running its share",
        Duration::from_secs(20),
        || {
            let since = Instant::now() - Duration::from_millis(1500);
            let probers: HashSet<String> = sites
                .hits()
                .into_iter()
                .filter(|h| h.at >= since)
                .map(|h| h.prober)
                .collect();
            probers.len() == 3 && all_checks_seen(&sites, N, since, &[""])
        },
    )
    .await;
    eprintln!(
        "three instances sharing {N} checks after {:?}",
        t0.elapsed()
    );

    // A site goes down: one ticket, one customer mail.
    sites.fail("c00", "*");
    wait_until("the opened mail", Duration::from_secs(20), || {
        !customer_mails(&smtp).is_empty()
    })
    .await;
    // Its delivery recorded first: this test is about the checks' takeover. (An instance killed
    // between the relay's acceptance and the record has the mail sent again by the others as
    // soon as it is no longer a live member, with the same Message-ID.)
    let store = forewarn::store::open(&db.url()).await.unwrap();
    let recorded = Instant::now() + Duration::from_secs(10);
    while store
        .outbox(&forewarn::store::OutboxFilter {
            status: Some(forewarn::notify::MessageStatus::Delivered),
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .all(|m| m.ticket.is_none())
    {
        assert!(Instant::now() < recorded, "the delivery is recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // SIGKILL the instance that runs c00 now.
    let owner = sites
        .hits()
        .into_iter()
        .rev()
        .find(|h| h.check == "c00")
        .unwrap()
        .prober;
    let victim = instances
        .iter()
        .position(|s| owner.ends_with(&format!("/{}", s.name)))
        .expect("an instance runs c00");
    let victim_name = instances[victim].name.clone();
    let orphans: Vec<String> = {
        let since = Instant::now() - Duration::from_millis(1500);
        let mut o: Vec<String> = sites
            .hits()
            .into_iter()
            .filter(|h| h.at >= since && h.prober.ends_with(&format!("/{victim_name}")))
            .map(|h| h.check)
            .collect();
        o.sort();
        o.dedup();
        o
    };
    let killed_at = Instant::now();
    drop(instances.remove(victim));
    eprintln!("SIGKILLed {victim_name}, which ran {orphans:?}");

    // Within a lease period (3 s) plus one renewal (1 s) its checks run elsewhere.
    wait_until(
        "the orphaned checks running elsewhere",
        Duration::from_secs(15),
        || {
            let hits = sites.hits();
            orphans.iter().all(|c| {
                hits.iter()
                    .any(|h| &h.check == c && h.at > killed_at && !h.prober.ends_with(&victim_name))
            })
        },
    )
    .await;
    let hits = sites.hits();
    let failover = orphans
        .iter()
        .map(|c| {
            hits.iter()
                .filter(|h| &h.check == c && h.at > killed_at)
                .map(|h| h.at - killed_at)
                .min()
                .unwrap()
        })
        .max()
        .unwrap();
    eprintln!("FAILOVER: the last orphaned check ran elsewhere {failover:?} after the SIGKILL");
    assert!(
        failover < Duration::from_secs(3 + 1 + 2),
        "within a lease period and a renewal (plus a probe): {failover:?}"
    );

    // The takeover neither re-opened nor forgot the problem: still one mail.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = customer_mails(&smtp);
    assert_eq!(
        mails.len(),
        1,
        "no mail from the takeover: {:?}",
        mails
            .iter()
            .map(|m| (&m.subject, &m.text))
            .collect::<Vec<_>>()
    );

    // Recovery: resolved once.
    sites.heal();
    wait_until("the resolved mail", Duration::from_secs(20), || {
        customer_mails(&smtp).len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = customer_mails(&smtp);
    assert_eq!(mails.len(), 2, "opened and resolved, once each: {mails:#?}");
    assert_each_mail_once(&smtp.received());
    let alerts = incident_alerts(&smtp);
    assert_eq!(alerts.len(), 1, "one incident alert: {alerts:?}");

    // Cadence: every healthy check ran about once a second, on one instance at a time (no two
    // runs of a check closer than half its interval), over the whole run.
    let hits = sites.hits();
    let mut by_check: BTreeMap<&str, Vec<&Hit>> = BTreeMap::new();
    for h in &hits {
        by_check.entry(h.check.as_str()).or_default().push(h);
    }
    let span = hits.last().unwrap().at - hits.first().unwrap().at;
    for (check, runs) in &by_check {
        if *check == "c00" {
            continue; // a failing check is also re-run once to confirm it
        }
        for w in runs.windows(2) {
            let gap = w[1].at - w[0].at;
            assert!(
                gap >= Duration::from_millis(500),
                "{check} ran twice within {gap:?} ({} then {})",
                w[0].prober,
                w[1].prober
            );
        }
        let expected = span.as_secs_f64();
        // Missed rounds: at most the failover gap and the first sharing out.
        assert!(
            runs.len() as f64 >= expected - 8.0,
            "{check}: {} runs in {expected:.0} s",
            runs.len()
        );
    }

    // Membership is visible: the CLI and /metrics see two live members of three.
    let status: serde_json::Value =
        serde_json::from_str(&cluster_status(&instances[0].config, true)).unwrap();
    let members = status["members"].as_array().unwrap();
    let alive: Vec<&str> = members
        .iter()
        .filter(|m| m["alive"] == true)
        .map(|m| m["instance"].as_str().unwrap())
        .collect();
    assert_eq!(alive.len(), 2, "{status:#}");
    assert!(!alive.contains(&victim_name.as_str()));
    let leases: u64 = members.iter().map(|m| m["leases"].as_u64().unwrap()).sum();
    assert_eq!(leases, N as u64, "{status:#}");
    let table = cluster_status(&instances[0].config, false);
    eprintln!("{table}");
    assert!(table.contains("INSTANCE") && table.contains(&victim_name));
    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", instances[0].port))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("forewarn_cluster_members 2"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("cluster"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(metrics.contains("forewarn_cluster_leases_held"));
}

/// The two-region scene: instance eu-1 in region eu, us-1 in us, `n` checks, both probing.
struct TwoRegions {
    db: pg::PgSchema,
    smtp: SmtpServer,
    sites: Sites,
    _dir: tempfile::TempDir,
    _eu: Serve,
    _us: Serve,
}

async fn two_regions(n: usize) -> TwoRegions {
    forewarn::probe::install_crypto_provider();
    let db = pg::PgSchema::create("fw_cluster").await;
    let smtp = SmtpServer::start().await;
    let sites = Sites::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_checks(dir.path(), &sites, n);
    let eu = serve(dir.path(), &db, smtp.addr(), "eu-1", "eu");
    let us = serve(dir.path(), &db, smtp.addr(), "us-1", "us");
    let started = Instant::now();
    wait_until("both regions probing", Duration::from_secs(20), || {
        all_checks_seen(&sites, n, started, &["/eu-1", "/us-1"])
    })
    .await;
    TwoRegions {
        db,
        smtp,
        sites,
        _dir: dir,
        _eu: eu,
        _us: us,
    }
}

/// Two regions; only `eu` sees a site failing: ops hear of it, the customer does not. When
/// `us` sees it too (quorum 2), the customer gets one ticket and one mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_seen_from_one_region_opens_no_customer_ticket() {
    const N: usize = 4;
    let scene = two_regions(N).await;
    let (db, smtp, sites) = (&scene.db, &scene.smtp, &scene.sites);
    // Each region runs every check.
    sites.fail("c00", "eu");
    wait_until("the ops alert from eu", Duration::from_secs(20), || {
        !ops_mails(smtp).is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        customer_mails(smtp).is_empty(),
        "one region is not enough for the customer"
    );
    let store = forewarn::store::open(&db.url()).await.unwrap();
    let tickets = store
        .tickets(&forewarn::store::TicketFilter::default())
        .await
        .unwrap();
    assert!(tickets.is_empty(), "{tickets:?}");

    // The other region sees it too: quorum, one ticket, one mail.
    sites.fail("c00", "us");
    wait_until("the customer mail", Duration::from_secs(20), || {
        !customer_mails(smtp).is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(customer_mails(smtp).len(), 1);
    assert_eq!(
        store
            .tickets(&forewarn::store::TicketFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    let alerts = incident_alerts(smtp);
    assert_eq!(alerts.len(), 1, "ops were alerted once: {alerts:?}");
    assert_each_mail_once(&smtp.received());
}

/// Two regions; `eu` cannot reach anything (every site fails from there) while `us` sees all
/// of them working: one ops notice about the eu prober, no incident flood, no customer ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_prober_raises_one_ops_notice_and_no_tickets() {
    const N: usize = 5;
    let scene = two_regions(N).await;
    let (db, smtp, sites) = (&scene.db, &scene.smtp, &scene.sites);
    sites.fail("*", "eu");
    wait_until("the ops notice", Duration::from_secs(20), || {
        !ops_mails(smtp).is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ops = ops_mails(smtp);
    assert_eq!(
        ops.len(),
        1,
        "one notice, not one alert per site: {:?}",
        ops.iter().map(|m| m.subject.clone()).collect::<Vec<_>>()
    );
    let subject = ops[0].subject.clone().unwrap_or_default();
    assert!(subject.contains("prober eu-1"), "{subject}");
    assert!(customer_mails(smtp).is_empty());
    let store = forewarn::store::open(&db.url()).await.unwrap();
    assert!(
        store
            .tickets(&forewarn::store::TicketFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.open_incidents().await.unwrap().is_empty());
}

/// On SQLite there is one instance and no leases: `cluster status` says it runs every check
/// instead of reporting them all as unowned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_cluster_status_shows_one_instance_running_every_check() {
    forewarn::probe::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(
        dir.path().join("forewarn.toml"),
        "database = \"sqlite://data/forewarn.db\"\n[cluster]\ninstance = \"solo\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks/a.toml"),
        "[customer]\nid = \"a\"\nname = \"A\"\n\n\
         [[check]]\nid = \"a1\"\ninterval = \"1h\"\n[check.http]\nurl = \"http://127.0.0.1:9/\"\n\n\
         [[check]]\nid = \"a2\"\ninterval = \"1h\"\n[check.http]\nurl = \"http://127.0.0.1:9/\"\n",
    )
    .unwrap();
    let path = dir.path().join("forewarn.toml");
    let config = forewarn::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = forewarn::server::start(config, path.clone(), listener)
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&cluster_status(&path, true)).unwrap();
    assert_eq!(v["single_instance"], true, "{v:#}");
    assert_eq!(v["unowned"], 0, "{v:#}");
    assert_eq!(v["members"][0]["instance"], "solo", "{v:#}");
    assert_eq!(v["members"][0]["leases"], 2, "{v:#}");
    let table = cluster_status(&path, false);
    assert!(table.contains("all run by the one instance"), "{table}");
    server.shutdown().await;
}
