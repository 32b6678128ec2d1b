//! A real SMTP server (RFC 5321, server side) on 127.0.0.1 for tests: lettre talks to it over
//! TCP exactly as it would talk to Postfix.
//!
//! Supports greeting, EHLO/HELO (advertising 8BITMIME and SIZE), MAIL FROM, RCPT TO, DATA
//! (dot-unstuffing, ends at CRLF.CRLF), RSET, NOOP, QUIT. Received messages are kept with
//! their envelope, raw data and decoded headers and text (RFC 2047 subjects,
//! quoted-printable and base64 bodies). Controls: [`SmtpServer::stop`] and
//! [`SmtpServer::start_again`] on the same port, [`SmtpServer::fail_next`] to refuse the next
//! transactions with a reply code at RCPT TO.
//!
//! Every buffer is bounded: command lines (512 bytes), text lines (1000), message size
//! (SIZE), recipients per message, kept messages, idle time per connection.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// Largest message accepted (advertised as SIZE).
pub const MAX_MESSAGE: usize = 1 << 20;
const MAX_COMMAND_LINE: usize = 512;
const MAX_TEXT_LINE: usize = 1000;
const MAX_RECIPIENTS: usize = 100;
const MAX_KEPT: usize = 1000;
const IDLE: Duration = Duration::from_secs(30);
const HOSTNAME: &str = "smtp.test.invalid";

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    /// MAIL FROM, without angle brackets.
    pub envelope_from: String,
    /// RCPT TO, in order.
    pub recipients: Vec<String>,
    /// The DATA as received, after dot-unstuffing, without the final `.` line.
    pub raw: Vec<u8>,
    /// Unfolded headers in order, names as written.
    pub headers: Vec<(String, String)>,
    pub message_id: Option<String>,
    /// RFC 2047 encoded words decoded.
    pub subject: Option<String>,
    /// The body, its Content-Transfer-Encoding undone, line ends as `\n`; of a multipart
    /// message, its text/plain part. (`tests/mail_format.rs` checks the MIME structure with a
    /// real parser; this is enough to read what a mail says.)
    pub text: String,
}

impl Received {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Reply codes for the next transactions, one each.
    failures: VecDeque<u16>,
}

struct Shared {
    state: Mutex<State>,
    arrived: Notify,
}

pub struct SmtpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl SmtpServer {
    /// Listens on 127.0.0.1 on a free port.
    pub async fn start() -> SmtpServer {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0)));
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        SmtpServer {
            addr,
            shared,
            accept: Mutex::new(Some(accept)),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Closes the listening socket and every open connection: connecting is refused until
    /// [`start_again`](Self::start_again).
    pub async fn stop(&self) {
        let task = self.accept.lock().unwrap().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port (kept messages and pending failures stay).
    pub async fn start_again(&self) {
        self.stop().await;
        let listener = bind(self.addr);
        let task = tokio::spawn(accept_loop(listener, self.shared.clone()));
        *self.accept.lock().unwrap() = Some(task);
    }

    /// The next `n` transactions are refused with `code` (e.g. 451 or 550) at RCPT TO.
    pub fn fail_next(&self, n: usize, code: u16) {
        assert!((400..600).contains(&code), "a failure code is 4xx or 5xx");
        let mut state = self.shared.state.lock().unwrap();
        state.failures.extend(std::iter::repeat_n(code, n));
    }

    /// Forgets the failures [`fail_next`](Self::fail_next) queued and not used yet: the next
    /// transactions are accepted again.
    pub fn clear_failures(&self) {
        self.shared.state.lock().unwrap().failures.clear();
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.state.lock().unwrap().received.clone()
    }

    /// Waits until at least `n` messages arrived; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "expected {n} messages within {timeout:?}, got {}",
                    self.received().len()
                );
            }
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(task) = self.accept.lock().unwrap().take() {
            task.abort();
        }
    }
}

fn bind(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(64).unwrap()
}

/// Accepts until aborted; dropping the `JoinSet` (on abort) closes every connection.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(session(stream, shared.clone()));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// A transaction in progress: MAIL FROM seen.
struct Transaction {
    from: String,
    recipients: Vec<String>,
    /// Refuse RCPT TO with this code.
    failure: Option<u16>,
}

async fn session(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    if reply(
        &mut write,
        &format!("220 {HOSTNAME} ESMTP test server ready"),
    )
    .await
    .is_err()
    {
        return;
    }
    let mut greeted = false;
    let mut tx: Option<Transaction> = None;
    loop {
        let line = match tokio::time::timeout(IDLE, read_line(&mut reader, MAX_COMMAND_LINE)).await
        {
            Ok(Ok(Line::Text(l))) => l,
            Ok(Ok(Line::TooLong)) => {
                if reply(&mut write, "500 5.5.2 line too long").await.is_err() {
                    return;
                }
                continue;
            }
            Ok(Ok(Line::Eof)) | Ok(Err(_)) => return,
            Err(_) => {
                let _ = reply(&mut write, "421 4.4.2 idle too long, closing").await;
                return;
            }
        };
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim()),
            None => (line.to_ascii_uppercase(), ""),
        };
        let answer: String = match verb.as_str() {
            "EHLO" if !arg.is_empty() => {
                greeted = true;
                tx = None;
                format!("250-{HOSTNAME} hello {arg}\r\n250-8BITMIME\r\n250 SIZE {MAX_MESSAGE}")
            }
            "HELO" if !arg.is_empty() => {
                greeted = true;
                tx = None;
                format!("250 {HOSTNAME} hello {arg}")
            }
            "EHLO" | "HELO" => "501 5.5.4 a domain is required".into(),
            "MAIL" if !greeted => "503 5.5.1 say EHLO first".into(),
            "MAIL" if tx.is_some() => "503 5.5.1 nested MAIL command".into(),
            "MAIL" => match path_arg(arg, "FROM:") {
                Some((from, params)) => {
                    let size = params.iter().find_map(|p| {
                        p.strip_prefix("SIZE=")
                            .and_then(|n| n.parse::<usize>().ok())
                    });
                    if size.is_some_and(|s| s > MAX_MESSAGE) {
                        "552 5.3.4 message size exceeds fixed limit".into()
                    } else {
                        let failure = shared.state.lock().unwrap().failures.pop_front();
                        tx = Some(Transaction {
                            from,
                            recipients: Vec::new(),
                            failure,
                        });
                        "250 2.1.0 sender ok".into()
                    }
                }
                None => "501 5.5.4 syntax: MAIL FROM:<address>".into(),
            },
            "RCPT" => match (&mut tx, path_arg(arg, "TO:")) {
                (None, _) => "503 5.5.1 need MAIL before RCPT".into(),
                (Some(_), None) => "501 5.5.4 syntax: RCPT TO:<address>".into(),
                (Some(t), Some(_)) if t.failure.is_some() => {
                    let code = t.failure.expect("checked");
                    if code < 500 {
                        format!("{code} 4.3.0 try again later")
                    } else {
                        format!("{code} 5.1.1 recipient refused")
                    }
                }
                (Some(t), Some(_)) if t.recipients.len() >= MAX_RECIPIENTS => {
                    "452 4.5.3 too many recipients".into()
                }
                (Some(_), Some((to, _))) if to.is_empty() => "501 5.1.3 empty recipient".into(),
                (Some(t), Some((to, _))) => {
                    t.recipients.push(to);
                    "250 2.1.5 recipient ok".into()
                }
            },
            "DATA" => match tx.take() {
                None => "503 5.5.1 need MAIL before DATA".into(),
                Some(t) if t.recipients.is_empty() => "554 5.5.1 no valid recipients".into(),
                Some(t) => {
                    if reply(&mut write, "354 end data with <CR><LF>.<CR><LF>")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    match read_data(&mut reader).await {
                        Data::Complete(raw) => {
                            let n = store(&shared, t, raw);
                            format!("250 2.0.0 queued as {n}")
                        }
                        Data::TooBig => "552 5.3.4 message size exceeds fixed limit".into(),
                        Data::LineTooLong => "500 5.5.2 line too long".into(),
                        Data::Broken => return,
                    }
                }
            },
            "RSET" => {
                tx = None;
                "250 2.0.0 reset".into()
            }
            "NOOP" => "250 2.0.0 ok".into(),
            "VRFY" => "252 2.1.5 cannot verify, will try".into(),
            "QUIT" => {
                let _ = reply(&mut write, &format!("221 2.0.0 {HOSTNAME} closing")).await;
                return;
            }
            _ => "502 5.5.2 command not implemented".into(),
        };
        if reply(&mut write, &answer).await.is_err() {
            return;
        }
    }
}

async fn reply(write: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> std::io::Result<()> {
    write.write_all(text.as_bytes()).await?;
    write.write_all(b"\r\n").await?;
    write.flush().await
}

/// `FROM:<a@b> PARAM=1 …` → (`a@b`, params). Accepts `FROM: <a@b>` too.
fn path_arg(arg: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    if arg.len() < prefix.len() || !arg[..prefix.len()].eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = arg[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let (path, params) = rest.split_once('>')?;
    let params = params
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    Some((path.to_owned(), params))
}

fn store(shared: &Shared, t: Transaction, raw: Vec<u8>) -> usize {
    let (headers, text) = parse_message(&raw);
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let received = Received {
        envelope_from: t.from,
        recipients: t.recipients,
        message_id: find("Message-ID"),
        subject: find("Subject").map(|s| decode_encoded_words(&s)),
        raw,
        headers,
        text,
    };
    let n = {
        let mut state = shared.state.lock().unwrap();
        if state.received.len() >= MAX_KEPT {
            state.received.remove(0);
        }
        state.received.push(received);
        state.received.len()
    };
    shared.arrived.notify_waiters();
    n
}

enum Line {
    Text(Vec<u8>),
    TooLong,
    Eof,
}

/// One line up to and including `\n`, at most `max` bytes kept; a longer line is consumed
/// whole and reported as too long.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(if line.is_empty() && !too_long {
                Line::Eof
            } else if too_long {
                Line::TooLong
            } else {
                Line::Text(line)
            });
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        if line.len() + chunk.len() > max {
            too_long = true;
        } else {
            line.extend_from_slice(chunk);
        }
        let used = chunk.len();
        r.consume(used);
        if done {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Text(line)
            });
        }
    }
}

enum Data {
    Complete(Vec<u8>),
    TooBig,
    LineTooLong,
    Broken,
}

/// Reads DATA up to the `.` line, undoing dot-stuffing. Past a limit the rest is read and
/// dropped so that the session stays in step.
async fn read_data<R: AsyncBufRead + Unpin>(r: &mut R) -> Data {
    let mut data = Vec::new();
    let mut too_big = false;
    let mut line_too_long = false;
    loop {
        // +2 for CRLF.
        let line = match tokio::time::timeout(IDLE, read_line(r, MAX_TEXT_LINE + 2)).await {
            Ok(Ok(Line::Text(l))) => l,
            Ok(Ok(Line::TooLong)) => {
                line_too_long = true;
                continue;
            }
            _ => return Data::Broken,
        };
        if line == b".\r\n" || line == b".\n" {
            break;
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if data.len() + line.len() > MAX_MESSAGE {
            too_big = true;
        } else {
            data.extend_from_slice(line);
        }
    }
    if too_big {
        Data::TooBig
    } else if line_too_long {
        Data::LineTooLong
    } else {
        Data::Complete(data)
    }
}

/// Unfolded headers and the decoded text of a message: the body of a single-part one, the
/// first text/plain part of a multipart one.
fn parse_message(raw: &[u8]) -> (Vec<(String, String)>, String) {
    let text = String::from_utf8_lossy(raw);
    let (headers, body) = split_part(&text);
    let body = plain_text(&headers, body).unwrap_or_default();
    (headers, body)
}

/// The headers (unfolded) and the body of a message or a MIME part.
fn split_part(text: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = match text.find("\r\n\r\n") {
        Some(i) => (&text[..i], &text[i + 4..]),
        None => (text, ""),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

/// The decoded text of a part, or of its first text/plain part when it is multipart.
fn plain_text(headers: &[(String, String)], body: &str) -> Option<String> {
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let content_type = find("Content-Type").unwrap_or("text/plain").to_owned();
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        let boundary = content_type
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
            .map(|(_, v)| v.trim().trim_matches('"').to_owned())?;
        let delimiter = format!("--{boundary}");
        return body
            .split(delimiter.as_str())
            .skip(1)
            .take_while(|part| !part.starts_with("--"))
            .find_map(|part| {
                let part = part.strip_prefix("\r\n").unwrap_or(part);
                let part = part.strip_suffix("\r\n").unwrap_or(part);
                let (headers, body) = split_part(part);
                plain_text(&headers, body)
            });
    }
    if !content_type.to_ascii_lowercase().starts_with("text/plain") {
        return None;
    }
    let encoding = find("Content-Transfer-Encoding").map(str::to_ascii_lowercase);
    let bytes = match encoding.as_deref() {
        Some("quoted-printable") => decode_quoted_printable(body),
        Some("base64") => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap_or_else(|_| body.as_bytes().to_vec())
        }
        _ => body.as_bytes().to_vec(),
    };
    Some(String::from_utf8_lossy(&bytes).replace("\r\n", "\n"))
}

fn decode_quoted_printable(body: &str) -> Vec<u8> {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if bytes[i + 1..].starts_with(b"\n") => i += 2,
            b'=' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'=');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`); whitespace between two
/// encoded words is dropped, as the RFC says.
pub fn decode_encoded_words(s: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut rest = s;
    let mut gap = String::new();
    while !rest.is_empty() {
        if let Some((bytes, len)) = encoded_word(rest) {
            pending.extend(bytes);
            gap.clear();
            rest = &rest[len..];
            continue;
        }
        let c = rest.chars().next().expect("not empty");
        if c.is_whitespace() && !pending.is_empty() {
            gap.push(c);
        } else {
            if !pending.is_empty() {
                out.push_str(&String::from_utf8_lossy(&pending));
                pending.clear();
                out.push_str(&gap);
                gap.clear();
            }
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(&String::from_utf8_lossy(&pending));
    out.push_str(&gap);
    out
}

/// An encoded word at the start of `s`: its bytes and its length in `s`.
fn encoded_word(s: &str) -> Option<(Vec<u8>, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (_charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    if text.contains(char::is_whitespace) {
        return None;
    }
    let len = s.len() - inner.len() + end + 2;
    let bytes = match encoding {
        "b" | "B" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?,
        "q" | "Q" => decode_quoted_printable(&text.replace('_', " ")),
        _ => return None,
    };
    Some((bytes, len))
}
