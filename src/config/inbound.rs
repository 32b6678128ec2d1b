//! `[[inbound]]`: support mailboxes fetched over IMAP, or a directory of `.eml` files (the
//! demo's inbox, trials without a mail server); see `src/inbound/`.
//!
//! ```toml
//! [[inbound]]
//! name = "support"
//! server = "imap.hoster.example"
//! tls = "tls"                      # "tls" (port 993), "starttls" or "none" (port 143)
//! user = "support@hoster.example"
//! password = { env = "FOREWARN_IMAP_PASSWORD" }
//! # port, ca_file, folder = "INBOX", processed_folder = "Processed", poll_interval = "60s", idle = true
//! # keep_original = "10MiB", requests_per_hour = 20
//!
//! [[inbound]]
//! name = "trial"
//! directory = "data/inbox"         # every *.eml here is a message; taken ones go to processed/
//! # poll_interval = "60s", keep_original, requests_per_hour
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::Validator;
use crate::secret::{Secret, SecretRef};

/// One `[[inbound]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInbound {
    /// The mailbox's name in logs, metrics and `forewarn inbound status`.
    pub name: Spanned<String>,
    /// The IMAP server's host name or address.
    pub server: Option<Spanned<String>>,
    /// Instead of a server: a directory whose `*.eml` files are the messages (relative to
    /// forewarn.toml); each taken one is moved to its `processed/` subdirectory.
    pub directory: Option<Spanned<String>>,
    /// Default 993 with `tls = "tls"`, else 143.
    pub port: Option<Spanned<i64>>,
    /// `"tls"` (default), `"starttls"` or `"none"` (loopback only).
    pub tls: Option<Spanned<String>>,
    /// A PEM file with the CA that signed the server's certificate (a private CA); default: the
    /// system's roots.
    pub ca_file: Option<Spanned<String>>,
    pub user: Option<Spanned<String>>,
    /// `{ env = "NAME" }` or `{ file = "path" }`.
    pub password: Option<Spanned<SecretRef>>,
    /// Where new mail is read (default `INBOX`).
    pub folder: Option<Spanned<String>>,
    /// Where taken mail is moved (default `Processed`; created if missing).
    pub processed_folder: Option<Spanned<String>>,
    /// How often the mailbox is looked at when the server has no IDLE, or `idle = false`
    /// (default 60s); also how soon a message that could not be taken is tried again.
    pub poll_interval: Option<Spanned<String>>,
    /// Wait with IDLE when the server offers it (default true).
    pub idle: Option<bool>,
    /// The original of each message (and so its attachments) is kept for staff up to this size
    /// (default 10MiB, at most 32MiB); a larger one is kept cut, its attachments only listed.
    pub keep_original: Option<Spanned<String>>,
    /// At most this many new tickets by mail from one sender per hour (default 20); more mail
    /// from them opens nothing and is listed as ignored.
    pub requests_per_hour: Option<Spanned<i64>>,
}

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (IMAPS).
    Tls,
    /// Plain, then STARTTLS before LOGIN.
    StartTls,
    /// Plain text all along: only to a loopback address.
    None,
}

/// One `[[inbound]]` mailbox, validated.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub name: String,
    pub source: MailSource,
    /// Where new mail is read: an IMAP folder, or the directory.
    pub folder: String,
    /// Where taken mail is moved: an IMAP folder, or the directory's subdirectory.
    pub processed_folder: String,
    /// How often the mailbox is looked at without IDLE; how soon a refused message is retried.
    pub poll_interval: Duration,
    /// Bytes of each original kept for staff.
    pub keep_original: usize,
    /// New tickets by mail per sender per hour.
    pub requests_per_hour: u64,
}

/// Where a mailbox's mail comes from.
#[derive(Debug, Clone)]
pub enum MailSource {
    Imap(ImapServer),
    /// A directory of `.eml` files (joined to forewarn.toml's directory).
    Directory(PathBuf),
}

/// An IMAP server and the login to it.
#[derive(Debug, Clone)]
pub struct ImapServer {
    pub server: String,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub user: String,
    pub password: Secret,
    /// Wait with IDLE when the server offers it.
    pub idle: bool,
}

impl Inbound {
    /// Where its mail comes from, for people: `host:port`, or the directory.
    pub fn origin(&self) -> String {
        match &self.source {
            MailSource::Imap(s) => format!("{}:{}", s.server, s.port),
            MailSource::Directory(d) => d.display().to_string(),
        }
    }
}

/// A directory mailbox's subdirectory that taken mail is moved to.
pub const PROCESSED_DIR: &str = "processed";

/// The default of `keep_original`.
pub const KEEP_ORIGINAL: usize = 10 << 20;
/// The largest message fetched at all (a larger one stays in the mailbox, reported).
pub const MAX_MESSAGE_BYTES: usize = 32 << 20;

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn loopback(server: &str) -> bool {
    server.eq_ignore_ascii_case("localhost")
        || server
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

/// A folder name: not empty, no control characters or double quotes.
fn folder(v: &mut Validator, s: Option<&Spanned<String>>, key: &str, default: &str) -> String {
    let Some(s) = s else {
        return default.to_owned();
    };
    let f = s.get_ref();
    if f.is_empty() || f.chars().any(|c| c.is_control() || c == '"' || c == '\\') {
        v.err(
            s,
            key,
            format!("{f:?} is not a folder name: write it without quotes, backslashes or control characters"),
        );
        return default.to_owned();
    }
    f.clone()
}

pub(super) fn build(v: &mut Validator, base: &Path, raws: &[RawInbound]) -> Vec<Inbound> {
    let mut out: Vec<Inbound> = Vec::new();
    // Every name written, also of mailboxes with a mistake.
    let mut names: Vec<&str> = Vec::new();
    for (i, r) in raws.iter().enumerate() {
        let key = |k: &str| format!("inbound[{i}].{k}");
        let name = r.name.get_ref().clone();
        if !valid_name(&name) {
            v.err(
                &r.name,
                &key("name"),
                format!(
                    "{name:?} is not a name: use 1-64 characters of a-z, A-Z, 0-9, '.', '_', '-'"
                ),
            );
        } else if names.contains(&name.as_str()) {
            v.err(
                &r.name,
                &key("name"),
                format!("another [[inbound]] is already named {name:?}: names must differ"),
            );
        }
        names.push(r.name.get_ref());
        let source = match (&r.server, &r.directory) {
            (Some(server), None) => imap(v, base, r, server, &key).map(MailSource::Imap),
            (None, Some(d)) => directory(v, base, r, d, &key).map(MailSource::Directory),
            (Some(server), Some(_)) => {
                v.err(
                    server,
                    &key("server"),
                    "write either server (an IMAP mailbox) or directory (a folder of .eml files), not both",
                );
                None
            }
            (None, None) => {
                v.err(
                    &r.name,
                    &key("server"),
                    "say where the mail is: server = \"imap.example.net\" (IMAP), or directory = \"data/inbox\" (a folder of .eml files)",
                );
                None
            }
        };
        let (folder_name, processed) = match &source {
            Some(MailSource::Directory(d)) => (d.display().to_string(), PROCESSED_DIR.to_owned()),
            _ => (
                folder(v, r.folder.as_ref(), &key("folder"), "INBOX"),
                folder(
                    v,
                    r.processed_folder.as_ref(),
                    &key("processed_folder"),
                    "Processed",
                ),
            ),
        };
        if processed == folder_name
            && let Some(p) = r.processed_folder.as_ref().or(r.folder.as_ref())
        {
            v.err(
                p,
                &key("processed_folder"),
                "the processed folder must differ from the folder mail is read from",
            );
        }
        let poll_interval = v.duration_or(r.poll_interval.as_ref(), &key("poll_interval"), 60);
        let keep_original = match &r.keep_original {
            None => KEEP_ORIGINAL,
            Some(s) => match super::parse_size(s.get_ref()).map(usize::try_from) {
                Some(Ok(n)) if n <= MAX_MESSAGE_BYTES => n,
                _ => {
                    v.err(
                        s,
                        &key("keep_original"),
                        "bad size: write e.g. 512KiB or 10MiB, at most 32MiB",
                    );
                    KEEP_ORIGINAL
                }
            },
        };
        let requests_per_hour = match &r.requests_per_hour {
            None => 20,
            Some(n) => u64::try_from(*n.get_ref()).unwrap_or_else(|_| {
                v.err(n, &key("requests_per_hour"), "0 or more");
                20
            }),
        };
        let Some(source) = source else {
            continue;
        };
        out.push(Inbound {
            name,
            source,
            folder: folder_name,
            processed_folder: processed,
            poll_interval,
            keep_original,
            requests_per_hour,
        });
    }
    out
}

/// The IMAP half of an `[[inbound]]` table; `None` when it has a mistake (reported).
fn imap(
    v: &mut Validator,
    base: &Path,
    r: &RawInbound,
    host: &Spanned<String>,
    key: &dyn Fn(&str) -> String,
) -> Option<ImapServer> {
    let errors = v.diags.len();
    let server = host.get_ref().trim().to_owned();
    if server.is_empty() || server.contains(char::is_whitespace) {
        v.err(
            host,
            &key("server"),
            "write the IMAP server's host name or address",
        );
    }
    let tls = match r.tls.as_ref().map(|t| (t, t.get_ref().as_str())) {
        None | Some((_, "tls")) => TlsMode::Tls,
        Some((_, "starttls")) => TlsMode::StartTls,
        Some((t, "none")) => {
            if !loopback(&server) {
                v.err(
                    t,
                    &key("tls"),
                    format!(
                        "tls = \"none\" sends the password in clear text, so it is allowed only \
                         to a loopback address (127.0.0.1, ::1, localhost), not to {server:?}: \
                         use \"tls\" or \"starttls\""
                    ),
                );
            }
            TlsMode::None
        }
        Some((t, other)) => {
            v.err(
                t,
                &key("tls"),
                format!("{other:?} is not a TLS mode: write \"tls\", \"starttls\" or \"none\""),
            );
            TlsMode::Tls
        }
    };
    let default_port = if tls == TlsMode::Tls { 993 } else { 143 };
    let port = match r.port.as_ref() {
        None => default_port,
        Some(p) => u16::try_from(*p.get_ref())
            .ok()
            .filter(|p| *p > 0)
            .unwrap_or_else(|| {
                v.err(p, &key("port"), "a port from 1 to 65535");
                default_port
            }),
    };
    let ca_file = r.ca_file.as_ref().and_then(|f| {
        let p = base.join(f.get_ref());
        if p.is_file() {
            Some(p)
        } else {
            v.err(
                f,
                &key("ca_file"),
                format!("file {} does not exist", p.display()),
            );
            None
        }
    });
    if ca_file.is_some()
        && tls == TlsMode::None
        && let Some(f) = r.ca_file.as_ref()
    {
        v.err(
            f,
            &key("ca_file"),
            "a CA file means nothing with tls = \"none\"",
        );
    }
    let password = match &r.password {
        Some(p) => p
            .get_ref()
            .load(base)
            .map_err(|e| v.err(p, &key("password"), e.to_string()))
            .ok(),
        None => {
            v.err(
                host,
                &key("password"),
                "an IMAP mailbox needs password = { env = \"NAME\" } or { file = \"path\" }",
            );
            None
        }
    };
    let user = match &r.user {
        Some(u) if !u.get_ref().trim().is_empty() => u.get_ref().clone(),
        Some(u) => {
            v.err(u, &key("user"), "write the mailbox's login name");
            String::new()
        }
        None => {
            v.err(
                host,
                &key("user"),
                "an IMAP mailbox needs user = \"its login name\"",
            );
            String::new()
        }
    };
    let password = password?;
    (v.diags.len() == errors).then(|| ImapServer {
        server,
        port,
        tls,
        ca_file,
        user,
        password,
        idle: r.idle.unwrap_or(true),
    })
}

/// The directory half of an `[[inbound]]` table: no IMAP keys, a path that is no file.
fn directory(
    v: &mut Validator,
    base: &Path,
    r: &RawInbound,
    d: &Spanned<String>,
    key: &dyn Fn(&str) -> String,
) -> Option<PathBuf> {
    let mut ok = true;
    let mut imap_only = |name: &str, span: Option<std::ops::Range<usize>>| {
        if let Some(span) = span {
            v.err(
                &Spanned::new(span, ()),
                &key(name),
                format!(
                    "{name} is for an IMAP server; a directory mailbox reads its *.eml files and \
                     moves each taken one to {PROCESSED_DIR}/: remove {name}"
                ),
            );
            ok = false;
        }
    };
    imap_only("port", r.port.as_ref().map(Spanned::span));
    imap_only("tls", r.tls.as_ref().map(Spanned::span));
    imap_only("ca_file", r.ca_file.as_ref().map(Spanned::span));
    imap_only("user", r.user.as_ref().map(Spanned::span));
    imap_only("password", r.password.as_ref().map(Spanned::span));
    imap_only("folder", r.folder.as_ref().map(Spanned::span));
    imap_only(
        "processed_folder",
        r.processed_folder.as_ref().map(Spanned::span),
    );
    imap_only("idle", r.idle.map(|_| d.span()));
    let written = d.get_ref().trim();
    if written.is_empty() {
        v.err(
            d,
            &key("directory"),
            "write the directory the .eml files are put in",
        );
        return None;
    }
    let path = base.join(written);
    if path.exists() && !path.is_dir() {
        v.err(
            d,
            &key("directory"),
            format!("{} is a file, not a directory", path.display()),
        );
        return None;
    }
    ok.then_some(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_addresses() {
        for ok in ["127.0.0.1", "::1", "[::1]", "localhost", "127.3.4.5"] {
            assert!(super::loopback(ok), "{ok}");
        }
        for no in ["10.0.0.1", "imap.example.com", "192.168.1.1", ""] {
            assert!(!super::loopback(no), "{no}");
        }
    }
}
