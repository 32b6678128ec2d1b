//! The demo's web sites: three customers' HTTP servers, one also over TLS.
//!
//! Each listener runs one accept loop that owns its connections (a `JoinSet`): stopping the loop
//! stops every connection with it. A client that disconnects mid-response only ends its own
//! connection.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// How long the slow site takes to answer.
pub(super) const SLOW_DELAY: Duration = Duration::from_millis(1500);

/// Connections served at once per listener; more are closed at once.
const MAX_CONNECTIONS: usize = 256;
/// A client must send its request headers (and finish a TLS handshake) within this.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Which customer's site a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Site {
    /// Healthy: `/` is the shop's home page, `/health` is `{"status":"ok"}`.
    AcmeShop,
    /// Broken: every path is a 500.
    GlobexApi,
    /// Slow: every path is a 200 after [`SLOW_DELAY`].
    InitechBlog,
}

impl Site {
    fn name(self) -> &'static str {
        match self {
            Site::AcmeShop => "acme shop",
            Site::GlobexApi => "globex api",
            Site::InitechBlog => "initech blog",
        }
    }
}

/// Serves `site` on `listener` (over TLS when `tls` is given) until `stop` changes or its sender
/// is dropped; then closes the listener and ends every open connection before returning.
pub(super) async fn serve(
    listener: TcpListener,
    site: Site,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    while connections.try_join_next().is_some() {}
                    if connections.len() >= MAX_CONNECTIONS {
                        tracing::debug!(site = site.name(), "too many connections, closing one");
                        continue;
                    }
                    connections.spawn(connection(stream, site, tls.clone()));
                }
                Err(error) => {
                    tracing::debug!(site = site.name(), %error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// One client connection: TLS handshake if needed, then HTTP/1.1 requests until it closes.
async fn connection(stream: TcpStream, site: Site, tls: Option<TlsAcceptor>) {
    let Some(acceptor) = tls else {
        return serve_http(TokioIo::new(stream), site).await;
    };
    match tokio::time::timeout(CLIENT_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => serve_http(TokioIo::new(stream), site).await,
        Ok(Err(error)) => tracing::debug!(site = site.name(), %error, "TLS handshake failed"),
        Err(_) => tracing::debug!(site = site.name(), "TLS handshake timed out"),
    }
}

async fn serve_http<I>(io: I, site: Site)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service =
        service_fn(move |request| async move { Ok::<_, Infallible>(respond(site, request).await) });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(CLIENT_TIMEOUT)
        .serve_connection(io, service)
        .await;
    if let Err(error) = served {
        // A client that went away mid-response: its business, not ours.
        tracing::debug!(site = site.name(), %error, "connection ended early");
    }
}

/// The site's answer. Request bodies are never read.
async fn respond(site: Site, request: Request<Incoming>) -> Response<Body> {
    match site {
        Site::AcmeShop => match request.uri().path() {
            "/" => page(StatusCode::OK, "text/html", ACME_HOME),
            "/health" => page(StatusCode::OK, "application/json", r#"{"status":"ok"}"#),
            _ => page(StatusCode::NOT_FOUND, "text/html", NOT_FOUND),
        },
        Site::GlobexApi => page(StatusCode::INTERNAL_SERVER_ERROR, "text/html", GLOBEX_ERROR),
        Site::InitechBlog => {
            tokio::time::sleep(SLOW_DELAY).await;
            page(StatusCode::OK, "text/html", INITECH_HOME)
        }
    }
}

fn page(status: StatusCode, content_type: &'static str, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

const ACME_HOME: &str = "<!doctype html>
<html><head><title>Acme Shop</title></head>
<body><h1>Welcome to Acme</h1><p>Anvils, rockets and giant magnets. (A forewarn demo site.)</p></body></html>
";

const NOT_FOUND: &str = "<!doctype html>
<html><head><title>Not Found</title></head><body><h1>Not Found</h1></body></html>
";

const GLOBEX_ERROR: &str = "<!doctype html>
<html><head><title>500 Internal Server Error</title></head>
<body><h1>Internal Server Error</h1><p>upstream connect error: database refused the connection</p></body></html>
";

const INITECH_HOME: &str = "<!doctype html>
<html><head><title>Initech blog</title></head>
<body><h1>Initech blog</h1><p>TPS report cover sheets: a retrospective.</p></body></html>
";
