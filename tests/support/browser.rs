//! One headless Chromium session, driven step by step through tests/browser/driver.py, so a test
//! can wait for a mail or read the store between two steps of the same browser session.
//! Needs `chromium` (Debian package) and python3 with websocket-client; `.ci/run` installs both.

// Each test binary uses a part of the driver.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The page after a step.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: String,
    pub title: String,
    /// The visible text.
    pub text: String,
}

pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Browser {
    pub async fn start() -> Browser {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/driver.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs (install it, and `pip install websocket-client`)");
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = lines.next_line().await.unwrap().unwrap_or_default();
        assert!(
            ready.contains("\"ready\": true"),
            "headless Chromium did not start (apt-get install chromium; pip install websocket-client): {ready}"
        );
        Browser {
            child,
            stdin,
            lines,
        }
    }

    /// Sends one step and returns the driver's answer, which must be `ok`.
    async fn send(&mut self, step: Value) -> Value {
        let mut line = step.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        let answer =
            tokio::time::timeout(std::time::Duration::from_secs(60), self.lines.next_line())
                .await
                .expect("the browser answers within 60 s")
                .unwrap()
                .expect("the browser driver is still running");
        let v: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(v["ok"], true, "browser step {step} failed: {v}");
        v
    }

    async fn step(&mut self, step: Value) -> Page {
        let v = self.send(step).await;
        Page {
            url: v["url"].as_str().unwrap_or_default().to_owned(),
            title: v["title"].as_str().unwrap_or_default().to_owned(),
            text: v["text"].as_str().unwrap_or_default().to_owned(),
        }
    }

    pub async fn goto(&mut self, url: &str) -> Page {
        self.step(json!({ "goto": url })).await
    }

    /// Sets form fields: CSS selector → value (checkboxes and radios: "true" / "false").
    pub async fn fill(&mut self, fields: &[(&str, &str)]) -> Page {
        let map: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        self.step(json!({ "fill": map })).await
    }

    /// Clicks the element (a button or link) or submits the form the selector names, and waits
    /// for the next page.
    pub async fn click(&mut self, selector: &str) -> Page {
        self.step(json!({ "click": selector })).await
    }

    /// Emulates a viewport of `width` × `height` (under 600 px wide: a phone).
    pub async fn size(&mut self, width: u32, height: u32) -> Page {
        self.step(json!({ "size": [width, height] })).await
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        self.send(json!({ "eval": expression })).await["value"].clone()
    }

    /// Asserts that the page fits the viewport's width (no horizontal scroll): what a phone
    /// needs. Returns (scrollWidth, innerWidth).
    pub async fn assert_fits(&mut self, what: &str) -> (i64, i64) {
        let v = self
            .eval("[document.documentElement.scrollWidth, window.innerWidth]")
            .await;
        let (scroll, inner) = (v[0].as_i64().unwrap(), v[1].as_i64().unwrap());
        assert!(
            scroll <= inner,
            "{what}: the page is {scroll} px wide in a {inner} px window (horizontal scroll)"
        );
        (scroll, inner)
    }

    /// A full-page PNG; returns its path.
    pub async fn screenshot(&mut self, path: &Path) -> PathBuf {
        self.step(json!({ "shot": path })).await;
        let png = std::fs::read(path).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "a real screenshot at {}",
            path.display()
        );
        path.to_owned()
    }

    /// Signs in through the login form.
    pub async fn sign_in(&mut self, base: &str, name: &str, password: &str) -> Page {
        self.goto(&format!("{base}/login")).await;
        self.fill(&[
            ("input[name=name]", name),
            ("input[name=password]", password),
        ])
        .await;
        self.click("form").await
    }

    pub async fn quit(mut self) {
        let _ = self.stdin.write_all(b"{\"quit\": true}\n").await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(15), self.child.wait()).await;
    }
}

/// Where screenshots are kept as test artifacts: target/screenshots/.
pub fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
