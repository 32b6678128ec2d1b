//! The IMAP fetch loop against a real Dovecot on loopback (`tests/support/imap.rs`).

#[path = "support/imap.rs"]
mod imap;
#[path = "support/tls_servers.rs"]
mod tls_servers;

use imap::{Dovecot, message};

/// The harness itself: Dovecot starts, stores a message, and gives it back.
#[tokio::test]
async fn dovecot_starts_and_stores_a_message() {
    let server = Dovecot::start();
    let raw = message("smoke test", "hello");
    server.append("INBOX", &raw).await;
    let inbox = server.list("INBOX").await;
    assert_eq!(inbox, vec![raw], "{}", server.logs());
    assert!(server.list("Processed").await.is_empty());
}

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use forewarn::config::{ImapServer, Inbound, MailSource, TlsMode};
use forewarn::inbound::{self, Context, Fetched, Intake, Taken};
use forewarn::secret::Secret;

/// One call of the intake: the UID, when, and what it answered.
type Call = (u32, Instant, Result<Taken, String>);

/// An intake that records what it took, by (UIDVALIDITY, UID) like the real one.
#[derive(Default)]
struct Recorder {
    /// Every call: (uid, when, what it answered).
    calls: Mutex<Vec<Call>>,
    /// Taken messages (UIDVALIDITY, UID): answered `AlreadyTaken` afterwards.
    seen: Mutex<HashSet<(u32, u32)>>,
    /// Messages taken, with their bytes.
    taken: Mutex<Vec<Vec<u8>>>,
    /// Refuse every message (`Err`) while set.
    refuse: Mutex<bool>,
    /// Record the message, then fail as a process would that died before the move.
    die_after_record: Mutex<bool>,
    /// How long each take lasts (a slow store).
    slow: Duration,
}

#[async_trait::async_trait]
impl Intake for Recorder {
    async fn take(&self, f: &Fetched) -> anyhow::Result<Taken> {
        tokio::time::sleep(self.slow).await;
        let answer = if *self.refuse.lock().unwrap() {
            Err("the store is down".to_owned())
        } else if !self.seen.lock().unwrap().insert((f.uidvalidity, f.uid)) {
            Ok(Taken::AlreadyTaken)
        } else {
            self.taken.lock().unwrap().push(f.raw.clone());
            if *self.die_after_record.lock().unwrap() {
                Err("died after recording".to_owned())
            } else {
                Ok(Taken::Unmatched)
            }
        };
        self.calls
            .lock()
            .unwrap()
            .push((f.uid, Instant::now(), answer.clone()));
        answer.map_err(anyhow::Error::msg)
    }
}

impl Recorder {
    fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    fn taken(&self) -> Vec<Vec<u8>> {
        self.taken.lock().unwrap().clone()
    }
}

/// The test user's INBOX over plain IMAP on loopback.
fn plain_mailbox(server: &Dovecot, name: &str, idle: bool, poll: Duration) -> Inbound {
    Inbound {
        name: name.to_owned(),
        source: MailSource::Imap(ImapServer {
            server: "127.0.0.1".to_owned(),
            port: server.addr.port(),
            tls: TlsMode::None,
            ca_file: None,
            user: imap::USER.to_owned(),
            password: Secret::new(imap::PASSWORD),
            idle,
        }),
        folder: "INBOX".to_owned(),
        processed_folder: "Processed".to_owned(),
        poll_interval: poll,
        keep_original: forewarn::config::inbound::KEEP_ORIGINAL,
        requests_per_hour: 20,
    }
}

/// The IMAP server of a mailbox made by [`plain_mailbox`], to change.
fn imap_of(m: &mut Inbound) -> &mut ImapServer {
    match &mut m.source {
        MailSource::Imap(s) => s,
        MailSource::Directory(_) => unreachable!("plain_mailbox is IMAP"),
    }
}

/// A running fetch loop; `stop` ends it (bounded).
struct Loop {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    _store_dir: tempfile::TempDir,
}

impl Loop {
    async fn start(
        server: &Dovecot,
        name: &str,
        intake: Arc<Recorder>,
        idle: bool,
        poll: Duration,
    ) -> Loop {
        let mailbox = plain_mailbox(server, name, idle, poll);
        Loop::start_mailbox(mailbox, intake).await
    }

    async fn start_mailbox(mailbox: Inbound, intake: Arc<Recorder>) -> Loop {
        let (store, dir) = sqlite_store().await;
        Loop::start_on(store, dir, "test-instance", mailbox, intake)
    }

    fn start_on(
        store: Arc<dyn forewarn::store::Store>,
        dir: tempfile::TempDir,
        instance: &str,
        mailbox: Inbound,
        intake: Arc<Recorder>,
    ) -> Loop {
        let ctx = Context {
            store,
            instance: instance.to_owned(),
            lease_every: Duration::from_millis(200),
            metrics: forewarn::metrics::Metrics::new(),
        };
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(inbound::run(ctx, vec![mailbox], intake, stop_rx));
        Loop {
            stop,
            task,
            _store_dir: dir,
        }
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the fetch loop stops within 10 s")
            .unwrap();
    }
}

async fn sqlite_store() -> (Arc<dyn forewarn::store::Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = forewarn::store::open(&format!(
        "sqlite://{}/data/forewarn.db",
        dir.path().display()
    ))
    .await
    .unwrap();
    (store, dir)
}

/// Waits (at most `limit`) until `f` holds, checking every 50 ms.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the mailbox finished a round (it is idling or sleeping then).
async fn first_round(name: &str) {
    eventually("the first round", Duration::from_secs(15), || async {
        inbound::status()
            .iter()
            .any(|s| s.name == name && s.last_fetch.is_some())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_messages_are_taken_once_and_moved_to_processed() {
    let server = Dovecot::start();
    let (a, b) = (message("first", "one"), message("second", "two"));
    server.append("INBOX", &a).await;
    server.append("INBOX", &b).await;
    let intake = Arc::new(Recorder::default());
    let l = Loop::start(
        &server,
        "two",
        intake.clone(),
        true,
        Duration::from_secs(60),
    )
    .await;
    eventually("both moved", Duration::from_secs(15), || async {
        server.list("Processed").await.len() == 2
    })
    .await;
    assert_eq!(intake.taken(), vec![a.clone(), b.clone()]);
    assert!(server.list("INBOX").await.is_empty());
    assert_eq!(server.list("Processed").await, vec![a, b]);
    // Another round (a new message) takes nothing twice.
    let c = message("third", "three");
    server.append("INBOX", &c).await;
    eventually("the third moved", Duration::from_secs(15), || async {
        server.list("Processed").await.len() == 3
    })
    .await;
    assert_eq!(intake.calls(), 3, "each message handed over once");
    let status = inbound::status()
        .into_iter()
        .find(|s| s.name == "two")
        .unwrap();
    assert_eq!(status.fetched, 3);
    assert_eq!(status.taken.get("unmatched"), Some(&3));
    l.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_intake_fails_on_stays_and_is_tried_again() {
    let server = Dovecot::start();
    let m = message("refused at first", "body");
    server.append("INBOX", &m).await;
    let intake = Arc::new(Recorder::default());
    *intake.refuse.lock().unwrap() = true;
    let l = Loop::start(
        &server,
        "retry",
        intake.clone(),
        true,
        Duration::from_secs(1),
    )
    .await;
    eventually("two refused tries", Duration::from_secs(15), || async {
        intake.calls() >= 2
    })
    .await;
    assert_eq!(
        server.list("INBOX").await,
        vec![m.clone()],
        "still in INBOX"
    );
    assert!(server.list("Processed").await.is_empty());
    let status = inbound::status()
        .into_iter()
        .find(|s| s.name == "retry")
        .unwrap();
    assert!(status.errors >= 2, "{status:?}");
    assert!(status.last_error.unwrap().1.contains("the store is down"));
    *intake.refuse.lock().unwrap() = false;
    eventually("taken and moved", Duration::from_secs(15), || async {
        server.list("Processed").await.len() == 1
    })
    .await;
    assert_eq!(intake.taken(), vec![m]);
    assert!(server.list("INBOX").await.is_empty());
    l.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_nothing_is_taken_twice() {
    let server = Dovecot::start();
    let (a, b) = (message("before", "a"), message("during", "b"));
    server.append("INBOX", &a).await;
    let intake = Arc::new(Recorder::default());
    let first = Loop::start(
        &server,
        "restart",
        intake.clone(),
        true,
        Duration::from_secs(1),
    )
    .await;
    eventually("a moved", Duration::from_secs(15), || async {
        server.list("Processed").await.len() == 1
    })
    .await;
    // b is recorded by the intake, but the process "dies" before the move.
    *intake.die_after_record.lock().unwrap() = true;
    server.append("INBOX", &b).await;
    eventually("b recorded", Duration::from_secs(15), || async {
        intake.taken().len() == 2
    })
    .await;
    first.stop().await;
    assert_eq!(server.list("INBOX").await, vec![b.clone()]);
    *intake.die_after_record.lock().unwrap() = false;
    let second = Loop::start(
        &server,
        "restart",
        intake.clone(),
        true,
        Duration::from_secs(1),
    )
    .await;
    eventually("b moved", Duration::from_secs(15), || async {
        server.list("Processed").await.len() == 2
    })
    .await;
    assert_eq!(intake.taken(), vec![a, b], "each message taken once");
    let last = intake.calls.lock().unwrap().last().unwrap().2.clone();
    assert_eq!(last, Ok(Taken::AlreadyTaken));
    assert!(server.list("INBOX").await.is_empty());
    second.stop().await;
}

/// Appends a message to a mailbox the loop waits on and returns the time until `take`.
async fn append_to_take(server: &Dovecot, name: &str, idle: bool) -> Duration {
    let intake = Arc::new(Recorder::default());
    let l = Loop::start(server, name, intake.clone(), idle, Duration::from_secs(1)).await;
    first_round(name).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let appended = Instant::now();
    server.append("INBOX", &message(name, "new")).await;
    eventually("taken", Duration::from_secs(10), || async {
        intake.calls() == 1
    })
    .await;
    let took = intake.calls.lock().unwrap()[0].1 - appended;
    l.stop().await;
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_appended_while_idling_is_taken_at_once() {
    let server = Dovecot::start();
    let took = append_to_take(&server, "idle", true).await;
    println!("IDLE: APPEND -> take in {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_idle_polling_takes_it_within_the_interval() {
    let server = Dovecot::start();
    let took = append_to_take(&server, "poll", false).await;
    println!("poll (1s): APPEND -> take in {took:?}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// IMAPS and STARTTLS with a private CA (`ca_file`); a server whose certificate the CA did not
/// sign is refused before LOGIN, and the error is in the status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_starttls_with_a_private_ca() {
    forewarn::probe::install_crypto_provider();
    let pki = tls_servers::Pki::new();
    let id = pki.leaf(tls_servers::Leaf::Valid);
    let server = Dovecot::start_tls(
        &pem("CERTIFICATE", &id.chain[0]),
        &pem("PRIVATE KEY", id.key.secret_der()),
    );
    for (name, mode, port) in [
        ("tls", TlsMode::Tls, server.tls_addr.unwrap().port()),
        ("starttls", TlsMode::StartTls, server.addr.port()),
    ] {
        let m = message(name, "over TLS");
        server.append("INBOX", &m).await;
        let mut mailbox = plain_mailbox(&server, name, true, Duration::from_secs(1));
        let imap = imap_of(&mut mailbox);
        imap.tls = mode;
        imap.port = port;
        imap.ca_file = Some(pki.ca_file.clone());
        let intake = Arc::new(Recorder::default());
        let l = Loop::start_mailbox(mailbox, intake.clone()).await;
        eventually(name, Duration::from_secs(15), || async {
            intake.taken().len() == 1
        })
        .await;
        assert_eq!(intake.taken(), vec![m], "{name}");
        l.stop().await;
    }
    // Another CA: refused, nothing taken, the error told.
    let other = tls_servers::Pki::new();
    server.append("INBOX", &message("untrusted", "x")).await;
    let mut mailbox = plain_mailbox(&server, "untrusted", true, Duration::from_secs(1));
    let imap = imap_of(&mut mailbox);
    imap.tls = TlsMode::Tls;
    imap.port = server.tls_addr.unwrap().port();
    imap.ca_file = Some(other.ca_file.clone());
    let intake = Arc::new(Recorder::default());
    let l = Loop::start_mailbox(mailbox, intake.clone()).await;
    eventually("the TLS error", Duration::from_secs(15), || async {
        inbound::status()
            .iter()
            .any(|s| s.name == "untrusted" && s.errors > 0)
    })
    .await;
    let status = inbound::status()
        .into_iter()
        .find(|s| s.name == "untrusted")
        .unwrap();
    let error = status.last_error.unwrap().1;
    assert!(error.starts_with("TLS:"), "{error}");
    assert_eq!(intake.calls(), 0);
    l.stop().await;
}

/// A server without MOVE (and without UIDPLUS): COPY, \\Deleted and EXPUNGE instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_move_copy_store_and_expunge_do_it() {
    for (name, caps) in [
        ("nomove", "IMAP4rev1 IDLE UIDPLUS"),
        ("nouidplus", "IMAP4rev1 IDLE"),
    ] {
        let server = Dovecot::start_with_config(&format!("imap_capability = {caps}"));
        let (a, b) = (message("one", "1"), message("two", "2"));
        server.append("INBOX", &a).await;
        server.append("INBOX", &b).await;
        let intake = Arc::new(Recorder::default());
        let l = Loop::start(&server, name, intake.clone(), true, Duration::from_secs(1)).await;
        eventually(name, Duration::from_secs(15), || async {
            server.list("Processed").await.len() == 2
        })
        .await;
        assert!(server.list("INBOX").await.is_empty(), "{name}");
        assert_eq!(intake.taken(), vec![a.clone(), b.clone()], "{name}");
        assert_eq!(intake.calls(), 2, "{name}");
        l.stop().await;
        // Dovecot's session summary: two messages flagged \\Deleted by STORE, two expunged.
        eventually("the session summary", Duration::from_secs(5), || async {
            server.logs().contains("deleted=2 expunged=2")
        })
        .await;
    }
}

/// The server goes away and comes back: the loop reconnects (with backoff) and takes what
/// arrived; the outage is counted and told in the status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_reconnects_after_the_server_comes_back() {
    let mut server = Dovecot::start();
    let intake = Arc::new(Recorder::default());
    let l = Loop::start(
        &server,
        "reconnect",
        intake.clone(),
        true,
        Duration::from_secs(1),
    )
    .await;
    first_round("reconnect").await;
    let errors = || {
        inbound::status()
            .into_iter()
            .find(|s| s.name == "reconnect")
            .map_or(0, |s| s.errors)
    };
    assert_eq!(errors(), 0);
    server.stop();
    eventually("the error", Duration::from_secs(10), || async {
        errors() > 0
    })
    .await;
    server.restart();
    let m = message("after the outage", "back");
    server.append("INBOX", &m).await;
    eventually(
        "taken after reconnecting",
        Duration::from_secs(20),
        || async { intake.taken().len() == 1 },
    )
    .await;
    assert_eq!(intake.taken(), vec![m]);
    eventually("moved", Duration::from_secs(10), || async {
        server.list("Processed").await.len() == 1
    })
    .await;
    l.stop().await;
}

/// Two instances on one store: one fetches the mailbox (job lease `inbound:<name>`), the other
/// never hands a message over; when the fetching one stops, the other takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_fetch_one_mailbox_once() {
    let server = Dovecot::start();
    for i in 0..3 {
        server
            .append("INBOX", &message(&format!("shared {i}"), "x"))
            .await;
    }
    let (store, dir) = sqlite_store().await;
    // Slow takes: two instances fetching at once would both hand messages over.
    let slow = || {
        Arc::new(Recorder {
            slow: Duration::from_millis(300),
            ..Recorder::default()
        })
    };
    let (intake_a, intake_b) = (slow(), slow());
    let mailbox = plain_mailbox(&server, "shared", true, Duration::from_secs(1));
    let a = Loop::start_on(store.clone(), dir, "a", mailbox.clone(), intake_a.clone());
    let b = Loop::start_on(
        store,
        tempfile::tempdir().unwrap(),
        "b",
        mailbox,
        intake_b.clone(),
    );
    eventually("all moved", Duration::from_secs(15), || async {
        server.list("Processed").await.len() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (na, nb) = (intake_a.calls(), intake_b.calls());
    assert!(
        (na, nb) == (3, 0) || (na, nb) == (0, 3),
        "calls: a {na}, b {nb}"
    );
    // The fetching instance stops; the other takes the mailbox over.
    let (holder, other, other_intake) = if na == 3 {
        (a, b, intake_b)
    } else {
        (b, a, intake_a)
    };
    holder.stop().await;
    server
        .append("INBOX", &message("after failover", "y"))
        .await;
    eventually("taken over", Duration::from_secs(15), || async {
        other_intake.calls() == 1
    })
    .await;
    other.stop().await;
}

/// A directory mailbox (the demo's inbox): each `*.eml` file is taken once and moved to
/// `processed/`; a file being written (hidden name) and other files are left alone; a file the
/// intake refuses stays and is tried again; a crash after the intake (the file read again)
/// takes nothing twice, as the same content is the same key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_mailbox_takes_each_file_once() {
    let inbox = tempfile::tempdir().unwrap();
    let dir = inbox.path().join("inbox");
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (message("dir one", "one"), message("dir two", "two"));
    std::fs::write(dir.join("a.eml"), &a).unwrap();
    std::fs::write(dir.join("b.EML"), &b).unwrap();
    std::fs::write(dir.join(".c.eml.tmp"), message("half written", "x")).unwrap();
    std::fs::write(dir.join("notes.txt"), "not mail").unwrap();
    let mailbox = Inbound {
        name: "folder".to_owned(),
        source: MailSource::Directory(dir.clone()),
        folder: dir.display().to_string(),
        processed_folder: "processed".to_owned(),
        poll_interval: Duration::from_millis(200),
        keep_original: forewarn::config::inbound::KEEP_ORIGINAL,
        requests_per_hour: 20,
    };
    let intake = Arc::new(Recorder::default());
    let l = Loop::start_mailbox(mailbox, intake.clone()).await;
    let processed = dir.join("processed");
    let names = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    eventually("both moved", Duration::from_secs(10), || async {
        names(&processed).len() == 2
    })
    .await;
    assert_eq!(intake.taken(), vec![a.clone(), b.clone()]);
    assert_eq!(names(&dir), vec![".c.eml.tmp", "notes.txt"]);
    // The same content again (a crash between the intake and the move reads it again): the
    // intake sees the same key and it is moved without being taken twice.
    std::fs::write(dir.join("again.eml"), &a).unwrap();
    eventually("the copy moved", Duration::from_secs(10), || async {
        names(&processed).len() == 3
    })
    .await;
    assert_eq!(intake.taken().len(), 2, "taken once");
    // Refused: it stays, and is taken once the intake takes again.
    *intake.refuse.lock().unwrap() = true;
    let c = message("dir three", "three");
    std::fs::write(dir.join("c.eml"), &c).unwrap();
    eventually("a refusal", Duration::from_secs(10), || async {
        inbound::status()
            .iter()
            .any(|s| s.name == "folder" && s.errors > 0)
    })
    .await;
    assert!(dir.join("c.eml").exists(), "a refused file stays");
    *intake.refuse.lock().unwrap() = false;
    eventually("c taken", Duration::from_secs(10), || async {
        intake.taken().len() == 3
    })
    .await;
    l.stop().await;
    assert!(!dir.join("c.eml").exists());
}
