//! A real authoritative DNS server on 127.0.0.1 (UDP and TCP on one ephemeral port), serving the
//! in-memory zone `example.test.` with hickory-server.
//!
//! The zone (every name below is in `example.test.`):
//!
//! | name                | records                                                        |
//! |---------------------|----------------------------------------------------------------|
//! | `example.test`      | A 192.0.2.1, 192.0.2.2; AAAA 2001:db8::1; MX 10 mail, 20 Backup.Example.Test.; TXT "v=spf1 " "-all"; TXT "hello"; NS ns1, ns2; CAA 0 issue "letsencrypt.org" |
//! | `www.example.test`  | CNAME example.test (so `www A` is the apex A set)              |
//! | `alias.example.test`| CNAME www.example.test (a two-step chain)                      |
//! | `mail.example.test` | A 192.0.2.25 (and no AAAA: NODATA)                             |
//! | `drift.example.test`| A 198.51.100.66, the "wrong" record: checks expect 192.0.2.66  |
//! | `big.example.test`  | TXT ×[`BIG_TXT_COUNT`] of 250 bytes: too big for UDP, so TCP   |
//! | `shop.example.test` | A 127.0.0.2, a site on loopback, for checks with `connect_to`  |
//!
//! Special names, answered by a wrapper around the zone:
//! - `servfail.example.test`: SERVFAIL;
//! - `timeout.example.test`: the query is read and dropped, never answered.
//!
//! A name outside the zone (e.g. `example.org`) gets REFUSED: the server is not authoritative.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::{Time, TokioRuntimeProvider};
use hickory_server::proto::op::{Header, HeaderCounts, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, CAA, CNAME, MX, NS, SOA, TXT};
use hickory_server::proto::rr::{Name, RData, Record};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

pub const ZONE: &str = "example.test.";
pub const SERVFAIL_NAME: &str = "servfail.example.test.";
pub const DROP_NAME: &str = "timeout.example.test.";
pub const TTL: u32 = 300;
pub const BIG_TXT_COUNT: usize = 12;

/// The value of the `i`th TXT record of `big.example.test`: 250 bytes.
pub fn big_txt(i: usize) -> String {
    format!("{i:02}{}", "x".repeat(248))
}

/// A running server; it stops when dropped.
pub struct DnsServer {
    pub addr: SocketAddr,
    _server: Server<Handler>,
}

impl DnsServer {
    /// Starts the server on 127.0.0.1, UDP and TCP on the same ephemeral port.
    pub async fn start() -> DnsServer {
        let (udp, tcp) = bind_same_port().await;
        let addr = udp.local_addr().expect("udp local addr");
        let mut server = Server::new(Handler { catalog: catalog() });
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 16);
        DnsServer {
            addr,
            _server: server,
        }
    }
}

/// A UDP socket and a TCP listener on one port; a few tries in case another test takes the TCP
/// side of the port first.
async fn bind_same_port() -> (UdpSocket, TcpListener) {
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind udp on loopback");
        let port = udp.local_addr().expect("udp local addr").port();
        if let Ok(tcp) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            return (udp, tcp);
        }
    }
    panic!("no loopback port free for both UDP and TCP after 20 tries");
}

fn name(s: &str) -> Name {
    Name::from_str(s).expect("valid test name")
}

fn record(owner: &str, data: RData) -> Record {
    Record::from_rdata(name(owner), TTL, data)
}

fn catalog() -> Catalog {
    let origin = name(ZONE);
    let mut zone = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
        origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
    );
    let serial = 1;
    let records = [
        record(
            ZONE,
            RData::SOA(SOA::new(
                name("ns1.example.test."),
                name("hostmaster.example.test."),
                serial,
                3600,
                600,
                86400,
                60,
            )),
        ),
        record(ZONE, RData::NS(NS(name("ns1.example.test.")))),
        record(ZONE, RData::NS(NS(name("ns2.example.test.")))),
        record(ZONE, RData::A(A(Ipv4Addr::new(192, 0, 2, 1)))),
        record(ZONE, RData::A(A(Ipv4Addr::new(192, 0, 2, 2)))),
        record(
            ZONE,
            RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))),
        ),
        record(ZONE, RData::MX(MX::new(10, name("mail.example.test.")))),
        record(ZONE, RData::MX(MX::new(20, name("Backup.Example.Test.")))),
        record(
            ZONE,
            RData::TXT(TXT::new(vec!["v=spf1 ".to_owned(), "-all".to_owned()])),
        ),
        record(ZONE, RData::TXT(TXT::new(vec!["hello".to_owned()]))),
        record(
            ZONE,
            RData::CAA(CAA::new_issue(
                false,
                Some(name("letsencrypt.org")),
                Vec::new(),
            )),
        ),
        record("www.example.test.", RData::CNAME(CNAME(name(ZONE)))),
        record(
            "alias.example.test.",
            RData::CNAME(CNAME(name("www.example.test."))),
        ),
        record(
            "mail.example.test.",
            RData::A(A(Ipv4Addr::new(192, 0, 2, 25))),
        ),
        record(
            "drift.example.test.",
            RData::A(A(Ipv4Addr::new(198, 51, 100, 66))),
        ),
        record(
            "shop.example.test.",
            RData::A(A(Ipv4Addr::new(127, 0, 0, 2))),
        ),
    ];
    let big = (0..BIG_TXT_COUNT)
        .map(|i| record("big.example.test.", RData::TXT(TXT::new(vec![big_txt(i)]))));
    for r in records.into_iter().chain(big) {
        assert!(zone.upsert_mut(r, serial), "record accepted by the zone");
    }
    let mut catalog = Catalog::new();
    catalog.upsert(origin.into(), vec![Arc::new(zone)]);
    catalog
}

/// The zone, plus two misbehaving names.
pub struct Handler {
    catalog: Catalog,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let asked = request
            .request_info()
            .map(|info| info.query.name().to_string().to_ascii_lowercase())
            .unwrap_or_default();
        match asked.as_str() {
            SERVFAIL_NAME => {
                let response = MessageResponseBuilder::new(&request.queries, None)
                    .error_msg(&request.metadata, ResponseCode::ServFail);
                match response_handle.send_response(response).await {
                    Ok(info) => info,
                    Err(_) => not_sent(request),
                }
            }
            DROP_NAME => not_sent(request),
            _ => {
                self.catalog
                    .handle_request::<R, T>(request, response_handle)
                    .await
            }
        }
    }
}

/// The ResponseInfo for a query we did not answer.
fn not_sent(request: &Request) -> ResponseInfo {
    ResponseInfo::from(Header {
        metadata: request.metadata,
        counts: HeaderCounts::default(),
    })
}
