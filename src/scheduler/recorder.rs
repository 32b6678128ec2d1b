//! The result consumer that records state and history in the store, in batches.
//!
//! `consume` only queues; a writer task writes up to `BATCH` results per transaction, at least
//! every `FLUSH_EVERY`. A failed write is retried with the same batch (results are not dropped
//! while the queue has room); the queue is bounded, so a store that stays down slows the probes
//! rather than eating memory.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::model::CheckResult;
use crate::scheduler::ResultConsumer;
use crate::store::Store;

const BATCH: usize = 500;
const FLUSH_EVERY: Duration = Duration::from_millis(250);
const QUEUE: usize = 50_000;

pub struct Recorder {
    tx: mpsc::Sender<CheckResult>,
}

impl Recorder {
    /// Starts the writer task. It ends after every `Recorder` is dropped and the queue is written.
    pub fn spawn(
        store: Arc<dyn Store>,
        metrics: Metrics,
    ) -> (Recorder, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(write_loop(store, metrics, rx));
        (Recorder { tx }, task)
    }
}

#[async_trait]
impl ResultConsumer for Recorder {
    async fn consume(&self, result: CheckResult) {
        if self.tx.send(result).await.is_err() {
            tracing::error!("result recorder has stopped; result dropped");
        }
    }
}

async fn write_loop(store: Arc<dyn Store>, metrics: Metrics, mut rx: mpsc::Receiver<CheckResult>) {
    let mut batch: Vec<CheckResult> = Vec::with_capacity(BATCH);
    let mut closed = false;
    while !closed {
        // Wait for the first result, then gather more until the batch is full or old enough.
        match rx.recv().await {
            Some(r) => batch.push(r),
            None => break,
        }
        let deadline = tokio::time::Instant::now() + FLUSH_EVERY;
        while batch.len() < BATCH {
            let room = BATCH - batch.len();
            tokio::select! {
                n = rx.recv_many(&mut batch, room) => if n == 0 {
                    closed = true;
                    break;
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        write_batch(store.as_ref(), &metrics, &batch).await;
        batch.clear();
    }
}

/// Writes one batch, retrying with backoff until the store takes it.
async fn write_batch(store: &dyn Store, metrics: &Metrics, batch: &[CheckResult]) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match store.record(batch).await {
            Ok(()) => {
                metrics.store_batch(true);
                return;
            }
            Err(e) => {
                metrics.store_batch(false);
                tracing::error!(
                    error = %e,
                    results = batch.len(),
                    retry_in_ms = backoff.as_millis() as u64,
                    "could not write results to the store; retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}
