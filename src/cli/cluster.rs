//! `forewarn cluster status`: the instances sharing the database, whether each is alive, its
//! region, last heartbeat and how many check leases it holds, and who runs each periodic job.

use std::collections::HashMap;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde::Serialize;

use super::table;
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Members, their leases and the periodic jobs' holders.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct MemberRow {
    instance: String,
    region: String,
    alive: bool,
    heartbeat_at: DateTime<Utc>,
    heartbeat_age_s: f64,
    started_at: DateTime<Utc>,
    version: String,
    leases: usize,
}

#[derive(Serialize)]
struct JobRow {
    job: String,
    owner: String,
    expires_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct Status {
    lease_s: f64,
    checks: usize,
    members: Vec<MemberRow>,
    /// (check, region) pairs with no live lease: nobody runs them there now.
    unowned: usize,
    /// SQLite: one instance runs every check, without leases.
    single_instance: bool,
    jobs: Vec<JobRow>,
}

pub async fn cluster(config: Config, cmd: ClusterCommand) -> anyhow::Result<ExitCode> {
    let ClusterCommand::Status { json } = cmd;
    let store = crate::store::open(&config.database).await?;
    let now = Utc::now();
    let lease = config.cluster.lease;
    let members = store.members().await?;
    let leases = store.leases().await?;
    let mut held: HashMap<&str, usize> = HashMap::new();
    for l in leases.iter().filter(|l| l.expires_at > now) {
        *held.entry(l.owner.as_str()).or_default() += 1;
    }
    let live = crate::cluster::live_members(&members, now, lease);
    let regions: std::collections::HashSet<&str> = live.iter().map(|m| m.region.as_str()).collect();
    let owned = leases
        .iter()
        .filter(|l| l.expires_at > now && regions.contains(l.region.as_str()))
        .count();
    // SQLite has one instance, which owns every check without writing leases.
    let single_instance = config.database.starts_with("sqlite:");
    if single_instance {
        for m in &live {
            held.insert(m.instance.as_str(), config.checks.len());
        }
    }
    let status = Status {
        lease_s: lease.as_secs_f64(),
        checks: config.checks.len(),
        unowned: if single_instance {
            0
        } else {
            (config.checks.len() * regions.len()).saturating_sub(owned)
        },
        single_instance,
        members: members
            .iter()
            .map(|m| MemberRow {
                instance: m.instance.clone(),
                region: m.region.clone(),
                alive: live.iter().any(|l| l.instance == m.instance),
                heartbeat_at: m.heartbeat_at,
                heartbeat_age_s: (now - m.heartbeat_at).num_milliseconds() as f64 / 1000.0,
                started_at: m.started_at,
                version: m.version.clone(),
                leases: held.get(m.instance.as_str()).copied().unwrap_or(0),
            })
            .collect(),
        jobs: store
            .job_leases()
            .await?
            .into_iter()
            .map(|(job, owner, expires_at)| JobRow {
                job,
                owner,
                expires_at,
            })
            .collect(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(ExitCode::SUCCESS);
    }
    if status.members.is_empty() {
        println!("no instance has joined yet (start `forewarn serve`)");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = status
        .members
        .iter()
        .map(|m| {
            vec![
                m.instance.clone(),
                m.region.clone(),
                if m.alive { "yes" } else { "NO" }.to_owned(),
                format!("{:.1}s ago", m.heartbeat_age_s),
                m.leases.to_string(),
                m.version.clone(),
                m.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &[
                "INSTANCE",
                "REGION",
                "ALIVE",
                "HEARTBEAT",
                "LEASES",
                "VERSION",
                "STARTED"
            ],
            &rows
        )
    );
    if status.single_instance {
        println!(
            "{} checks, all run by the one instance SQLite allows (PostgreSQL shares them by lease)",
            status.checks
        );
    } else {
        println!(
            "{} checks, lease {}s, {} check/region pairs without a live lease",
            status.checks, status.lease_s, status.unowned
        );
    }
    if !status.jobs.is_empty() {
        let rows: Vec<Vec<String>> = status
            .jobs
            .iter()
            .map(|j| {
                vec![
                    j.job.clone(),
                    j.owner.clone(),
                    j.expires_at.format("%H:%M:%S UTC").to_string(),
                ]
            })
            .collect();
        println!();
        print!("{}", table::render(&["JOB", "HELD BY", "UNTIL"], &rows));
    }
    Ok(ExitCode::SUCCESS)
}
