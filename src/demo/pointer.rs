//! Where a running `forewarn demo` announces its configuration, so that the commands people type
//! next (the README's `forewarn ticket list`, `forewarn customer link acme`) act on the demo's
//! database without `--config`. The demo writes a small JSON file when it starts and removes it
//! when it stops; a command given neither `--config` nor `FOREWARN_CONFIG` follows it while the
//! demo's process is alive (see `cli::config_path`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a running demo wrote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Running {
    pub config: PathBuf,
    pub url: String,
    pub pid: u32,
}

/// `$XDG_RUNTIME_DIR/forewarn-demo.json`, else `<temp dir>/forewarn-demo-<uid>.json`: per
/// user, so one user's demo never steers another user's commands.
pub fn file() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("forewarn-demo.json"),
        None => std::env::temp_dir().join(format!(
            "forewarn-demo-{}.json",
            nix::unistd::getuid().as_raw()
        )),
    }
}

/// Removes the announcement when dropped, if it is still this process's.
pub struct Announcement {
    path: PathBuf,
}

impl Drop for Announcement {
    fn drop(&mut self) {
        if read(&self.path).is_some_and(|r| r.pid == std::process::id()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Announces this process's demo (a later demo replaces an earlier one's announcement).
pub fn announce(config: &Path, url: &str) -> std::io::Result<Announcement> {
    let path = file();
    let config = std::path::absolute(config)?;
    let running = Running {
        config,
        url: url.to_owned(),
        pid: std::process::id(),
    };
    let tmp = path.with_extension(format!("json.{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&running)?)?;
    std::fs::rename(&tmp, &path)?;
    Ok(Announcement { path })
}

/// The demo running now, if one announced itself and its process is alive and its
/// configuration still exists.
pub fn running() -> Option<Running> {
    let r = read(&file())?;
    let pid = i32::try_from(r.pid).ok()?;
    let alive = match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    };
    (alive && r.config.is_file()).then_some(r)
}

fn read(path: &Path) -> Option<Running> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}
