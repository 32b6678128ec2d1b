//! The command line: `forewarn serve | validate | migrate | check list | check run | user | token | customer | links | kb | survey | agent | demo | bench | cluster status`.

pub mod cluster;
pub mod customers;
pub mod inbound;
pub mod incidents;
pub mod kb;
pub mod links;
pub use forewarn_agent::log;
pub mod outbox;
pub mod report;
pub mod surveys;
pub mod table;
pub mod tickets;
pub mod tokens;
pub mod users;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Config};
use crate::probe::{self, ProbeContext};

#[derive(Parser, Debug)]
#[command(
    name = "forewarn",
    version,
    about = "Proactive customer-success monitoring for hosting companies"
)]
pub struct Cli {
    /// The global configuration file.
    #[arg(long, global = true, env = "FOREWARN_CONFIG", default_value = config::DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the scheduler, the store and the web server.
    Serve,
    /// Load every configuration file and report every problem (exit 1), or a summary (exit 0).
    Validate {
        /// For programs: `{"ok": true, "customers": …}` or `{"ok": false, "problems": [{file,
        /// line, column, key, message}]}`.
        #[arg(long)]
        json: bool,
    },
    /// Create the database or bring its schema up to date, then exit (`serve` does it too).
    Migrate,
    /// List or run checks.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Run the host agent on a customer server: `forewarn agent --config agent.toml`.
    Agent {
        /// The agent's configuration file (default: --config when given, else ./agent.toml).
        #[arg(long = "agent-config")]
        agent_config: Option<PathBuf>,
    },
    /// Start a simulated customer fleet on loopback and monitor it.
    Demo {
        /// Port of the web server (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The simulated fleet and the agent listen on this base + 01, 02, 03, 43, 53, 87;
        /// 0 picks free ports (so another demo, or a test, can run beside this one).
        #[arg(long, env = "FOREWARN_DEMO_PORT_BASE", default_value_t = 18600)]
        port_base: u16,
        /// Where the demo writes its configuration and database (default: a temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Work on tickets: list, show, ack, update, resolve, reopen, close.
    #[command(subcommand)]
    Ticket(tickets::TicketCommand),
    /// The outbox of customer and ops messages: list, retry.
    #[command(subcommand)]
    Outbox(outbox::OutboxCommand),
    /// KPIs from the ticket timelines: volumes, response times, SLA, reopen rate, heatmap.
    Report(report::ReportArgs),
    /// Customers: hand out the signed link to a customer's checks page.
    #[command(subcommand)]
    Customer(customers::CustomerCommand),
    /// Customer links: revoke every link of one customer, list revocations.
    #[command(subcommand)]
    Links(links::LinksCommand),
    /// The knowledge base: list the articles, save a ticket's resolution as a draft.
    #[command(subcommand)]
    Kb(kb::KbCommand),
    /// Support mailboxes: what became of the mail customers sent, and the unmatched list.
    #[command(subcommand)]
    Inbound(inbound::InboundCommand),
    /// What is going on: open incidents, maintenance now and upcoming, flapping checks.
    #[command(subcommand)]
    Incident(incidents::IncidentCommand),
    /// Follow-up surveys: list answers, the call-back queue, send what is due now.
    #[command(subcommand)]
    Survey(surveys::SurveyCommand),
    /// Staff accounts for the dashboard: add, list, disable, enable, password, unlock.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Per-user API tokens with a scope: create, list, revoke.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Measure probing throughput, CPU per check, schedule lag and memory.
    Bench(crate::bench::BenchArgs),
    /// Measure the staff and customer pages at scale (10,000 tickets, 100,000 checks by
    /// default) in a throw-away directory; exit 1 when a page's p95 is over 300 ms.
    BenchPages(crate::bench::pages::PagesArgs),
    /// Several instances on one database: `forewarn cluster status [--json]`.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
}

#[derive(Subcommand, Debug)]
pub enum CheckCommand {
    /// List the configured checks.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run one check now and print every condition's result. Exit code: 0 OK, 1 WARNING,
    /// 2 CRITICAL, 3 UNKNOWN.
    Run {
        check_id: String,
        #[arg(long)]
        json: bool,
    },
}

/// Sets up logging on stderr. `RUST_LOG` overrides the default level (info). Both formats
/// escape control characters in values and messages: one event is one line.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.fmt_fields(log::EscapedFields).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Loads the configuration or prints every problem and returns the exit code.
impl Command {
    /// A command that prints and ends (not a server, agent or demo that runs until stopped).
    pub fn is_one_shot(&self) -> bool {
        !matches!(
            self,
            Command::Serve | Command::Agent { .. } | Command::Demo { .. }
        )
    }
}

#[cfg(feature = "demo")]
impl Command {
    /// Commands that act on forewarn's data: with neither `--config` nor `FOREWARN_CONFIG`
    /// they act on a running `forewarn demo` (`parse`). `serve`, `validate`, `migrate`, `agent`,
    /// `demo` and `bench` always read the files they are pointed at.
    fn follows_demo(&self) -> bool {
        !matches!(
            self,
            Command::Serve
                | Command::Validate { .. }
                | Command::Migrate
                | Command::Agent { .. }
                | Command::Demo { .. }
                | Command::Bench(_)
                | Command::BenchPages(_)
        )
    }
}

/// Parses the command line. A command that acts on forewarn's data, given neither `--config`
/// nor `FOREWARN_CONFIG`, acts on the running `forewarn demo` when there is one, and says so
/// on stderr: the README's examples work as written while the demo runs.
pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    #[cfg(feature = "demo")]
    let cli = follow_demo(cli, &matches);
    cli
}

#[cfg(feature = "demo")]
fn follow_demo(mut cli: Cli, matches: &clap::ArgMatches) -> Cli {
    if matches.value_source("config") == Some(clap::parser::ValueSource::DefaultValue)
        && cli.command.follows_demo()
        && let Some(demo) = crate::demo::pointer::running()
    {
        eprintln!(
            "note: acting on the running demo at {} (configuration {}); pass --config to use another",
            demo.url,
            demo.config.display()
        );
        cli.config = demo.config;
    }
    cli
}

pub fn load_config(path: &Path) -> Result<Config, ExitCode> {
    config::load(path).map_err(|diags| {
        eprint!("{diags}");
        eprintln!(
            "{} problem{} found; fix them and run `forewarn validate` again",
            diags.len(),
            if diags.len() == 1 { "" } else { "s" }
        );
        ExitCode::from(1)
    })
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    probe::install_crypto_provider();
    match cli.command {
        Command::Validate { json: false } => Ok(match load_config(&cli.config) {
            Ok(config) => {
                println!("{}", config::summary(&config));
                ExitCode::SUCCESS
            }
            Err(code) => code,
        }),
        Command::Validate { json: true } => {
            let (v, code) = match config::load(&cli.config) {
                Ok(config) => {
                    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
                    for c in &config.checks {
                        *kinds.entry(c.spec.kind().as_str()).or_default() += 1;
                    }
                    let v = serde_json::json!({
                        "ok": true,
                        "config": config.path,
                        "customers": config.customers.len(),
                        "checks": config.checks.len(),
                        "checks_by_kind": kinds,
                        "inbound_mailboxes": config.inbound.len(),
                    });
                    (v, ExitCode::SUCCESS)
                }
                Err(diags) => {
                    let problems: Vec<_> = diags
                        .0
                        .iter()
                        .map(|d| {
                            serde_json::json!({
                                "file": d.file, "line": d.line, "column": d.column,
                                "key": d.key_path, "message": d.message,
                            })
                        })
                        .collect();
                    (
                        serde_json::json!({ "ok": false, "problems": problems }),
                        ExitCode::from(1),
                    )
                }
            };
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(code)
        }
        Command::Migrate => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let target = crate::store::redact_url(&config.database);
            let backend = if config.database.starts_with("sqlite:") {
                "sqlite"
            } else {
                "postgres"
            };
            crate::store::open(&config.database).await?;
            println!("{backend} database {target}: schema is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Check(CheckCommand::List { json }) => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            check_list(&config, json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Check(CheckCommand::Run { check_id, json }) => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            check_run(&config, &check_id, json).await
        }
        Command::Serve => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            crate::server::serve(config, cli.config.clone(), crate::server::shutdown_signal())
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Agent { agent_config } => {
            // `forewarn agent --config agent.toml` is how people write it: the global --config
            // names the agent's file unless it is still the server's default.
            let path = agent_config.unwrap_or_else(|| {
                if cli.config == Path::new(config::DEFAULT_CONFIG_FILE) {
                    PathBuf::from("agent.toml")
                } else {
                    cli.config.clone()
                }
            });
            let config = match crate::agent::load_config(&path) {
                Ok(c) => c,
                Err(diags) => {
                    eprint!("{diags}");
                    eprintln!("fix the agent configuration and start it again");
                    return Ok(ExitCode::from(1));
                }
            };
            crate::agent::run(config, crate::server::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "demo")]
        Command::Demo {
            port,
            port_base,
            dir,
        } => {
            let ports = crate::demo::Ports::from_base(port_base).map_err(anyhow::Error::msg)?;
            crate::demo::run(port, ports, dir).await?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(not(feature = "demo"))]
        Command::Demo { .. } => {
            eprintln!(
                "this forewarn was built without the demo (cargo feature `demo`); build it with \
                 default features to run `forewarn demo`"
            );
            Ok(ExitCode::from(2))
        }
        Command::Ticket(cmd) => match load_config(&cli.config) {
            Ok(c) => tickets::ticket(c, cmd).await,
            Err(code) => Ok(code),
        },
        Command::Outbox(cmd) => match load_config(&cli.config) {
            Ok(c) => outbox::outbox(c, cmd).await,
            Err(code) => Ok(code),
        },
        Command::Report(args) => match load_config(&cli.config) {
            Ok(c) => report::report(c, args).await,
            Err(code) => Ok(code),
        },
        Command::Customer(cmd) => match load_config(&cli.config) {
            Ok(c) => customers::customer(c, cmd).await,
            Err(code) => Ok(code),
        },
        Command::Links(cmd) => match load_config(&cli.config) {
            Ok(c) => links::links(c, cmd).await,
            Err(code) => Ok(code),
        },
        Command::Kb(cmd) => match load_config(&cli.config) {
            Ok(c) => kb::kb(c, cmd).await,
            Err(code) => Ok(code),
        },
        Command::Inbound(cmd) => match load_config(&cli.config) {
            Ok(c) => inbound::inbound(c, cmd).await,
            Err(code) => Ok(code),
        },
        Command::Incident(cmd) => match load_config(&cli.config) {
            Ok(c) => incidents::incident(c, cmd).await,
            Err(code) => Ok(code),
        },
        Command::Survey(cmd) => match load_config(&cli.config) {
            Ok(c) => surveys::survey(c, cmd).await,
            Err(code) => Ok(code),
        },
        Command::User(cmd) => match load_config(&cli.config) {
            Ok(c) => users::user(c, cmd).await,
            Err(code) => Ok(code),
        },
        Command::Token(cmd) => match load_config(&cli.config) {
            Ok(c) => tokens::token(c, cmd).await,
            Err(code) => Ok(code),
        },
        Command::Bench(args) => {
            crate::bench::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchPages(args) => Ok(if crate::bench::pages::run(args).await? {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }),
        Command::Cluster(cmd) => match load_config(&cli.config) {
            Ok(c) => cluster::cluster(c, cmd).await,
            Err(code) => Ok(code),
        },
    }
}

fn check_list(config: &Config, json: bool) {
    if json {
        let items: Vec<serde_json::Value> = config.checks.iter().map(|c| c.to_json()).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&items).expect("json values serialise")
        );
        return;
    }
    let rows: Vec<Vec<String>> = config
        .checks
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.customer.to_string(),
                c.spec.kind().to_string(),
                c.schedule.describe(),
                c.spec.target(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(&["CHECK", "CUSTOMER", "KIND", "SCHEDULE", "TARGET"], &rows)
    );
    println!("{} checks", rows.len());
}

async fn check_run(config: &Config, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let Some(check) = config.check(id) else {
        eprintln!("no check {id:?}; `forewarn check list` shows the ids");
        return Ok(ExitCode::from(3));
    };
    let ctx = ProbeContext::new().context("setting up probes")?;
    let result = crate::scheduler::execute(check, &ctx, chrono::Utc::now()).await;
    let outcome = &result.outcome;
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "{} {} — {}",
            outcome.status.as_str().to_uppercase(),
            check.id,
            outcome.message,
        );
        if !outcome.conditions.is_empty() {
            let rows: Vec<Vec<String>> = outcome
                .conditions
                .iter()
                .map(|c| {
                    vec![
                        if c.passed {
                            "pass".into()
                        } else {
                            c.severity.as_str().to_uppercase()
                        },
                        c.condition.clone(),
                        c.actual.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["RESULT", "CONDITION", "ACTUAL"], &rows)
            );
        }
        for (k, v) in &outcome.details {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("  {k}: {v}");
        }
    }
    Ok(ExitCode::from(outcome.status.exit_code() as u8))
}

#[cfg(all(test, feature = "demo"))]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    /// `--port-base` writes its default as a number (the flag exists without the demo feature);
    /// it must stay the demo's own default.
    #[test]
    fn the_demo_port_base_default_is_the_fleet_s() {
        let cli = Cli::try_parse_from(["forewarn", "demo"]).unwrap();
        let Command::Demo { port_base, .. } = cli.command else {
            panic!("not the demo command");
        };
        assert_eq!(port_base, crate::demo::Ports::DEFAULT_BASE);
    }
}
