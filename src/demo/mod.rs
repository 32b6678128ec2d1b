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

pub use fleet::Ports;

/// The agent's port in the demo (the shipped `checks/umbrella.toml` points at it).
pub const AGENT_PORT: u16 = Ports::DEFAULT.agent;

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
    /// Where the fleet and the agent listen.
    pub ports: Ports,
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
/// loopback, with files under `dir`; the fleet on its fixed ports ([`Ports::DEFAULT`]).
pub async fn start(port: u16, dir: &Path) -> anyhow::Result<Demo> {
    start_on(port, Ports::DEFAULT, dir).await
}

/// [`start`] with the fleet and the agent on `ports` (0s: free ones); the checks it writes
/// point at the ports taken.
pub async fn start_on(port: u16, ports: Ports, dir: &Path) -> anyhow::Result<Demo> {
    crate::probe::install_crypto_provider();
    let fleet = fleet::start_on(dir, ports).await?;
    let agent = crate::agent::spawn(AgentConfig {
        listen: ([127, 0, 0, 1], ports.agent).into(),
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
    .with_context(|| {
        format!(
            "starting the demo agent on 127.0.0.1:{} (another demo? try `--port-base 0`)",
            ports.agent
        )
    })?;
    let ports = Ports {
        agent: agent.local_addr().port(),
        ..fleet.ports()
    };
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
        std::fs::write(checks_dir.join(name), checks_on(text, ports))?;
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
            fleet.dns_addr()
        ),
    )?;

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
        ports,
        staff_token,
        staff_password,
        config_path,
        surveyed,
        fleet,
        agent,
        server,
    })
}

/// The shipped example checks' text with the fleet's and the agent's fixed ports replaced by
/// `ports` (the shipped files name the defaults).
fn checks_on(text: &str, ports: Ports) -> String {
    let d = Ports::DEFAULT;
    let mut text = text.to_owned();
    for (from, to) in [
        (d.acme, ports.acme),
        (d.globex, ports.globex),
        (d.initech, ports.initech),
        (d.acme_tls, ports.acme_tls),
        (d.agent, ports.agent),
    ] {
        for host in ["127.0.0.1", "localhost"] {
            text = text.replace(&format!("{host}:{from}/"), &format!("{host}:{to}/"));
        }
        text = text.replace(&format!("port = {from}"), &format!("port = {to}"));
    }
    text
}

/// `forewarn demo`: start, print where to look, run until Ctrl-C. The fleet and the agent on
/// `ports` (`--port-base`).
pub async fn run(port: u16, ports: Ports, dir: Option<PathBuf>) -> anyhow::Result<()> {
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
    let demo = start_on(port, ports, &dir).await?;
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
         The fleet on 127.0.0.1: a healthy shop (:{acme}, and HTTPS :{acme_tls} with a certificate\n  \
         that expires in 5 days), an API answering 500 (:{globex}), a slow blog (:{initech}), a DNS\n  \
         zone with one drifted record (:{dns}) and a host agent whose account is filling (:{agent}).\n  \
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
        acme = demo.ports.acme,
        acme_tls = demo.ports.acme_tls,
        globex = demo.ports.globex,
        initech = demo.ports.initech,
        dns = demo.ports.dns,
        agent = demo.ports.agent,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_checks_follow_the_ports() {
        let ports = Ports {
            acme: 20001,
            globex: 20002,
            initech: 20003,
            acme_tls: 20043,
            dns: 20053,
            agent: 20087,
        };
        for (name, text) in CHECK_FILES {
            let moved = checks_on(text, ports);
            assert!(
                !moved.contains(":186") && !moved.contains("= 186"),
                "{name}:\n{moved}"
            );
            assert_eq!(checks_on(text, Ports::DEFAULT), text, "{name}");
        }
        let acme = checks_on(CHECK_FILES[0].1, ports);
        for url in [
            "http://127.0.0.1:20001/",
            "https://localhost:20043/",
            "port = 20043",
        ] {
            assert!(acme.contains(url), "{url}");
        }
        assert!(checks_on(CHECK_FILES[3].1, ports).contains("http://127.0.0.1:20087/"));
    }

    #[test]
    fn a_port_base_moves_every_port_or_takes_free_ones() {
        assert_eq!(Ports::from_base(18600), Ok(Ports::DEFAULT));
        assert_eq!(Ports::from_base(0), Ok(Ports::FREE));
        assert_eq!(Ports::from_base(30000).map(|p| p.agent), Ok(30087));
        assert!(
            Ports::from_base(65500)
                .unwrap_err()
                .contains("at most 65448")
        );
    }
}
