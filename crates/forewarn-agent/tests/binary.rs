//! The `forewarn-agent` binary as people run it: `--check` reports a configuration's problems
//! with file, line and key; the agent answers its API with the token; SIGHUP does not stop it;
//! SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TOKEN: &str = "binary-test-token";
const BIN: &str = env!("CARGO_BIN_EXE_forewarn-agent");

/// A directory with `agent.token`, an account directory and `agent.toml` holding `toml`
/// (`$DIR` replaced by the directory).
fn setup(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.token"), format!("{TOKEN}\n")).unwrap();
    std::fs::create_dir(dir.path().join("acme")).unwrap();
    let text = toml.replace("$DIR", &dir.path().display().to_string());
    std::fs::write(dir.path().join("agent.toml"), text).unwrap();
    dir
}

fn check(dir: &Path) -> Output {
    Command::new(BIN)
        .args(["--check", "--config"])
        .arg(dir.join("agent.toml"))
        .output()
        .unwrap()
}

const VALID: &str = r#"listen = "127.0.0.1:0"
token = { file = "agent.token" }
sample_interval = "100ms"
[[mount]]
path = "$DIR"
[[account]]
name = "acme"
path = "$DIR/acme"
limit = "1MiB"
"#;

#[test]
fn check_says_ok_for_a_valid_file() {
    let dir = setup(VALID);
    let out = check(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("ok: listen 127.0.0.1:0, 1 mount, 1 account"),
        "{stdout}"
    );
}

#[test]
fn check_reports_every_problem_with_line_and_key() {
    let dir = setup(
        r#"listen = "localhost"
token = { file = "agent.token" }
sample_interval = "often"
[[mount]]
path = "$DIR"
"#,
    );
    let out = check(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("agent.toml:1:10: listen: `localhost` is not an address with a port"),
        "{stderr}"
    );
    assert!(
        stderr.contains("agent.toml:3:19: sample_interval: `often` is not a duration"),
        "{stderr}"
    );
    assert!(stderr.contains("2 problems found"), "{stderr}");
}

/// The running binary; killed if a test ends early.
struct Agent {
    child: Child,
    addr: SocketAddr,
    log: mpsc::Receiver<String>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    fn start(dir: &Path) -> Agent {
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(dir.join("agent.toml"))
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, log) = mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut agent = Agent {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            log,
        };
        let line = agent.wait_for_log("agent listening");
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .unwrap_or_else(|| panic!("no addr= in {line:?}"));
        agent.addr = addr.parse().unwrap();
        agent
    }

    /// The first log line containing `text`, within 10 s.
    fn wait_for_log(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(e) => panic!("no log line with {text:?}: {e}"),
            }
        }
    }

    /// `GET path` with the token: status code and body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let status = resp
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {resp:?}"));
        let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, body.to_owned())
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }
}

#[test]
fn the_binary_serves_the_api_keeps_running_on_sighup_and_stops_on_sigterm() {
    let dir = setup(VALID);
    let mut agent = Agent::start(dir.path());

    let (status, body) = agent.get("/v1/usage");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""name":"acme""#), "{body}");

    agent.signal("HUP");
    let line = agent.wait_for_log("does not reload");
    assert!(line.contains("restart it"), "{line}");
    let (status, body) = agent.get("/v1/health");
    assert_eq!(status, 200, "still answering after SIGHUP: {body}");

    agent.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = agent.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "a graceful stop exits 0: {exit:?}");
}
