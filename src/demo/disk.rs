//! The demo's filling disk: a customer account directory that grows steadily, for the host
//! agent to notice.
//!
//! Every [`INTERVAL`] the filler writes one file of [`FILE_SIZE`] bytes. When the directory
//! holds [`LIMIT`] bytes of them (640 files, after 5 min 20 s) it deletes them
//! all and starts over, so the demo never uses more than [`LIMIT`] of real disk.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// The size of each file written: 64 KiB.
pub(super) const FILE_SIZE: usize = 64 * 1024;
/// One file is written this often: 500 ms.
pub(super) const INTERVAL: Duration = Duration::from_millis(500);
/// The most the directory holds before it is emptied: 40 MiB.
pub(super) const LIMIT: u64 = 40 * 1024 * 1024;

/// How a directory is filled; [`fill`] uses the numbers above.
#[derive(Debug, Clone, Copy)]
struct Plan {
    file_size: usize,
    interval: Duration,
    limit: u64,
}

const PLAN: Plan = Plan {
    file_size: FILE_SIZE,
    interval: INTERVAL,
    limit: LIMIT,
};

const PREFIX: &str = "fill-";
const SUFFIX: &str = ".bin";

/// Empties `dir` of the filler's files (left over from an earlier run), then fills it as the
/// module says until `stop` changes or its sender is dropped. Write failures (say the disk is
/// really full) are logged and the cycle goes on.
pub(super) async fn fill(dir: PathBuf, stop: watch::Receiver<()>) {
    fill_by(PLAN, dir, stop).await;
}

async fn fill_by(plan: Plan, dir: PathBuf, mut stop: watch::Receiver<()>) {
    let files_per_cycle = plan.limit / plan.file_size as u64;
    // Random bytes, so that a compressing file system still counts the full size.
    let mut data = vec![0u8; plan.file_size];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut data);

    if let Err(error) = remove_files(&dir).await {
        tracing::warn!(dir = %dir.display(), %error, "could not empty the demo account directory");
    }
    let mut tick = tokio::time::interval(plan.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut index: u64 = 0;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
        }
        if index == files_per_cycle {
            if let Err(error) = remove_files(&dir).await {
                tracing::warn!(dir = %dir.display(), %error, "could not empty the demo account directory");
            }
            index = 0;
        }
        let path = dir.join(format!("{PREFIX}{index:04}{SUFFIX}"));
        if let Err(error) = tokio::fs::write(&path, &data).await {
            tracing::warn!(path = %path.display(), %error, "could not write a demo fill file");
        }
        index += 1;
    }
}

/// Deletes the filler's own files in `dir` (and nothing else).
async fn remove_files(dir: &Path) -> io::Result<()> {
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(PREFIX) && name.ends_with(SUFFIX) {
            tokio::fs::remove_file(entry.path()).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_640_files_of_64_kib() {
        assert_eq!(LIMIT / FILE_SIZE as u64, 640);
        assert_eq!(LIMIT % FILE_SIZE as u64, 0);
        assert_eq!(INTERVAL * 640, Duration::from_secs(320));
    }

    fn fill_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(PREFIX))
            .collect();
        names.sort();
        names
    }

    /// The same loop with small numbers: 3 files of 1 KiB, then empty, again and again; other
    /// files in the directory are left alone, and it stops when told.
    #[tokio::test]
    async fn the_directory_fills_to_the_limit_then_starts_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("fill-9999.bin"), b"old run").expect("write");
        std::fs::write(dir.path().join("index.html"), b"customer file").expect("write");
        let plan = Plan {
            file_size: 1024,
            interval: Duration::from_millis(10),
            limit: 3 * 1024,
        };
        let (stop, stopped) = watch::channel(());
        let task = tokio::spawn(fill_by(plan, dir.path().to_owned(), stopped));

        // Watch until the directory has been full and emptied again (bounded: 3 s).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        let mut counts: Vec<usize> = Vec::new();
        let mut wrapped = false;
        while !wrapped && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
            // (The old run's file may still be there in the first moments.)
            let names = fill_files(dir.path());
            let written = names.iter().filter(|n| *n != "fill-9999.bin").count();
            assert!(written <= 3, "never over the limit: {names:?}");
            wrapped = counts.contains(&3) && written < 3;
            counts.push(written);
        }
        assert!(wrapped, "filled to the limit, then emptied: {counts:?}");
        assert!(!fill_files(dir.path()).contains(&"fill-9999.bin".to_owned()));

        stop.send_replace(());
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .expect("stops when told")
            .expect("no panic");
        assert_eq!(
            std::fs::read(dir.path().join("index.html")).expect("still there"),
            b"customer file"
        );
    }
}
