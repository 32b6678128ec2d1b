//! A directory mailbox (`[[inbound]] directory = "…"`): every `*.eml` file in the directory is a
//! message. Each round reads them (oldest name first), hands each to the intake and moves the
//! taken ones to `processed/`; then it sleeps the poll interval. The demo's inbox, and a way to
//! try forewarn's mail intake without a mail server.
//!
//! A file's key is its content's SHA-256 (bytes 4–7 as UIDVALIDITY, 0–3 as UID), so exactly once
//! holds as with IMAP: a crash between the intake and the move reads the file again, and the
//! intake answers that it was taken. The same content put in twice is one message. Files whose
//! name starts with `.` are not read (write `.name.tmp`, then rename it to `name.eml`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{Events, Fetched, Intake};
use crate::config::Inbound;
use crate::config::inbound::{MAX_MESSAGE_BYTES, PROCESSED_DIR};

/// Runs until `stop` turns true: a round, then the poll interval.
pub(super) async fn fetch_loop(
    mailbox: &Inbound,
    dir: &Path,
    intake: &dyn Intake,
    events: &Events,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut failing = false;
    // Files over the size limit, reported once.
    let mut too_large: HashSet<PathBuf> = HashSet::new();
    loop {
        if *stop.borrow() {
            return;
        }
        match round(mailbox, dir, intake, events, &mut too_large, &stop).await {
            Ok(()) => {
                if failing {
                    tracing::info!(mailbox = %mailbox.name, "inbound directory readable again");
                }
                failing = false;
                events.round_done().await;
            }
            Err(e) => {
                events
                    .error(&format!("{}: {e}", dir.display()), !failing)
                    .await;
                failing = true;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(mailbox.poll_interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The `*.eml` files to read, by name.
async fn messages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(e) = entries.next_entry().await? {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.to_ascii_lowercase().ends_with(".eml") {
            continue;
        }
        if e.file_type().await?.is_file() {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

/// The key of a file's content: (UIDVALIDITY, UID).
pub fn key_of(raw: &[u8]) -> (u32, u32) {
    let d = ring::digest::digest(&ring::digest::SHA256, raw);
    let b = d.as_ref();
    (
        u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
    )
}

async fn round(
    mailbox: &Inbound,
    dir: &Path,
    intake: &dyn Intake,
    events: &Events,
    too_large: &mut HashSet<PathBuf>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let processed = dir.join(PROCESSED_DIR);
    tokio::fs::create_dir_all(&processed).await?;
    for path in messages(dir).await? {
        if *stop.borrow() {
            break;
        }
        if too_large.contains(&path) {
            continue;
        }
        let size = tokio::fs::metadata(&path).await?.len();
        if size > MAX_MESSAGE_BYTES as u64 {
            too_large.insert(path.clone());
            events
                .error(
                    &format!(
                        "{} is {size} bytes, over the {MAX_MESSAGE_BYTES}-byte limit: left in place",
                        path.display()
                    ),
                    true,
                )
                .await;
            continue;
        }
        let raw = match tokio::fs::read(&path).await {
            Ok(raw) => raw,
            // Taken away meanwhile (another reader, a person): nothing to do.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let (uidvalidity, uid) = key_of(&raw);
        events.fetched();
        let message = Fetched {
            mailbox: mailbox.name.clone(),
            uidvalidity,
            uid,
            raw,
        };
        match intake.take(&message).await {
            Ok(taken) => {
                events.taken(uid, &taken);
                let name = path.file_name().unwrap_or_default();
                let mut to = processed.join(name);
                if tokio::fs::try_exists(&to).await? {
                    to = processed.join(format!("{uid:08x}-{}", name.to_string_lossy()));
                }
                tokio::fs::rename(&path, &to).await?;
            }
            Err(e) => events.intake_failed(uid, &e).await,
        }
    }
    Ok(())
}

/// A customer's reply to `sent` (a mail forewarn sent, as an `.eml` file): from its first
/// recipient to its sender, `Re:` its subject, threaded by `In-Reply-To` and `References`, with
/// `text` above the quoted original. For the demo and trials: what a customer's mail program
/// would send.
pub fn reply_to(sent: &[u8], text: &str) -> Result<Vec<u8>, String> {
    use lettre::message::header::ContentType;
    use lettre::message::{Mailbox, Message};
    let m = mail_parser::MessageParser::default()
        .parse(sent)
        .ok_or("this is not a mail (expected an .eml file forewarn wrote)")?;
    let address = |a: Option<&mail_parser::Address<'_>>| {
        a.and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_owned)
    };
    let customer = address(m.to()).ok_or("the mail has no To address")?;
    let support = address(m.from()).ok_or("the mail has no From address")?;
    let id = m
        .message_id()
        .ok_or("the mail has no Message-ID to answer")?;
    let subject = m.subject().unwrap_or_default();
    let subject = if subject.to_lowercase().starts_with("re:") {
        subject.to_owned()
    } else {
        format!("Re: {subject}")
    };
    let quoted: String = m
        .body_text(0)
        .unwrap_or_default()
        .lines()
        .map(|l| format!("> {l}\n"))
        .collect();
    let parse = |a: &str| a.parse::<Mailbox>().map_err(|e| format!("{a:?}: {e}"));
    let reply = Message::builder()
        .from(parse(&customer)?)
        .to(parse(&support)?)
        .subject(subject)
        .in_reply_to(format!("<{id}>"))
        .references(format!("<{id}>"))
        .header(ContentType::TEXT_PLAIN)
        .body(format!(
            "{}\n\nOn {}, {support} wrote:\n{quoted}",
            text.trim_end(),
            m.date()
                .map_or_else(|| "an earlier day".to_owned(), |d| d.to_rfc822())
        ))
        .map_err(|e| e.to_string())?;
    Ok(reply.formatted())
}

/// Puts `raw` into a directory mailbox as a new `.eml` file, whole or not at all (written
/// under a hidden name, then renamed). Returns its path.
pub fn deliver(dir: &Path, raw: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let (_, uid) = key_of(raw);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    let name = format!("{stamp}-{uid:08x}.eml");
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, raw)?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
