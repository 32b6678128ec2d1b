//! The README's commands while `forewarn demo` runs, typed as a newcomer types them: from the
//! repository root (which has its own example `forewarn.toml`), without `--config`. They act
//! on the demo's database and say so; the customer link they print opens in the demo; once the
//! demo stops, the same commands read the directory's configuration again. A command given
//! `--config` never follows the demo.
//!
//! The real binary runs the demo on free ports (`--port 0 --port-base 0`), so a `forewarn demo`
//! running on this machine meanwhile does not disturb it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the demo if the test ends early, so it does not outlive a failure.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// `forewarn ARGS` from the repository root, with the test's runtime dir and no
/// FOREWARN_CONFIG.
fn forewarn(runtime: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("XDG_RUNTIME_DIR", runtime)
        .env_remove("FOREWARN_CONFIG")
        .args(args)
        .output()
        .unwrap();
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_commands_act_on_the_running_demo_without_config() {
    let runtime = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pointer = runtime.path().join("forewarn-demo.json");
    forewarn::probe::install_crypto_provider();
    let mut demo = Child(
        Command::new(env!("CARGO_BIN_EXE_forewarn"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env_remove("FOREWARN_CONFIG")
            .env_remove("FOREWARN_DEMO_PORT_BASE")
            .args(["demo", "--port", "0", "--port-base", "0", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while !pointer.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the demo announced itself within 60 s"
        );
        if let Some(status) = demo.0.try_wait().unwrap() {
            panic!("the demo exited with {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let announced: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&pointer).unwrap()).unwrap();
    let url = announced["url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();

    // `ticket list` shows the demo's past ticket, and says whose data it is.
    let list = forewarn(runtime.path(), &["ticket", "list", "--all"]);
    assert!(list.ok, "{}", list.stderr);
    assert!(
        list.stderr.contains("acting on the running demo at")
            && list
                .stderr
                .contains(&dir.path().join("forewarn.toml").display().to_string()),
        "{}",
        list.stderr
    );
    assert!(list.stdout.contains("acme"), "{}", list.stdout);

    // `check run` (the README's first command) probes the demo's own fleet, on the ports the
    // demo took, not the fixed ones another demo may hold: the API answers 500 on its port;
    // the agent, the DNS zone and the HTTPS shop answer the other checks (none is unknown).
    let broken = forewarn(runtime.path(), &["check", "run", "globex-api"]);
    assert!(
        broken.stdout.contains("CRITICAL globex-api") && broken.stdout.contains("HTTP 500"),
        "{}{}",
        broken.stdout,
        broken.stderr
    );
    for id in [
        "umbrella-disk",
        "acme-dns-www",
        "acme-shop-cert",
        "acme-shop",
    ] {
        let out = forewarn(runtime.path(), &["check", "run", id]);
        assert!(!out.stdout.contains("UNKNOWN"), "{id}: {}", out.stdout);
    }
    let written = std::fs::read_to_string(dir.path().join("checks/globex.toml")).unwrap();
    let port = written
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap();
    assert_ne!(port, "18602", "free ports, not the fixed ones");
    assert!(
        broken
            .stdout
            .contains(&format!("127.0.0.1:{port}/v1/status")),
        "{}",
        broken.stdout
    );

    // The customer link it prints opens in the demo (signed with the demo's key).
    let link = forewarn(runtime.path(), &["customer", "link", "acme", "--json"]);
    assert!(link.ok, "{}", link.stderr);
    let link: serde_json::Value = serde_json::from_str(&link.stdout).unwrap();
    let link = link["url"].as_str().unwrap();
    assert!(link.starts_with(&url), "{link} is the demo's ({url})");
    let page = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(link)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "{link}");
    assert!(page.text().await.unwrap().contains("Acme"));

    // `--config` is obeyed (`validate` never follows the demo either). Commands that read
    // only the configuration are used here, so the repository gets no database.
    let own = forewarn(
        runtime.path(),
        &["--config", "forewarn.toml", "check", "list"],
    );
    assert!(!own.stderr.contains("running demo"), "{}", own.stderr);
    let validate = forewarn(runtime.path(), &["validate"]);
    assert!(
        !validate.stderr.contains("running demo"),
        "{}",
        validate.stderr
    );

    // The demo stops on Ctrl-C and takes its announcement with it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(demo.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let stopped = Instant::now();
    while demo.0.try_wait().unwrap().is_none() {
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "the demo stops"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!pointer.exists(), "the announcement is gone");
    let after = forewarn(runtime.path(), &["check", "list"]);
    assert!(
        after.ok && !after.stderr.contains("running demo"),
        "{}",
        after.stderr
    );
}

/// An announcement left by a demo that died (`kill -9`) is ignored.
#[test]
fn a_dead_demos_announcement_is_ignored() {
    let runtime = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(
        dir.path().join("forewarn.toml"),
        "database = \"sqlite://data/t.db\"\n",
    )
    .unwrap();
    // A pid that is not running: a finished child's.
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    std::fs::write(
        runtime.path().join("forewarn-demo.json"),
        serde_json::json!({
            "config": dir.path().join("forewarn.toml"),
            "url": "http://127.0.0.1:1/",
            "pid": pid,
        })
        .to_string(),
    )
    .unwrap();
    let out = forewarn(runtime.path(), &["customer", "list"]);
    assert!(!out.stderr.contains("running demo"), "{}", out.stderr);
    assert!(
        out.stdout.contains("acme"),
        "the directory's own customers: {}",
        out.stdout
    );
}
