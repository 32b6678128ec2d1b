//! `forewarn serve`: wires config, store, scheduler, recorder and web together, reloads on
//! SIGHUP and shuts down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::cluster::{Cluster, run_exclusive};
use crate::config::{self, Config};
use crate::incident::detector::Detector;
use crate::metrics::Metrics;
use crate::notify::mailer::Mailer;
use crate::notify::worker::{WorkerOptions, run_worker};
use crate::probe::ProbeContext;
use crate::scheduler::recorder::Recorder;
use crate::scheduler::{self, FanOut, Limits, SchedulerHandle};
use crate::store::Store;
use crate::survey::SurveyService;
use crate::ticket::service::TicketService;
use crate::web;

/// A server that is running; `shutdown` stops it in order.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub scheduler: SchedulerHandle,
    pub tickets: Arc<TicketService>,
    pub surveys: Arc<SurveyService>,
    pub detector: Arc<Detector>,
    detector_saver: tokio::task::JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    scheduler_task: tokio::task::JoinHandle<()>,
    writer_task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops planning checks, lets runs in flight finish and their results reach the store,
    /// then stops the web server.
    pub async fn shutdown(self) {
        self.scheduler.stop();
        joined("scheduler", self.scheduler_task).await;
        // The scheduler held the last recorder; the writer drains its queue and ends.
        joined("result writer", self.writer_task).await;
        self.detector.stop_saving();
        joined("detector state saver", self.detector_saver).await;
        self.detector.flush().await;
        // The delivery worker finishes the message in hand (none is left half-sent).
        let _ = self.stop.send(true);
        for t in self.tasks {
            joined("background task", t).await;
        }
        tracing::info!("forewarn stopped");
    }
}

/// Waits for a task; one that panicked is logged, not silently dropped.
async fn joined(what: &str, task: tokio::task::JoinHandle<()>) {
    if let Err(e) = task.await {
        tracing::error!(task = what, error = %e, "task ended abnormally during shutdown");
    }
}

/// Starts everything on `listener` (already bound, so tests and the demo can use port 0).
pub async fn start(
    mut config: Config,
    config_path: PathBuf,
    listener: TcpListener,
) -> anyhow::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let store = crate::store::open(&config.database)
        .await
        .with_context(|| format!("opening the database {}", config.database))?;
    forget_removed(store.as_ref(), &config).await;
    // Customer links are signed with `[web] secret`, or with the key every instance shares
    // through the database.
    crate::token::ensure_secret(&mut config, store.as_ref())
        .await
        .context("loading the link-signing key")?;
    let signer = Arc::new(crate::token::Signer::from_config(&config).expect("key set above"));
    let metrics = Metrics::new();
    // On PostgreSQL several instances may share the checks: each runs those it holds a lease
    // for and names itself in its HTTP probes. SQLite has one instance, which owns them all.
    let leased = !config.database.starts_with("sqlite:");
    let ctx = if leased {
        ProbeContext::for_prober(&config.cluster.region, &config.cluster.instance)
    } else {
        ProbeContext::new()
    }
    .context("setting up probes")?;
    let check_ids: Vec<_> = config.checks.iter().map(|c| c.id.clone()).collect();
    let cluster = Cluster::join(
        store.clone(),
        config.cluster.clone(),
        leased,
        &check_ids,
        metrics.clone(),
    )
    .await
    .context("joining the cluster (membership and check leases)")?;
    let mailer = Mailer::new(&config.mail).context("setting up mail delivery")?;
    let telegram = config.ops.telegram.clone();
    tracing::info!(mail = %mailer.describe(), "mail delivery");
    let limits = Limits {
        max_concurrency: config.scheduler.max_concurrency,
        per_host_concurrency: config.scheduler.per_host_concurrency,
    };
    // Each check in flight holds a connection (and its descriptor) of its own.
    let probes_in_flight = config.scheduler.max_concurrency;
    let checks = config.checks.clone();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let shared_config = Arc::new(std::sync::RwLock::new(Arc::new(config)));
    // Customer mails carry the current configuration's brand, and a ticket's mails answer its
    // first one, whose Message-ID the current configuration gives.
    let mailer = mailer.with_letterhead(Arc::new(ConfigLetterhead(shared_config.clone())));

    // Tickets and the outbox: the worker delivers what the service queues.
    let worker_opts = WorkerOptions {
        sole_sender: !leased,
        instance: shared_config
            .read()
            .expect("not poisoned")
            .cluster
            .instance
            .clone(),
        customer_hooks: {
            let config = shared_config.clone();
            crate::notify::CustomerHooks::new(move |id| {
                let config = config.read().expect("not poisoned").clone();
                config.customer(id)?.webhook.clone()
            })
        },
        ..WorkerOptions::from_mail(&shared_config.read().expect("not poisoned").mail)
    };
    let wake = worker_opts.wake.clone();
    let tickets = Arc::new(TicketService::new(
        store.clone(),
        shared_config.clone(),
        Some(Arc::new(wake.clone())),
    ));
    let surveys = Arc::new(SurveyService::new(
        store.clone(),
        shared_config.clone(),
        tickets.clone(),
        signer,
        Some(Arc::new(wake)),
    ));
    let (detector, detector_saver) = Detector::start_in(
        store.clone(),
        shared_config.clone(),
        tickets.clone(),
        ctx.clone(),
        leased.then(|| cluster.config().clone()),
    )
    .await
    .context("loading the incident detector's state")?;
    let detector = Arc::new(detector);
    let (recorder, writer_task) = Recorder::spawn(store.clone(), metrics.clone());
    let (scheduler, scheduler_task) = scheduler::spawn_owned(
        checks,
        limits,
        ctx,
        Arc::new(FanOut(vec![Arc::new(recorder), detector.clone()])),
        metrics.clone(),
        cluster.ownership(),
    );
    detector.confirm_through(scheduler.clone());
    let app = web::router(
        web::AppState::new(
            store.clone(),
            metrics.clone(),
            shared_config.clone(),
            tickets.clone(),
        )
        .with_surveys(surveys.clone()),
    );
    let mut tasks = Vec::new();
    {
        let mut stop_rx = stop_rx.clone();
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the webhook client")?;
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            };
            run_worker(store, mailer, http, telegram, worker_opts, shutdown).await;
        }));
    }
    {
        // Told straight to ops when the store stops taking writes: the outbox is in it.
        let config = shared_config.read().expect("not poisoned").clone();
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the webhook client")?;
        let senders = crate::notify::Senders {
            mailer: Mailer::new(&config.mail).context("setting up mail delivery")?,
            webhook: crate::notify::Webhook::new(
                http.clone(),
                WorkerOptions::from_mail(&config.mail).webhook_timeout,
            ),
            telegram: crate::notify::Telegram::new(
                http,
                config.ops.telegram.clone(),
                WorkerOptions::from_mail(&config.mail).webhook_timeout,
            ),
        };
        tasks.push(tokio::spawn(crate::store::watch::run(
            store.clone(),
            shared_config.clone(),
            crate::notify::direct::DirectOps::new(senders),
            metrics.clone(),
            stop_rx.clone(),
        )));
    }
    tasks.push(tokio::spawn(cluster.clone().run(
        shared_config.clone(),
        detector.clone(),
        stop_rx.clone(),
    )));
    tasks.push(tokio::spawn(sla_loop(
        store.clone(),
        cluster.config().instance.clone(),
        tickets.clone(),
        stop_rx.clone(),
    )));
    let survey_every = shared_config.read().expect("not poisoned").survey.job_every;
    tasks.push(tokio::spawn(survey_loop(
        store.clone(),
        cluster.config().instance.clone(),
        surveys.clone(),
        survey_every,
        stop_rx.clone(),
    )));
    // Support mailboxes: customer mail threaded into tickets (`[[inbound]]`; none: nothing).
    let mailboxes = shared_config.read().expect("not poisoned").inbound.clone();
    if !mailboxes.is_empty() {
        let intake = crate::inbound::intake::TicketIntake::new(
            tickets.clone(),
            store.clone(),
            shared_config.clone(),
            crate::inbound::intake::IntakeLimits::default(),
        );
        tasks.push(tokio::spawn(crate::inbound::run(
            crate::inbound::Context {
                store: store.clone(),
                instance: cluster.config().instance.clone(),
                lease_every: cluster.config().lease,
                metrics: metrics.clone(),
            },
            mailboxes,
            Arc::new(intake),
            stop_rx.clone(),
        )));
    }
    {
        let web_limits = shared_config.read().expect("not poisoned").web.limits;
        let mut web = crate::listener::spawn(
            listener,
            app,
            crate::listener::Options {
                name: "web",
                limits: web_limits,
                tls: None,
                metrics: metrics.connections(),
                others_need: probes_in_flight,
            },
        )
        .context("starting the web server")?;
        let mut stop_rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let _ = stop_rx.wait_for(|s| *s).await;
            // Requests in flight end within request_timeout anyway.
            web.stop(web_limits.request_timeout).await;
        }));
    }
    tasks.push(tokio::spawn(prune_loop(
        store.clone(),
        cluster.config().instance.clone(),
        shared_config.clone(),
        stop_rx.clone(),
    )));
    tasks.push(tokio::spawn(reload_on_sighup(
        config_path,
        store.clone(),
        scheduler.clone(),
        shared_config,
        stop_rx,
    )));
    tracing::info!(%addr, "forewarn listening");
    Ok(RunningServer {
        addr,
        store,
        scheduler,
        tickets,
        surveys,
        detector,
        stop,
        tasks,
        scheduler_task,
        writer_task,
        detector_saver,
    })
}

/// How long `serve` waits for an orderly shutdown after SIGTERM or Ctrl-C.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(45);

/// `forewarn serve`: start, wait for the signal, stop.
pub async fn serve(
    config: Config,
    config_path: PathBuf,
    signal: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen).await.with_context(|| {
        format!(
            "cannot listen on {} (is another forewarn running? change `listen` in forewarn.toml)",
            config.listen
        )
    })?;
    if config.web.staff_token.is_none() {
        tracing::warn!(
            "no web.staff_token configured: the API refuses every call until one is set (the dashboard uses `forewarn user add`)"
        );
    }
    let server = start(config, config_path, listener).await?;
    signal.await;
    tracing::info!("shutting down: letting checks in flight finish");
    // Bounded: a store that stays down must not keep the process alive forever. What is not
    // written stays in the outbox or is measured again after the next start.
    if tokio::time::timeout(SHUTDOWN_LIMIT, server.shutdown())
        .await
        .is_err()
    {
        tracing::error!(
            limit_s = SHUTDOWN_LIMIT.as_secs(),
            "shutdown did not finish in time (is the database reachable?); stopping anyway"
        );
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}

/// On SIGHUP, reload every file; on success swap the checks in, on failure keep running with
/// the old configuration and log every problem.
async fn reload_on_sighup(
    path: PathBuf,
    store: Arc<dyn Store>,
    scheduler: SchedulerHandle,
    shared: Arc<std::sync::RwLock<Arc<Config>>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; configuration reload is off");
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match config::load(&path) {
            Ok(mut new) => {
                // The generated link-signing key stays (links in mails must keep working).
                if new.web.secret.is_none() {
                    new.web.secret = shared.read().expect("not poisoned").web.secret.clone();
                }
                tracing::info!(checks = new.checks.len(), "configuration reloaded");
                scheduler.reload(new.checks.clone());
                forget_removed(store.as_ref(), &new).await;
                *shared.write().expect("not poisoned") = Arc::new(new);
            }
            Err(diags) => {
                for d in &diags.0 {
                    tracing::error!(problem = %d, "configuration reload refused");
                }
                tracing::error!(
                    problems = diags.len(),
                    "keeping the previous configuration; fix the files and send SIGHUP again"
                );
            }
        }
    }
}

/// SLA clocks (warnings, breaches, automatic "still working on it" updates) and advance notice
/// of maintenance windows, every 15 s, on one instance of the cluster at a time.
async fn sla_loop(
    store: Arc<dyn Store>,
    instance: String,
    tickets: Arc<TicketService>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    run_exclusive(
        store,
        instance,
        "sla",
        crate::ticket::service::SLA_TICK,
        stop,
        || {
            let tickets = tickets.clone();
            async move {
                let now = chrono::Utc::now();
                if let Err(e) = tickets.sla_tick(now).await {
                    tracing::warn!(error = %e, "SLA check failed; will retry");
                }
                if let Err(e) = tickets.maintenance_notices(now).await {
                    tracing::warn!(error = %e, "maintenance notices failed; will retry");
                }
            }
        },
    )
    .await
}

/// Sends due follow-up surveys and reminders every `[survey] job_every` (30 s), on one instance of the cluster at a
/// time (each survey and reminder goes out once even if two runs overlap: see `survey`).
async fn survey_loop(
    store: Arc<dyn Store>,
    instance: String,
    surveys: Arc<SurveyService>,
    every: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    run_exclusive(store, instance, "survey", every, stop, || {
        let surveys = surveys.clone();
        async move {
            if let Err(e) = surveys.tick(chrono::Utc::now()).await {
                tracing::warn!(error = %e, "survey run failed; will retry");
            }
        }
    })
    .await
}

/// Drops the current state of checks no longer in the configuration (their history ages out
/// with the retention windows). A failure is logged, not fatal.
async fn forget_removed(store: &dyn Store, config: &Config) {
    let keep: Vec<_> = config.checks.iter().map(|c| c.id.clone()).collect();
    match store.forget_checks(&keep).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(checks = n, "state of removed checks dropped"),
        Err(e) => tracing::warn!(error = %e, "could not drop the state of removed checks"),
    }
}

/// Drops raw results and rollups older than the history windows, every ten minutes, on one
/// instance of the cluster at a time.
async fn prune_loop(
    store: Arc<dyn Store>,
    instance: String,
    shared: Arc<std::sync::RwLock<Arc<Config>>>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let every = Duration::from_secs(600);
    run_exclusive(store.clone(), instance, "prune", every, stop, || {
        let (store, shared) = (store.clone(), shared.clone());
        async move {
            let history = shared.read().expect("not poisoned").history.clone();
            let now = chrono::Utc::now();
            let raw_before = now - chrono::Duration::from_std(history.raw).unwrap_or_default();
            let rollups_before =
                now - chrono::Duration::from_std(history.rollups).unwrap_or_default();
            match store.prune(raw_before, rollups_before).await {
                Ok(stats) => tracing::debug!(?stats, "history pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning history failed; will retry"),
            }
        }
    })
    .await
}

/// The mailer's [`crate::notify::Letterhead`] from the running configuration.
struct ConfigLetterhead(Arc<std::sync::RwLock<Arc<Config>>>);

impl crate::notify::Letterhead for ConfigLetterhead {
    fn brand(&self) -> crate::config::Brand {
        self.0.read().expect("not poisoned").brand.clone()
    }

    fn thread_root(&self, ticket: crate::ticket::TicketId) -> String {
        crate::ticket::service::thread_root(&self.0.read().expect("not poisoned"), ticket)
    }
}
