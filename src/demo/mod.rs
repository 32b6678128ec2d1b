//! `forewarn demo`: a simulated customer fleet on loopback for forewarn to watch, so a newcomer
//! sees real failures caught with no setup. See [`fleet`] for what runs where.

pub mod fleet;

mod cert;
mod disk;
mod dns;
mod history;
pub mod pointer;
mod web;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::agent::{AccountConfig, AgentConfig, QuotaMode};
use crate::secret::Secret;

/// The agent's port in the demo (the shipped `checks/umbrella.toml` points at it).
pub const AGENT_PORT: u16 = 18687;

/// The shipped example checks: the demo runs exactly these.
const CHECK_FILES: [(&str, &str); 4] = [
    ("acme.toml", include_str!("../../checks/acme.toml")),
    ("globex.toml", include_str!("../../checks/globex.toml")),
    ("initech.toml", include_str!("../../checks/initech.toml")),
    ("umbrella.toml", include_str!("../../checks/umbrella.toml")),
];
const AGENT_TOKEN: &str = "demo-agent-token-change-me";
/// The staff user the demo creates for the dashboard.
pub const DEMO_USER: &str = "demo";

/// A demo that is running: the fleet, the agent and the server.
pub struct Demo {
    pub url: String,
    /// For the API (`Authorization: Bearer …`).
    pub staff_token: String,
    /// The dashboard user `demo`'s password.
    pub staff_password: String,
    pub config_path: PathBuf,
    /// The resolved ticket the demo starts with, whose follow-up survey is in the outbox
    /// (`None` when `--dir` is reused: its tickets are kept as they are).
    pub surveyed: Option<crate::ticket::TicketId>,
    fleet: fleet::Fleet,
    agent: crate::agent::RunningAgent,
    server: crate::server::RunningServer,
}

impl Demo {
    pub async fn stop(self) {
        self.server.shutdown().await;
        let _ = self.agent.stop().await;
        self.fleet.stop().await;
    }
}

/// Starts the fleet, the real agent and `serve` with the shipped example checks, all on
/// loopback, with files under `dir`.
pub async fn start(port: u16, dir: &Path) -> anyhow::Result<Demo> {
    crate::probe::install_crypto_provider();
    let fleet = fleet::start(dir).await?;
    // The shipped checks refer to demo/ca.pem, demo/agent.token and demo/staff.token relative
    // to forewarn.toml: lay the same files out here.
    let demo_dir = dir.join("demo");
    let checks_dir = dir.join("checks");
    for d in [&demo_dir, &checks_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    std::fs::copy(fleet.ca_pem_path(), demo_dir.join("ca.pem")).context("copying the demo CA")?;
    std::fs::write(demo_dir.join("agent.token"), format!("{AGENT_TOKEN}\n"))?;
    let staff_token = random_token();
    std::fs::write(demo_dir.join("staff.token"), format!("{staff_token}\n"))?;
    for (name, text) in CHECK_FILES {
        std::fs::write(checks_dir.join(name), text)?;
    }
    // Bound first: with `--port 0` the links in the customer mails need the real port.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| {
            format!("cannot listen on 127.0.0.1:{port}; try `forewarn demo --port 0`")
        })?;
    let addr = listener.local_addr()?;
    let config_path = dir.join("forewarn.toml");
    std::fs::write(
        &config_path,
        format!(
            "# Written by `forewarn demo`.\n\
             database = \"sqlite://data/forewarn.db\"\n\
             listen = \"{addr}\"\n\
             public_url = \"http://{addr}/\"\n\
             checks_dir = \"checks\"\n\
             [web]\nstaff_token = {{ file = \"demo/staff.token\" }}\n\
             [resolvers]\ndemo = \"{}\"\n\
             # Mail from customers: the demo's inbox is a directory of .eml files.\n\
             [[inbound]]\nname = \"demo\"\ndirectory = \"data/inbox\"\npoll_interval = \"1s\"\n",
            fleet::DNS_ADDR
        ),
    )?;

    let agent = crate::agent::spawn(AgentConfig {
        listen: ([127, 0, 0, 1], AGENT_PORT).into(),
        token: Secret::new(AGENT_TOKEN),
        tls: None,
        sample_interval: Duration::from_secs(2),
        history: Duration::from_secs(3600),
        mounts: vec![PathBuf::from("/")],
        accounts: vec![AccountConfig {
            name: "umbrella".into(),
            path: fleet.account_dir(),
            limit: Some(50 << 20),
            quota: QuotaMode::Directory,
        }],
        limits: crate::listener::Limits::AGENT,
    })
    .await
    .with_context(|| format!("starting the demo agent on 127.0.0.1:{AGENT_PORT}"))?;

    let config = crate::config::load(&config_path)
        .map_err(|d| anyhow::anyhow!("the demo configuration is invalid (a forewarn bug):\n{d}"))?;
    let server = crate::server::start(config, config_path.clone(), listener).await?;
    // A staff user to sign in to the dashboard with (the token is for the API).
    let staff_password = random_token();
    let hash = crate::store::users::hash_password(&staff_password)
        .map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))?;
    // A fresh directory (the user is new) gets the demo's past; a reused one keeps its own.
    let fresh = match server
        .store
        .create_user(
            crate::store::NewUser {
                name: DEMO_USER.into(),
                display_name: "Demo Staff".into(),
                role: crate::store::Role::Admin,
                password_hash: hash.clone(),
            },
            chrono::Utc::now(),
        )
        .await
    {
        Ok(_) => true,
        // `--dir` reused: the user is there already; give it the new password.
        Err(crate::store::StoreError::Conflict { .. }) => {
            server.store.set_password_hash(DEMO_USER, &hash).await?;
            false
        }
        Err(e) => return Err(e.into()),
    };
    let surveyed = if fresh {
        Some(
            history::seed(&server)
                .await
                .context("writing the demo's resolved ticket and its survey")?,
        )
    } else {
        None
    };
    Ok(Demo {
        url: format!("http://{}", server.addr),
        staff_token,
        staff_password,
        config_path,
        surveyed,
        fleet,
        agent,
        server,
    })
}

/// `forewarn demo`: start, print where to look, run until Ctrl-C.
pub async fn run(port: u16, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let temp;
    let dir = match dir {
        Some(d) => d,
        None => {
            temp = tempfile::Builder::new()
                .prefix("forewarn-demo-")
                .tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let demo = start(port, &dir).await?;
    // Commands typed next without --config act on this demo (README, "Try the demo").
    let announced = pointer::announce(&demo.config_path, &demo.url)
        .map_err(|e| tracing::warn!(file = %pointer::file().display(), error = %e, "cannot announce the demo: commands need --config"))
        .ok();
    println!(
        "\n  forewarn demo is running\n\n  \
         dashboard   {url}/login   (user {user}, password {password})\n  \
         API         {url}/api/v1/tickets   (Authorization: Bearer {token})\n  \
         metrics     {url}/metrics\n  \
         config      {config}\n\n  \
         The fleet on 127.0.0.1: a healthy shop (:18601, and HTTPS :18643 with a certificate\n  \
         that expires in 5 days), an API answering 500 (:18602), a slow blog (:18603), a DNS\n  \
         zone with one drifted record (:18653) and a host agent whose account is filling (:18687).\n  \
         Every check runs within its first interval (at most a minute); the dashboard refreshes.\n\n  \
         After three failures in a row (and a confirming re-run) forewarn opens a ticket and\n  \
         writes the customer's mail into {mail} (no SMTP server in the demo).\n  \
         Answer one as the customer would; the answer shows on the ticket within seconds:\n        \
         forewarn inbound reply {mail}/<file>.eml --text \"Thanks!\"\n  \
         (any .eml from a customer's contact put into {inbox} is taken as mail).\n\n  \
         {history}\n\n  \
         Try, from any directory while the demo runs (commands without --config act on it):\n        \
         forewarn check run globex-api\n        \
         forewarn ticket list\n        \
         forewarn ticket show 1\n        \
         forewarn survey list\n\n  \
         Ctrl-C stops everything.\n",
        url = demo.url,
        token = demo.staff_token,
        user = DEMO_USER,
        password = demo.staff_password,
        config = demo.config_path.display(),
        mail = dir.join("data/mail").display(),
        inbox = dir.join("data/inbox").display(),
        history = match demo.surveyed {
            Some(id) => format!(
                "Ticket {id} was reported by Acme yesterday and resolved by {DEMO_USER}; its\n  \
                 follow-up survey mail is in the same folder: open a rating link in it, answer\n  \
                 on the confirm page, and find the answer under Surveys in the dashboard."
            ),
            None => "This directory was used before: its tickets and surveys are kept.".into(),
        },
    );
    crate::server::shutdown_signal().await;
    drop(announced);
    demo.stop().await;
    Ok(())
}

fn random_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
