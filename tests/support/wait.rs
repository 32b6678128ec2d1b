//! Waiting, bounded, for something a server does in the background.

use std::time::{Duration, Instant};

/// Polls `f` every 100 ms until it holds; fails the test after `limit`, naming `what`.
pub async fn wait_until<F: Fn() -> bool>(what: &str, limit: Duration, f: F) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
