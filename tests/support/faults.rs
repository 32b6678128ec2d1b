//! Storage faults for end-to-end tests: a small tmpfs that can be filled and freed (a full disk
//! under SQLite), and a private PostgreSQL server that can be stopped and started (a database
//! restart) without touching the shared one other tests use.
//!
//! Both need root (mount; running the server as the `postgres` user), as CI and this machine
//! have. Everything is undone on drop.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs of a few MiB mounted on a fresh directory.
pub struct Tmpfs {
    dir: tempfile::TempDir,
    filler: PathBuf,
}

impl Tmpfs {
    pub fn mount(mib: u32) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0700")])
            .arg("tmpfs")
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs (the full-disk test needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let filler = dir.path().join("filler");
        Tmpfs { dir, filler }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills every free byte; returns how many were written.
    pub fn fill(&self) -> u64 {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.filler)
            .unwrap();
        let chunk = vec![0u8; 4096];
        let mut written = 0u64;
        while f.write_all(&chunk).is_ok() {
            written += chunk.len() as u64;
        }
        // The last partial page too.
        while f.write_all(&chunk[..1]).is_ok() {
            written += 1;
        }
        let _ = f.sync_all();
        written
    }

    /// Frees what [`fill`](Self::fill) took.
    pub fn free(&self) {
        let _ = std::fs::remove_file(&self.filler);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A PostgreSQL server of its own on an ephemeral port, run as the `postgres` user.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

impl PgServer {
    /// initdb and start (trust authentication on 127.0.0.1, database `postgres`).
    pub fn start() -> PgServer {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql")
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())
            .expect("initdb");
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = PgServer { dir, bin, port };
        pg.as_postgres(
            &["chown", "-R", "postgres", &pg.dir.path().to_string_lossy()],
            true,
        );
        let data = pg.data();
        pg.as_postgres(
            &[
                &pg.bin.join("initdb").to_string_lossy(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-D",
                &data,
            ],
            false,
        );
        pg.up();
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    /// Runs a command as root (`root`) or as the `postgres` user; panics with its output when
    /// it fails.
    fn as_postgres(&self, args: &[&str], root: bool) {
        let mut cmd = if root {
            let mut c = Command::new(args[0]);
            c.args(&args[1..]);
            c
        } else {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).args(args);
            c
        };
        let out = cmd
            .current_dir("/")
            .output()
            .expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it takes connections.
    pub fn up(&self) {
        let log = self.dir.path().join("server.log");
        self.as_postgres(
            &[
                &self.bin.join("pg_ctl").to_string_lossy(),
                "-D",
                &self.data(),
                "-l",
                &log.to_string_lossy(),
                "-o",
                &format!(
                    "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
                    self.port,
                    self.dir.path().display()
                ),
                "-w",
                "start",
            ],
            false,
        );
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "PostgreSQL did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (fast: open connections are cut, as in a restart).
    pub fn down(&self) {
        self.as_postgres(
            &[
                &self.bin.join("pg_ctl").to_string_lossy(),
                "-D",
                &self.data(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            false,
        );
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .current_dir("/")
            .output();
    }
}
