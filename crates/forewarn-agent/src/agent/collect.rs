//! Measuring: statvfs per mount, a directory walk or a Linux quota per account, and the rings of
//! samples kept for `history`.
//!
//! Everything here that touches the disk is blocking and runs inside `spawn_blocking`; requests
//! only read the latest sample.

use std::collections::{HashSet, VecDeque};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use walkdir::WalkDir;

use super::api::{AccountUsage, MountUsage, Sample};
use super::config::{AgentConfig, QuotaMode};

/// At most this many samples are kept per mount or account, whatever `history` says, so that a
/// `/v1/usage` answer stays well under the probe's 4 MiB body limit.
pub const MAX_SAMPLES_PER_SERIES: usize = 10_000;

/// What to measure, prepared once at start.
#[derive(Debug)]
pub(crate) struct Targets {
    mounts: Vec<PathBuf>,
    accounts: Vec<AccountTarget>,
}

#[derive(Debug)]
struct AccountTarget {
    name: String,
    path: PathBuf,
    limit: Option<u64>,
    source: UsageSource,
}

#[derive(Debug)]
enum UsageSource {
    Directory,
    Quota { device: PathBuf, uid: u32 },
}

impl Targets {
    /// Prepares the targets. Accounts asking for Linux quotas are checked here: when the quota
    /// cannot be read they fall back to the directory walk, and the returned warnings say so.
    pub(crate) fn prepare(config: &AgentConfig) -> (Targets, Vec<String>) {
        let mut warnings = Vec::new();
        let accounts = config
            .accounts
            .iter()
            .map(|a| {
                let source = match a.quota {
                    QuotaMode::Directory => UsageSource::Directory,
                    QuotaMode::Linux => match linux_quota_source(&a.path) {
                        Ok((device, uid)) => UsageSource::Quota { device, uid },
                        Err(reason) => {
                            let w = format!(
                                "account {}: Linux quota unavailable ({reason}); falling back to the directory size of {}",
                                a.name,
                                a.path.display()
                            );
                            tracing::warn!(account = %a.name, %reason, "linux quota unavailable, using directory size");
                            warnings.push(w);
                            UsageSource::Directory
                        }
                    },
                };
                AccountTarget {
                    name: a.name.clone(),
                    path: a.path.clone(),
                    limit: a.limit,
                    source,
                }
            })
            .collect();
        (
            Targets {
                mounts: config.mounts.clone(),
                accounts,
            },
            warnings,
        )
    }
}

/// One round of measurements (without history).
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub unix_ms: i64,
    pub mounts: Vec<MountUsage>,
    pub accounts: Vec<AccountUsage>,
}

/// Measures everything once. Blocking: call inside `spawn_blocking`.
pub(crate) fn collect(targets: &Targets) -> Snapshot {
    let mounts = targets.mounts.iter().map(|p| read_mount(p)).collect();
    let accounts = targets.accounts.iter().map(read_account).collect();
    Snapshot {
        unix_ms: unix_ms_now(),
        mounts,
        accounts,
    }
}

pub(crate) fn unix_ms_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

// statvfs field types differ between platforms (u32 on some 32-bit targets): keep the casts.
#[allow(clippy::unnecessary_cast)]
fn read_mount(path: &Path) -> MountUsage {
    let mut m = MountUsage {
        path: path.display().to_string(),
        total_bytes: None,
        used_bytes: None,
        avail_bytes: None,
        used_percent: None,
        inodes_total: None,
        inodes_used: None,
        inodes_used_percent: None,
        error: None,
        samples: Vec::new(),
    };
    match nix::sys::statvfs::statvfs(path) {
        Err(e) => m.error = Some(format!("statvfs failed: {e}")),
        Ok(st) => {
            let frsize = st.fragment_size() as u64;
            let total = st.blocks() as u64 * frsize;
            let free = st.blocks_free() as u64 * frsize;
            let avail = st.blocks_available() as u64 * frsize;
            let used = total.saturating_sub(free);
            m.total_bytes = Some(total);
            m.used_bytes = Some(used);
            m.avail_bytes = Some(avail);
            m.used_percent = percent(used, used + avail);
            let files = st.files() as u64;
            let inodes_used = files.saturating_sub(st.files_free() as u64);
            m.inodes_total = Some(files);
            m.inodes_used = Some(inodes_used);
            m.inodes_used_percent = percent(inodes_used, files);
        }
    }
    m
}

fn read_account(t: &AccountTarget) -> AccountUsage {
    let mut a = AccountUsage {
        name: t.name.clone(),
        path: t.path.display().to_string(),
        source: "directory".to_owned(),
        used_bytes: None,
        limit_bytes: t.limit,
        used_percent: None,
        unreadable_entries: 0,
        error: None,
        samples: Vec::new(),
    };
    match &t.source {
        UsageSource::Directory => match directory_size(&t.path) {
            Ok((used, unreadable)) => {
                a.used_bytes = Some(used);
                a.unreadable_entries = unreadable;
            }
            Err(e) => a.error = Some(e),
        },
        UsageSource::Quota { device, uid } => {
            a.source = "quota".to_owned();
            match read_quota(device, *uid) {
                Ok((used, limit)) => {
                    a.used_bytes = Some(used);
                    a.limit_bytes = limit.or(t.limit);
                }
                Err(e) => a.error = Some(e),
            }
        }
    }
    if let (Some(used), Some(limit)) = (a.used_bytes, a.limit_bytes) {
        a.used_percent = percent(used, limit);
    }
    a
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// Allocated bytes (`st_blocks × 512`, what `du` shows) under `root`: symlinks are not
/// followed, other filesystems are not entered, hard-linked files count once. Returns the total
/// and the number of entries that could not be read.
fn directory_size(root: &Path) -> Result<(u64, u64), String> {
    std::fs::symlink_metadata(root).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
    let mut total = 0u64;
    let mut unreadable = 0u64;
    let mut seen_links: HashSet<(u64, u64)> = HashSet::new();
    for entry in WalkDir::new(root)
        .follow_links(false)
        .same_file_system(true)
    {
        let meta = match entry.map_err(walkdir::Error::into_io_error) {
            Ok(e) => e.metadata().map_err(walkdir::Error::into_io_error),
            Err(e) => Err(e),
        };
        match meta {
            Ok(m) => {
                if !m.is_dir() && m.nlink() > 1 && !seen_links.insert((m.dev(), m.ino())) {
                    continue;
                }
                total = total.saturating_add(m.blocks().saturating_mul(512));
            }
            // Removed while we walked: not there, nothing to count.
            Err(Some(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => unreadable += 1,
        }
    }
    Ok((total, unreadable))
}

/// The block device and owner uid for reading `path`'s user quota; checks that it can be read.
fn linux_quota_source(path: &Path) -> Result<(PathBuf, u32), String> {
    let uid = std::fs::metadata(path)
        .map_err(|e| format!("cannot stat {}: {e}", path.display()))?
        .uid();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let canonical = path
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
    let device = mount_source(&mountinfo, &canonical)
        .ok_or_else(|| format!("no mount found for {}", canonical.display()))?;
    read_quota(&device, uid)?;
    Ok((device, uid))
}

/// Used bytes and the limit (hard, else soft; `None` when neither is set) of `uid`'s quota.
fn read_quota(device: &Path, uid: u32) -> Result<(u64, Option<u64>), String> {
    use nix::sys::quota::{QuotaType, quotactl_get};
    let id = i32::try_from(uid).map_err(|_| format!("uid {uid} out of range"))?;
    let q = quotactl_get(QuotaType::USRQUOTA, device, id)
        .map_err(|e| format!("quotactl on {} for uid {uid}: {e}", device.display()))?;
    let used = q.occupied_space().ok_or_else(|| {
        format!(
            "quota on {} reports no usage for uid {uid}",
            device.display()
        )
    })?;
    // Quota limits are in 1 KiB blocks.
    let limit = [q.blocks_hard_limit(), q.blocks_soft_limit()]
        .into_iter()
        .flatten()
        .find(|&l| l > 0)
        .map(|l| l.saturating_mul(1024));
    Ok((used, limit))
}

/// The mount source (device) of the longest mount point containing `path`, from
/// /proc/self/mountinfo text.
fn mount_source(mountinfo: &str, path: &Path) -> Option<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = unescape_mount(left.split(' ').nth(4)?);
            let source = unescape_mount(right.split(' ').nth(1)?);
            Some((PathBuf::from(mount_point), PathBuf::from(source)))
        })
        .filter(|(mp, _)| path.starts_with(mp))
        .max_by_key(|(mp, _)| mp.components().count())
        .map(|(_, source)| source)
}

/// Undoes mountinfo's octal escapes (`\040` is a space).
fn unescape_mount(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let code = std::str::from_utf8(&bytes[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok());
            if let Some(c) = code {
                out.push(c);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A ring of samples for one mount or account.
#[derive(Debug)]
struct Series {
    samples: VecDeque<Sample>,
}

impl Series {
    fn push(&mut self, sample: Sample, history_ms: i64) {
        self.samples.push_back(sample);
        let oldest = sample.0 - history_ms;
        while self.samples.len() > MAX_SAMPLES_PER_SERIES
            || self.samples.front().is_some_and(|s| s.0 < oldest)
        {
            self.samples.pop_front();
        }
    }

    fn since(&self, from_ms: i64) -> Vec<Sample> {
        self.samples
            .iter()
            .filter(|s| s.0 >= from_ms)
            .copied()
            .collect()
    }
}

/// The latest snapshot and the rings of samples, shared by the sampler and the request
/// handlers. The lock is never held across an `.await`.
pub(crate) struct Samples {
    history: Duration,
    state: RwLock<State>,
}

struct State {
    latest: Snapshot,
    mounts: Vec<Series>,
    accounts: Vec<Series>,
}

impl Samples {
    pub(crate) fn new(first: Snapshot, history: Duration) -> Samples {
        let series = |n: usize| {
            (0..n)
                .map(|_| Series {
                    samples: VecDeque::new(),
                })
                .collect()
        };
        let samples = Samples {
            history,
            state: RwLock::new(State {
                mounts: series(first.mounts.len()),
                accounts: series(first.accounts.len()),
                latest: first.clone(),
            }),
        };
        samples.record(first);
        samples
    }

    /// Records a new snapshot: it becomes the latest and its used bytes join the rings.
    pub(crate) fn record(&self, snap: Snapshot) {
        let history_ms = self.history.as_millis() as i64;
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        for (series, m) in state.mounts.iter_mut().zip(&snap.mounts) {
            if let Some(used) = m.used_bytes {
                series.push((snap.unix_ms, used), history_ms);
            }
        }
        for (series, a) in state.accounts.iter_mut().zip(&snap.accounts) {
            if let Some(used) = a.used_bytes {
                series.push((snap.unix_ms, used), history_ms);
            }
        }
        state.latest = snap;
    }

    pub(crate) fn latest_unix_ms(&self) -> i64 {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .latest
            .unix_ms
    }

    /// The latest values with the samples of the last `window` (all kept samples when `None`).
    pub(crate) fn current(&self, window: Option<Duration>) -> Snapshot {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let mut snap = state.latest.clone();
        let from = match window {
            None => i64::MIN,
            Some(w) => snap.unix_ms - w.as_millis().min(i64::MAX as u128) as i64,
        };
        for (m, series) in snap.mounts.iter_mut().zip(&state.mounts) {
            m.samples = series.since(from);
        }
        for (a, series) in snap.accounts.iter_mut().zip(&state.accounts) {
            a.samples = series.since(from);
        }
        snap
    }
}

/// Takes a sample every `interval` until the task is aborted. The disk work runs in
/// `spawn_blocking`; a slow walk delays the next tick rather than piling up.
pub(crate) async fn sample_loop(targets: Arc<Targets>, samples: Arc<Samples>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; the first sample was taken at start
    loop {
        ticker.tick().await;
        let t = Arc::clone(&targets);
        match tokio::task::spawn_blocking(move || collect(&t)).await {
            Ok(snap) => samples.record(snap),
            Err(e) => tracing::error!(error = %e, "sampling task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_source_picks_the_longest_mount_point() {
        let info = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 8:2 / /home rw,relatime shared:2 - xfs /dev/sda2 rw,usrquota
41 22 8:3 / /home\\040data rw shared:3 - ext4 /dev/sdb1 rw
";
        assert_eq!(
            mount_source(info, Path::new("/home/acme")),
            Some(PathBuf::from("/dev/sda2"))
        );
        assert_eq!(
            mount_source(info, Path::new("/var/www")),
            Some(PathBuf::from("/dev/sda1"))
        );
        assert_eq!(
            mount_source(info, Path::new("/home data/x")),
            Some(PathBuf::from("/dev/sdb1"))
        );
    }

    #[test]
    fn series_keeps_only_history_and_the_cap() {
        let mut s = Series {
            samples: VecDeque::new(),
        };
        for t in 0..20 {
            s.push((t * 1000, t as u64), 5_000);
        }
        assert_eq!(s.samples.front(), Some(&(14_000, 14)));
        assert_eq!(s.since(18_000), vec![(18_000, 18), (19_000, 19)]);
    }

    #[test]
    fn directory_size_counts_allocated_bytes_once_per_hard_link() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), vec![1u8; 64 * 1024]).unwrap();
        let (one, _) = directory_size(dir.path()).unwrap();
        std::fs::hard_link(dir.path().join("a"), dir.path().join("b")).unwrap();
        std::os::unix::fs::symlink("/usr", dir.path().join("link")).unwrap();
        let (linked, unreadable) = directory_size(dir.path()).unwrap();
        assert!(one >= 64 * 1024, "{one}");
        // The symlink itself may take a block on some filesystems; the target is not walked.
        assert!(linked - one < 64 * 1024, "{one} {linked}");
        assert_eq!(unreadable, 0);
    }
}
