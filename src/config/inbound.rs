//! `[[inbound]]`: support mailboxes fetched over IMAP (see `src/inbound/`).
//!
//! ```toml
//! [[inbound]]
//! name = "support"
//! server = "imap.hoster.example"
//! tls = "tls"                      # "tls" (port 993), "starttls" or "none" (port 143)
//! user = "support@hoster.example"
//! password = { env = "FOREWARN_IMAP_PASSWORD" }
//! # port, ca_file, folder = "INBOX", processed_folder = "Processed", poll_interval = "60s", idle = true
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
    pub server: Spanned<String>,
    /// Default 993 with `tls = "tls"`, else 143.
    pub port: Option<Spanned<i64>>,
    /// `"tls"` (default), `"starttls"` or `"none"` (loopback only).
    pub tls: Option<Spanned<String>>,
    /// A PEM file with the CA that signed the server's certificate (a private CA); default: the
    /// system's roots.
    pub ca_file: Option<Spanned<String>>,
    pub user: Spanned<String>,
    /// `{ env = "NAME" }` or `{ file = "path" }`.
    pub password: Spanned<SecretRef>,
    /// Where new mail is read (default `INBOX`).
    pub folder: Option<Spanned<String>>,
    /// Where taken mail is moved (default `Processed`; created if missing).
    pub processed_folder: Option<Spanned<String>>,
    /// How often the mailbox is looked at when the server has no IDLE, or `idle = false`
    /// (default 60s); also how soon a message that could not be taken is tried again.
    pub poll_interval: Option<Spanned<String>>,
    /// Wait with IDLE when the server offers it (default true).
    pub idle: Option<bool>,
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
    pub server: String,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub user: String,
    pub password: Secret,
    pub folder: String,
    pub processed_folder: String,
    pub poll_interval: Duration,
    pub idle: bool,
}

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
        } else if out.iter().any(|o| o.name == name) {
            v.err(
                &r.name,
                &key("name"),
                format!("another [[inbound]] is already named {name:?}: names must differ"),
            );
        }
        let server = r.server.get_ref().trim().to_owned();
        if server.is_empty() || server.contains(char::is_whitespace) {
            v.err(
                &r.server,
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
        if ca_file.is_some() && tls == TlsMode::None {
            if let Some(f) = r.ca_file.as_ref() {
                v.err(
                    f,
                    &key("ca_file"),
                    "a CA file means nothing with tls = \"none\"",
                );
            }
        }
        let password = r
            .password
            .get_ref()
            .load(base)
            .map_err(|e| v.err(&r.password, &key("password"), e.to_string()))
            .ok();
        let folder_name = folder(v, r.folder.as_ref(), &key("folder"), "INBOX");
        let processed = folder(
            v,
            r.processed_folder.as_ref(),
            &key("processed_folder"),
            "Processed",
        );
        if processed == folder_name {
            if let Some(p) = r.processed_folder.as_ref().or(r.folder.as_ref()) {
                v.err(
                    p,
                    &key("processed_folder"),
                    "the processed folder must differ from the folder mail is read from",
                );
            }
        }
        let poll_interval = v.duration_or(r.poll_interval.as_ref(), &key("poll_interval"), 60);
        if user_empty(r) {
            v.err(&r.user, &key("user"), "write the mailbox's login name");
        }
        out.push(Inbound {
            name,
            server,
            port,
            tls,
            ca_file,
            user: r.user.get_ref().clone(),
            password: password.unwrap_or_else(|| Secret::new(String::new())),
            folder: folder_name,
            processed_folder: processed,
            poll_interval,
            idle: r.idle.unwrap_or(true),
        });
    }
    out
}

fn user_empty(r: &RawInbound) -> bool {
    r.user.get_ref().trim().is_empty()
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
