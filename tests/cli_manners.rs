//! The shell's manners, through the real binary: `validate --json` for programs (every problem
//! with file, line and key, exit 1; a summary, exit 0), a one-shot command piped into a reader
//! that goes away ends quietly (no panic), and `customer list` shows whom forewarn writes to,
//! in which language and zone.

use std::io::Read;
use std::process::{Command, Stdio};

fn fixture(global: &str, customer: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(dir.path().join("forewarn.toml"), global).unwrap();
    std::fs::write(dir.path().join("checks/globex.toml"), customer).unwrap();
    dir
}

const GLOBAL: &str = "database = \"sqlite://data/forewarn.db\"\n";
const CUSTOMER: &str = "[customer]\nid = \"globex\"\nname = \"Глобекс\"\nlanguage = \"ru\"\n\
     timezone = \"Europe/Moscow\"\ncontacts = [\"it@globex.example\", \"boss@globex.example\"]\n\n\
     [[check]]\nid = \"globex-shop\"\nname = \"Магазин\"\n[check.http]\nurl = \"https://shop.globex.example/\"\n";

fn forewarn(dir: &tempfile::TempDir, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(dir.path().join("forewarn.toml"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_json_gives_programs_the_summary_or_every_problem() {
    let good = fixture(GLOBAL, CUSTOMER);
    let (code, out, _) = forewarn(&good, &["validate", "--json"]);
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["customers"], 1);
    assert_eq!(v["checks_by_kind"]["http"], 1, "{v}");

    let bad = fixture(
        "database = \"sqlite://data/forewarn.db\"\n[[inbound]]\nname = \"x\"\n",
        &CUSTOMER.replace("language = \"ru\"", "language = \"Russian\""),
    );
    let (code, out, _) = forewarn(&bad, &["validate", "--json"]);
    assert_eq!(code, Some(1), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    let problems = v["problems"].as_array().unwrap();
    assert!(problems.len() >= 2, "{v}");
    for p in problems {
        assert!(p["file"].as_str().unwrap().ends_with(".toml"), "{p}");
        assert!(p["line"].as_u64().unwrap() > 0, "{p}");
        assert!(!p["message"].as_str().unwrap().is_empty(), "{p}");
    }
    assert!(
        problems.iter().any(|p| p["key"] == "inbound[0].server"),
        "{v}"
    );
}

#[test]
fn a_reader_that_goes_away_ends_a_command_quietly() {
    // Many checks, so the listing is longer than a pipe's buffer.
    let mut customer = CUSTOMER.to_owned();
    for i in 0..3000 {
        customer.push_str(&format!(
            "\n[[check]]\nid = \"globex-page-{i}\"\nname = \"Страница {i}\"\n[check.http]\nurl = \"https://shop.globex.example/p/{i}\"\n"
        ));
    }
    let dir = fixture(GLOBAL, &customer);
    let mut child = Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(dir.path().join("forewarn.toml"))
        .args(["check", "list", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read a little, as `head -c 100` would, then go away.
    let mut first = [0u8; 100];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        !err.contains("panicked"),
        "no panic on a closed pipe: {err}"
    );
    assert!(err.is_empty(), "nothing said at all: {err}");
    // Ended by SIGPIPE, as `cat` would be (or, had it finished first, successfully).
    use std::os::unix::process::ExitStatusExt;
    assert!(
        status.signal() == Some(13) || status.success(),
        "{status:?}"
    );
}

#[test]
fn customer_list_shows_whom_forewarn_writes_to() {
    let dir = fixture(GLOBAL, CUSTOMER);
    let (code, out, err) = forewarn(&dir, &["customer", "list"]);
    assert_eq!(code, Some(0), "{err}");
    for want in [
        "globex",
        "Глобекс",
        "it@globex.example; boss@globex.example",
        "ru",
        "Europe/Moscow",
        "1 customer(s).",
    ] {
        assert!(out.contains(want), "{want:?} in:\n{out}");
    }
    let (code, out, _) = forewarn(&dir, &["customer", "list", "--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["language"], "ru");
    assert_eq!(v[0]["checks"], 1);
    assert_eq!(v[0]["open_tickets"], 0);
}
