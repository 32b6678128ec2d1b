//! Test certificates (rcgen) and small loopback servers for the HTTP and TLS probe tests.
//!
//! The HTTP server is written by hand on a `TcpListener` so that it can misbehave on purpose:
//! drip a body, reset the connection, answer garbage. One path, one behaviour:
//!
//! | path                | behaviour                                                      |
//! |---------------------|----------------------------------------------------------------|
//! | `/welcome`          | 200, `text/html`, `Server: forewarn-test`, "Welcome to the shop" |
//! | `/json`             | 200, `application/json`                                        |
//! | `/status/<code>`    | that status                                                    |
//! | `/delay/<ms>`       | waits, then 200                                                |
//! | `/echo`             | 200, the request head and body as the body                     |
//! | `/slow-body`        | headers, then silence for 10 s                                 |
//! | `/drip`             | headers (1 MB announced), then one byte every 20 ms            |
//! | `/huge`             | 5 MiB with a Content-Length                                    |
//! | `/huge-chunked`     | 5 MiB, chunked (no length announced)                           |
//! | `/reset`            | TCP reset, no response                                         |
//! | `/reset-mid-body`   | headers, 10 of 1000 bytes, then a TCP reset                    |
//! | `/close`            | closes without a response                                      |
//! | `/garbage`          | bytes that are not HTTP                                        |
//! | `/redirect`         | 301 to `/welcome`                                              |
//! | `/redirect-loop`    | 302 to itself                                                  |
//! | `/goto/<url>`       | 302 to `<url>` (e.g. `/goto/http://localhost:1234/welcome`)    |

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

pub const CA_NAME: &str = "forewarn test CA";

/// A test certificate authority, its PEM in a temporary file (for `ca_file`).
pub struct Pki {
    _dir: tempfile::TempDir,
    pub ca_file: PathBuf,
    ca: Issuer<'static, KeyPair>,
}

/// The leaf certificates the tests need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Leaf {
    /// localhost / 127.0.0.1, signed by the test CA, 90 days left.
    Valid,
    /// Like `Valid` with this many days (and one hour) left.
    DaysLeft(u32),
    /// Expired 3 days (and one hour) ago.
    Expired,
    /// Valid, signed by the test CA, for `other.example` only.
    WrongHost,
    /// localhost, valid dates, signed by its own key.
    SelfSigned,
    /// Valid from 10 days from now.
    NotYetValid,
    /// Like `Valid`, for this name only.
    Named(&'static str),
}

/// A certificate chain and its key, for a server.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Pki {
    pub fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, CA_NAME);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "forewarn tests");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        set_validity(&mut params, -30.0, 3650.0);
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, cert.pem()).expect("write CA file");
        Pki {
            _dir: dir,
            ca_file,
            ca: Issuer::new(params, key),
        }
    }

    pub fn leaf(&self, kind: Leaf) -> Identity {
        self.leaf_for(kind, &["localhost", "127.0.0.1"])
    }

    /// Like [`Pki::leaf`] for these names (host names or IP addresses) instead of localhost /
    /// 127.0.0.1; `WrongHost` still names `other.example` only.
    pub fn leaf_for(&self, kind: Leaf, names: &[&str]) -> Identity {
        let names = match kind {
            Leaf::WrongHost => vec!["other.example".to_owned()],
            Leaf::Named(name) => vec![name.to_owned()],
            _ => names.iter().map(|n| (*n).to_owned()).collect(),
        };
        let common_name = names[0].clone();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let (from, to) = match kind {
            Leaf::Valid | Leaf::WrongHost | Leaf::SelfSigned | Leaf::Named(_) => {
                (-1.0, 90.0 + 1.0 / 24.0)
            }
            Leaf::DaysLeft(days) => (-1.0, f64::from(days) + 1.0 / 24.0),
            Leaf::Expired => (-30.0, -3.0 - 1.0 / 24.0),
            Leaf::NotYetValid => (10.0, 100.0),
        };
        set_validity(&mut params, from, to);
        let key = KeyPair::generate().expect("leaf key");
        let cert = match kind {
            Leaf::SelfSigned => params.self_signed(&key),
            _ => params.signed_by(&key, &self.ca),
        }
        .expect("leaf certificate");
        Identity {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }
}

/// Validity from / to, in days relative to now.
fn set_validity(params: &mut CertificateParams, from_days: f64, to_days: f64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let at = |days: f64| epoch + Duration::from_secs_f64(now.as_secs_f64() + days * 86_400.0);
    params.not_before = at(from_days);
    params.not_after = at(to_days);
}

pub fn server_config(identity: Identity) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)
        .expect("server certificate");
    Arc::new(config)
}

/// Another loopback address than 127.0.0.1 (Linux routes all of 127/8 to `lo`), for servers
/// that a check reaches only when it connects there on purpose (`connect_to`).
pub const SECOND_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

async fn listen() -> (TcpListener, SocketAddr) {
    listen_on(IpAddr::V4(Ipv4Addr::LOCALHOST)).await
}

async fn listen_on(ip: IpAddr) -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// A TLS server that completes handshakes with this identity and then closes.
pub async fn tls_server(identity: Identity) -> SocketAddr {
    tls_server_on(IpAddr::V4(Ipv4Addr::LOCALHOST), identity).await
}

/// [`tls_server`] listening on `ip`.
pub async fn tls_server_on(ip: IpAddr, identity: Identity) -> SocketAddr {
    let acceptor = TlsAcceptor::from(server_config(identity));
    let (listener, addr) = listen_on(ip).await;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

/// A TCP server that speaks something else than TLS (an SSH banner).
pub async fn plain_tcp_server() -> SocketAddr {
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
                let mut buf = [0u8; 1024];
                let _ = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
            });
        }
    });
    addr
}

/// A TCP server that accepts and then says nothing for 10 s.
pub async fn silent_server() -> SocketAddr {
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(10)).await;
                drop(stream);
            });
        }
    });
    addr
}

/// A loopback address nobody listens on.
pub fn refused_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr")
}

/// The HTTP test server (see the table above); HTTPS with `Some(identity)`.
/// Returns the base URL, e.g. `http://127.0.0.1:41234`.
pub async fn http_server(tls: Option<Identity>) -> String {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let addr = http_server_on(IpAddr::V4(Ipv4Addr::LOCALHOST), tls).await;
    format!("{scheme}://{addr}")
}

/// The HTTP test server listening on `ip`; HTTPS with `Some(identity)`. Returns its address.
pub async fn http_server_on(ip: IpAddr, tls: Option<Identity>) -> SocketAddr {
    let acceptor = tls.map(|identity| TlsAcceptor::from(server_config(identity)));
    let (listener, addr) = listen_on(ip).await;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                match acceptor {
                    None => {
                        let mut stream = stream;
                        if serve(&mut stream).await == End::Reset {
                            reset(&stream);
                        }
                    }
                    Some(acceptor) => {
                        let Ok(mut tls) = acceptor.accept(stream).await else {
                            return;
                        };
                        if serve(&mut tls).await == End::Reset {
                            reset(tls.get_ref().0);
                        }
                    }
                }
            });
        }
    });
    addr
}

/// How a connection ends after `serve`.
#[derive(PartialEq)]
enum End {
    Close,
    Reset,
}

/// Closing with SO_LINGER 0 sends a TCP reset.
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

struct Request {
    method: String,
    path: String,
    head: String,
    body: Vec<u8>,
}

async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Request> {
    const MAX_HEAD: usize = 64 * 1024;
    const MAX_BODY: usize = 1024 * 1024;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut body = buf[head_end + 4..].to_vec();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_BODY);
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let mut words = head.split_whitespace();
    let method = words.next()?.to_owned();
    let path = words.next()?.to_owned();
    Some(Request {
        method,
        path,
        head,
        body,
    })
}

fn response(code: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {code} Test\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn head_only(code: u16, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {code} Test\r\nConnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

const HUGE: usize = 5 * 1024 * 1024;

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> End {
    let Some(request) = read_request(stream).await else {
        return End::Close;
    };
    let path = request.path.as_str();
    let _ = match path {
        "/welcome" => {
            let headers = [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Server", "forewarn-test"),
            ];
            stream
                .write_all(&response(200, &headers, b"<h1>Welcome to the shop</h1>"))
                .await
        }
        "/json" => {
            let headers = [("Content-Type", "application/json")];
            stream
                .write_all(&response(200, &headers, b"{\"ok\":true}"))
                .await
        }
        "/echo" => {
            let mut body = request.head.clone().into_bytes();
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(&request.body);
            stream
                .write_all(&response(200, &[("Content-Type", "text/plain")], &body))
                .await
        }
        "/slow-body" => {
            let _ = stream
                .write_all(&head_only(200, &[("Content-Length", "100")]))
                .await;
            let _ = stream.flush().await;
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(())
        }
        "/drip" => {
            let _ = stream
                .write_all(&head_only(200, &[("Content-Length", "1000000")]))
                .await;
            // Bounded: 500 bytes over 10 s at most.
            for _ in 0..500 {
                if stream.write_all(b"x").await.is_err() || stream.flush().await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(())
        }
        "/huge" => {
            let length = HUGE.to_string();
            let _ = stream
                .write_all(&head_only(200, &[("Content-Length", &length)]))
                .await;
            write_bytes(stream, HUGE, false).await;
            Ok(())
        }
        "/huge-chunked" => {
            let _ = stream
                .write_all(&head_only(200, &[("Transfer-Encoding", "chunked")]))
                .await;
            write_bytes(stream, HUGE, true).await;
            Ok(())
        }
        "/reset" => return End::Reset,
        "/reset-mid-body" => {
            let _ = stream
                .write_all(&head_only(200, &[("Content-Length", "1000")]))
                .await;
            let _ = stream.write_all(&[b'x'; 10]).await;
            let _ = stream.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            return End::Reset;
        }
        "/close" => return End::Close,
        "/garbage" => {
            stream
                .write_all(b"\x00\x01\x02 this is not HTTP at all\r\n\r\n")
                .await
        }
        "/redirect" => {
            stream
                .write_all(&response(301, &[("Location", "/welcome")], b""))
                .await
        }
        "/redirect-loop" => {
            stream
                .write_all(&response(302, &[("Location", "/redirect-loop")], b""))
                .await
        }
        _ if path.starts_with("/goto/") => {
            let location = &path["/goto/".len()..];
            stream
                .write_all(&response(302, &[("Location", location)], b""))
                .await
        }
        _ => {
            if let Some(ms) = path.strip_prefix("/delay/").and_then(|v| v.parse().ok()) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                stream.write_all(&response(200, &[], b"late")).await
            } else if let Some(code) = path.strip_prefix("/status/").and_then(|v| v.parse().ok()) {
                let body = format!("status {code}");
                stream
                    .write_all(&response(code, &[], body.as_bytes()))
                    .await
            } else {
                stream.write_all(&response(404, &[], b"not found")).await
            }
        }
    };
    let _ = stream.shutdown().await;
    End::Close
}

/// Writes `total` bytes of `x` in 64 KiB pieces, stopping when the client goes away.
async fn write_bytes<S: AsyncWrite + Unpin>(stream: &mut S, total: usize, chunked: bool) {
    let piece = vec![b'x'; 64 * 1024];
    let mut written = 0;
    while written < total {
        let n = piece.len().min(total - written);
        let result = if chunked {
            let mut framed = format!("{n:x}\r\n").into_bytes();
            framed.extend_from_slice(&piece[..n]);
            framed.extend_from_slice(b"\r\n");
            stream.write_all(&framed).await
        } else {
            stream.write_all(&piece[..n]).await
        };
        if result.is_err() {
            return;
        }
        written += n;
    }
    if chunked {
        let _ = stream.write_all(b"0\r\n\r\n").await;
    }
}
