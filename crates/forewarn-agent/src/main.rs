//! `forewarn-agent`: the host agent on a customer server. See docs/agent-api.md for the API and
//! docker/agent.example.toml for the configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use forewarn_agent::agent;

#[derive(Parser, Debug)]
#[command(
    name = "forewarn-agent",
    version,
    about = "forewarn host agent: disk, inode and per-account usage over a read-only HTTP API"
)]
struct Cli {
    /// The agent's configuration file.
    #[arg(long, env = "FOREWARN_AGENT_CONFIG", default_value = "agent.toml")]
    config: PathBuf,
    /// Log format on stderr (`RUST_LOG` sets the level, e.g. `debug` or `forewarn_agent=debug`).
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Load the configuration, report every problem (exit 1) or a summary (exit 0), and end.
    #[arg(long)]
    check: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match agent::load_config(&cli.config) {
        Ok(c) => c,
        Err(diags) => {
            eprint!("{diags}");
            eprintln!(
                "{} problem{} found; fix the agent configuration and start it again",
                diags.len(),
                if diags.len() == 1 { "" } else { "s" }
            );
            return ExitCode::from(1);
        }
    };
    if cli.check {
        println!(
            "{}: ok: listen {}{}, {} mount{}, {} account{}, a sample every {}",
            cli.config.display(),
            config.listen,
            if config.tls.is_some() { " (https)" } else { "" },
            config.mounts.len(),
            if config.mounts.len() == 1 { "" } else { "s" },
            config.accounts.len(),
            if config.accounts.len() == 1 { "" } else { "s" },
            humantime::format_duration(config.sample_interval),
        );
        return ExitCode::SUCCESS;
    }
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(70);
        }
    };
    match runtime.block_on(agent::run(config, agent::shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the agent stopped");
            eprintln!("error: {e}");
            ExitCode::from(70)
        }
    }
}

/// Logs on stderr at `info`, or what `RUST_LOG` says (`level` or `target=level,…`; the
/// server's regular-expression filters are not understood here, to keep the binary small).
fn init_logging(format: LogFormat) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let default = || Targets::new().with_default(tracing::Level::INFO);
    let filter = match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => text.parse().unwrap_or_else(|e| {
            eprintln!("warning: RUST_LOG={text:?} is not understood ({e}); logging at info");
            default()
        }),
        _ => default(),
    };
    // Colours unless NO_COLOR is set (the systemd unit sets it), as `forewarn serve` does.
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Human => tracing_subscriber::registry()
            .with(
                layer
                    .fmt_fields(forewarn_agent::log::EscapedFields)
                    .with_filter(filter),
            )
            .init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(layer.json().flatten_event(true).with_filter(filter))
            .init(),
    }
}
