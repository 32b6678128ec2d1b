//! A real forewarn agent on 127.0.0.1 over a temporary directory: one mount (the temp dir) and
//! one account (`acme`, a sub-directory with a small limit), configured through a real
//! agent.toml and token file.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use forewarn::agent::RunningAgent;
use forewarn::agent::api::Usage;
use forewarn::probe::Thresholds;
use forewarn::probe::agent::{AgentSpec, Forecast};
use forewarn::secret::Secret;
use tempfile::TempDir;

pub const TOKEN: &str = "s3cret-agent-token";

pub struct Options {
    /// `limit` of the `acme` account, as written in agent.toml.
    pub limit: &'static str,
    pub sample_interval: &'static str,
    /// Extra lines appended to the `[[account]]` table.
    pub account_extra: &'static str,
    pub https: bool,
    /// Report the temp dir's filesystem as a mount. Off where a test must not depend on what
    /// other processes write to that shared filesystem.
    pub mount: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limit: "1MiB",
            sample_interval: "100ms",
            account_extra: "",
            https: false,
            mount: true,
        }
    }
}

pub struct AgentFixture {
    pub dir: TempDir,
    pub account_dir: PathBuf,
    /// The CA that signed the agent's certificate (HTTPS only).
    pub ca_file: Option<PathBuf>,
    pub agent: Option<RunningAgent>,
    url: url::Url,
    http: reqwest::Client,
    counter: std::sync::atomic::AtomicU64,
}

pub async fn spawn_agent(opts: Options) -> AgentFixture {
    forewarn::probe::install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let account_dir = dir.path().join("acme");
    std::fs::create_dir(&account_dir).unwrap();
    std::fs::write(dir.path().join("agent.token"), format!("{TOKEN}\n")).unwrap();

    let (tls, ca_file) = if opts.https {
        let ca = write_certificates(dir.path());
        (
            "[tls]\ncert = \"agent.crt\"\nkey = \"agent.key\"\n",
            Some(ca),
        )
    } else {
        ("", None)
    };
    let config = format!(
        r#"listen = "127.0.0.1:0"
token = {{ file = "agent.token" }}
sample_interval = "{interval}"
history = "1h"
{tls}
{mount}

[[account]]
name = "acme"
path = {account:?}
limit = "{limit}"
{extra}
"#,
        interval = opts.sample_interval,
        mount = if opts.mount {
            format!("[[mount]]\npath = {:?}\n", dir.path().display().to_string())
        } else {
            String::new()
        },
        account = account_dir.display().to_string(),
        limit = opts.limit,
        extra = opts.account_extra,
    );
    let config_path = dir.path().join("agent.toml");
    std::fs::write(&config_path, config).unwrap();
    let config = forewarn::agent::load_config(&config_path)
        .unwrap_or_else(|d| panic!("fixture config is valid:\n{d}"));
    let agent = forewarn::agent::spawn(config).await.expect("agent starts");
    let url = agent.url();

    let mut http = reqwest::Client::builder().no_proxy();
    if let Some(ca) = &ca_file {
        let pem = std::fs::read(ca).unwrap();
        http = http.tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap());
    }
    AgentFixture {
        dir,
        account_dir,
        ca_file,
        agent: Some(agent),
        url,
        http: http.build().unwrap(),
        counter: Default::default(),
    }
}

/// A CA and a certificate for 127.0.0.1 / localhost signed by it; returns the CA's path.
fn write_certificates(dir: &Path) -> PathBuf {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "forewarn test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    std::fs::write(dir.join("agent.crt"), leaf.pem()).unwrap();
    std::fs::write(dir.join("agent.key"), leaf_key.serialize_pem()).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    ca
}

impl AgentFixture {
    pub fn url(&self) -> url::Url {
        self.url.clone()
    }

    /// A spec for this agent: quota warning at 80 %, critical at 90 %, no disk or inode
    /// thresholds (the temp dir's filesystem is not ours), no forecast.
    pub fn spec(&self) -> AgentSpec {
        AgentSpec {
            url: self.url(),
            token: Secret::new(TOKEN),
            ca_file: self.ca_file.clone(),
            timeout: Duration::from_secs(5),
            disk: Thresholds::default(),
            inodes: Thresholds::default(),
            quota: Thresholds {
                warning: Some(80.0),
                critical: Some(90.0),
            },
            mounts: Vec::new(),
            accounts: Vec::new(),
            forecast: None,
        }
    }

    pub fn spec_with_forecast(&self, forecast: Forecast) -> AgentSpec {
        AgentSpec {
            forecast: Some(forecast),
            ..self.spec()
        }
    }

    /// `GET path` with an optional `Authorization` header value.
    pub async fn get(&self, path: &str, authorization: Option<&str>) -> (u16, serde_json::Value) {
        let mut req = self.http.get(self.url.join(path).unwrap());
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.expect("agent answers");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).expect("JSON body");
        (status, body)
    }

    pub async fn usage(&self) -> Usage {
        let (status, body) = self.get("v1/usage", Some(&format!("Bearer {TOKEN}"))).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body).expect("usage document")
    }

    /// The `acme` account's used bytes in the latest sample.
    pub async fn account_used(&self) -> u64 {
        self.usage().await.accounts[0]
            .used_bytes
            .expect("account measured")
    }

    /// Polls `/v1/usage` until `ready` holds (at most 5 s), returning that document.
    pub async fn wait_for(&self, what: &str, ready: impl Fn(&Usage) -> bool) -> Usage {
        let mut last = None;
        for _ in 0..100 {
            let usage = self.usage().await;
            if ready(&usage) {
                return usage;
            }
            last = Some(usage);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}; last usage: {last:#?}");
    }

    /// Writes `bytes` of incompressible data into a new file of the account.
    pub fn write_account_file(&self, bytes: usize) {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ n;
        let data: Vec<u8> = (0..bytes)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(self.account_dir.join(format!("file-{n}.bin")), data).unwrap();
    }

    /// Writes `bytes` into the account and waits until a sample shows at least that much more.
    pub async fn fill_account(&self, bytes: usize) -> u64 {
        let before = self.account_used().await;
        self.write_account_file(bytes);
        let usage = self
            .wait_for("the account to grow", |u| {
                u.accounts[0].used_bytes.unwrap_or(0) >= before + bytes as u64
            })
            .await;
        usage.accounts[0].used_bytes.unwrap()
    }

    pub async fn stop(&mut self) {
        if let Some(agent) = self.agent.take() {
            agent.stop().await.expect("agent stops cleanly");
        }
    }
}

/// A loopback HTTP server that answers every connection with `response` (raw bytes, status line
/// included) and closes; for agents that misbehave. Returns its base URL.
pub async fn serve_raw(response: Vec<u8>) -> url::Url {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let _ = conn.write_all(&response).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    url::Url::parse(&format!("http://{addr}/")).unwrap()
}

/// An HTTP response with a JSON content type and `body`.
pub fn http_response(status: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}
