//! A throw-away Dovecot IMAP server on loopback for the inbound tests: its own config, passwd
//! file, Maildir, state and log in a temp dir, on an ephemeral port, stopped on drop.
//!
//! Needs Debian's `dovecot-imapd` (`apt-get install dovecot-imapd`; `.ci/run` installs it).
//! Dovecot runs in the foreground (`dovecot -F -c <temp>/dovecot.conf`). Its login and mail
//! processes run as the user running the test, or as `nobody` when that is root (CI): Dovecot
//! refuses mail processes as root and needs no system user of its own this way.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The one mailbox user and its password.
pub const USER: &str = "support";
pub const PASSWORD: &str = "support-pass";

/// A running Dovecot; dropping it stops it.
pub struct Dovecot {
    /// Plain IMAP (with STARTTLS when started with a certificate).
    pub addr: SocketAddr,
    /// IMAPS, when started with a certificate.
    pub tls_addr: Option<SocketAddr>,
    dir: TempDir,
    child: Option<Child>,
}

fn spawn(conf: &Path) -> Child {
    let dir = conf.parent().unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stderr.log"))
        .unwrap();
    use std::os::unix::process::CommandExt;
    Command::new(binary().unwrap())
        // Its own process group: a stop can take every Dovecot process down (see `stop`).
        .process_group(0)
        .arg("-F")
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("starting dovecot")
}

/// The `dovecot` binary, when it is installed.
pub fn binary() -> Option<PathBuf> {
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// An ephemeral loopback port that was free a moment ago.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// (user, group, uid, gid) the login and mail processes run as: the owner of `dir` (the user
/// running the test), or `nobody` when that is root.
fn run_as(dir: &Path) -> (String, String, u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata(dir).unwrap().uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let entry = |f: &dyn Fn(&[&str]) -> bool| {
        passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|e| e.len() > 3 && f(e))
    };
    let user = if me == 0 {
        entry(&|e| e[0] == "nobody").expect("a `nobody` user")
    } else {
        entry(&|e| e[2] == me.to_string()).expect("the current user has a passwd entry")
    };
    let (uid, gid): (u32, u32) = (user[2].parse().unwrap(), user[3].parse().unwrap());
    let group = std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|e| e.len() > 2 && e[2] == gid.to_string())
        .map_or_else(|| gid.to_string(), |e| e[0].to_owned());
    (user[0].to_owned(), group, uid, gid)
}

impl Dovecot {
    /// Starts Dovecot without TLS and waits until it greets on its port (at most 10 s).
    pub fn start() -> Dovecot {
        Dovecot::start_with(None, "")
    }

    /// Like [`Dovecot::start`] with `extra` appended to the config (e.g. `imap_capability`).
    pub fn start_with_config(extra: &str) -> Dovecot {
        Dovecot::start_with(None, extra)
    }

    /// Starts Dovecot with this certificate chain and key (PEM): IMAPS on `tls_addr`, STARTTLS
    /// on `addr`.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Dovecot {
        Dovecot::start_with(Some((cert_pem, key_pem)), "")
    }

    fn start_with(tls: Option<(&str, &str)>, extra: &str) -> Dovecot {
        binary().expect(
            "dovecot is not installed: apt-get install dovecot-imapd (see README, Development)",
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (user, group, uid, gid) = run_as(root);
        for sub in ["run", "state", "mail", "home"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(
            root.join("passwd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .unwrap();
        if user == "nobody" {
            // The mail user must reach its Maildir and home inside root's temp dir.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
            for sub in ["mail", "home"] {
                std::os::unix::fs::chown(root.join(sub), Some(uid), Some(gid)).unwrap();
            }
        }
        let port = free_port();
        let tls_port = if tls.is_some() { free_port() } else { 0 };
        let ssl = match tls {
            None => "ssl = no".to_owned(),
            Some((cert, key)) => {
                std::fs::write(root.join("cert.pem"), cert).unwrap();
                std::fs::write(root.join("key.pem"), key).unwrap();
                format!(
                    "ssl = yes\nssl_cert = <{0}/cert.pem\nssl_key = <{0}/key.pem",
                    root.display()
                )
            }
        };
        let r = root.display();
        let conf = format!(
            r#"# forewarn test server (tests/support/imap.rs)
protocols = imap
listen = 127.0.0.1
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
login_trusted_networks = 127.0.0.0/8
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
mail_location = maildir:{r}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={r}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
{extra}
"#
        );
        let conf_path = root.join("dovecot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = spawn(&conf_path);
        let mut server = Dovecot {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            tls_addr: tls.map(|_| SocketAddr::from(([127, 0, 0, 1], tls_port))),
            dir,
            child: Some(child),
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(self.addr) {
                use std::io::Read;
                s.set_read_timeout(Some(Duration::from_secs(2))).ok();
                let mut buf = [0u8; 64];
                if matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"* OK")) {
                    return;
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("dovecot exited ({status}):\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not greet within 10 s:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Dovecot's stderr and log, for failure messages.
    pub fn logs(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("stderr.log"), read("dovecot.log"))
    }

    /// The temp dir (config, Maildir under `mail/`, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stores `raw` in `folder` through IMAP APPEND (creating the folder if missing).
    pub async fn append(&self, folder: &str, raw: &[u8]) {
        let mut c = Tiny::login(self.addr).await;
        if folder != "INBOX" {
            c.cmd(&format!("CREATE \"{folder}\"")).await;
        }
        let (ok, lines) = c.cmd_literal(&format!("APPEND \"{folder}\""), raw).await;
        assert!(ok, "APPEND failed: {lines:?}");
        c.cmd("LOGOUT").await;
    }

    /// The raw messages in `folder`, in UID order (empty when the folder does not exist).
    pub async fn list(&self, folder: &str) -> Vec<Vec<u8>> {
        let mut c = Tiny::login(self.addr).await;
        let (ok, _) = c.cmd(&format!("EXAMINE \"{folder}\"")).await;
        if !ok {
            return Vec::new();
        }
        let messages = c.fetch_all().await;
        c.cmd("LOGOUT").await;
        messages
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Dovecot {
    /// Stops the server (connections drop); `restart` brings it back on the same port with
    /// the same mail.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGTERM: the master takes its login and mail processes down with it. A master slow
        // to go (a loaded machine) is killed with its whole group: a mail process left behind
        // would keep a client's connection open, and "stopped" would not be true.
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = child.wait();
    }

    pub fn restart(&mut self) {
        self.stop();
        self.child = Some(spawn(&self.dir.path().join("dovecot.conf")));
        self.wait_ready();
    }
}

/// Just enough IMAP for the helpers: tagged commands, one literal, FETCH of whole messages.
struct Tiny {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
    tag: u32,
}

impl Tiny {
    async fn login(addr: SocketAddr) -> Tiny {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut t = Tiny {
            r: BufReader::new(r),
            w,
            tag: 0,
        };
        let greeting = t.line().await;
        assert!(greeting.starts_with("* OK"), "greeting: {greeting}");
        let (ok, lines) = t.cmd(&format!("LOGIN {USER} {PASSWORD}")).await;
        assert!(ok, "LOGIN failed: {lines:?}");
        t
    }

    async fn line(&mut self) -> String {
        let mut l = String::new();
        tokio::time::timeout(Duration::from_secs(10), self.r.read_line(&mut l))
            .await
            .expect("the IMAP server answers within 10 s")
            .unwrap();
        l
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("t{}", self.tag)
    }

    /// Sends a command; whether it ended OK, and the untagged lines.
    async fn cmd(&mut self, cmd: &str) -> (bool, Vec<String>) {
        let tag = self.next_tag();
        self.w
            .write_all(format!("{tag} {cmd}\r\n").as_bytes())
            .await
            .unwrap();
        self.until_done(&tag).await
    }

    async fn until_done(&mut self, tag: &str) -> (bool, Vec<String>) {
        let mut lines = Vec::new();
        let done = format!("{tag} ");
        loop {
            let l = self.line().await;
            if l.is_empty() {
                return (false, lines);
            }
            if let Some(rest) = l.strip_prefix(&done) {
                return (rest.starts_with("OK"), lines);
            }
            lines.push(l);
        }
    }

    async fn cmd_literal(&mut self, cmd: &str, data: &[u8]) -> (bool, Vec<String>) {
        let tag = self.next_tag();
        self.w
            .write_all(format!("{tag} {cmd} {{{}}}\r\n", data.len()).as_bytes())
            .await
            .unwrap();
        let cont = self.line().await;
        assert!(cont.starts_with('+'), "no continuation: {cont}");
        self.w.write_all(data).await.unwrap();
        self.w.write_all(b"\r\n").await.unwrap();
        self.until_done(&tag).await
    }

    /// `UID FETCH 1:* BODY.PEEK[]` of the selected folder.
    async fn fetch_all(&mut self) -> Vec<Vec<u8>> {
        let tag = self.next_tag();
        self.w
            .write_all(format!("{tag} UID FETCH 1:* BODY.PEEK[]\r\n").as_bytes())
            .await
            .unwrap();
        let done = format!("{tag} ");
        let mut out = Vec::new();
        loop {
            let l = self.line().await;
            if l.is_empty() || l.starts_with(&done) {
                return out;
            }
            // `* n FETCH (UID u BODY[] {len}`, then len bytes, then `)`.
            let t = l.trim_end();
            if let (Some(open), true) = (t.rfind('{'), t.ends_with('}')) {
                let len: usize = t[open + 1..t.len() - 1].parse().unwrap();
                let mut body = vec![0u8; len];
                self.r.read_exact(&mut body).await.unwrap();
                out.push(body);
            }
        }
    }
}

/// A small RFC 5322 message with this subject (and a Message-ID made from it).
pub fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Customer <customer@example.net>\r\nTo: support@hoster.example\r\n\
         Subject: {subject}\r\nMessage-ID: <{}@example.net>\r\n\
         Date: Mon, 07 Dec 2026 06:00:00 +0000\r\n\r\n{body}\r\n",
        subject.replace(' ', "-")
    )
    .into_bytes()
}

/// Writes `dir/forewarn.toml` for `forewarn serve` with this Dovecot's INBOX as the `support`
/// mailbox (plain IMAP on loopback, polled every second), mail out through `smtp`, and customer
/// `acme` whose one contact is `contact`.
pub fn serve_config(dir: &Path, dovecot: &Dovecot, smtp: SocketAddr, contact: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(dir.join("imap.pass"), PASSWORD).unwrap();
    let path = dir.join("forewarn.toml");
    std::fs::write(
        &path,
        format!(
            "database = \"sqlite://data/forewarn.db\"\npublic_url = \"https://status.hosting.example/\"\n\
             [mail]\nfrom = \"support@hosting.example\"\nsmtp_url = \"smtp://{smtp}\"\nsecurity = \"none\"\n\
             [brand]\nname = \"Example Hosting\"\n\
             [[inbound]]\nname = \"support\"\nserver = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             user = \"{USER}\"\npassword = {{ file = \"imap.pass\" }}\npoll_interval = \"1s\"\n",
            dovecot.addr.port()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("checks/acme.toml"),
        format!("[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"{contact}\"]\n"),
    )
    .unwrap();
    path
}
