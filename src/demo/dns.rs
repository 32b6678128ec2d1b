//! The demo's authoritative DNS server: the zone `demo.test.` (UDP and TCP on one port), served
//! by hickory-server from memory.
//!
//! | name             | records                                                         |
//! |------------------|-----------------------------------------------------------------|
//! | `demo.test`      | SOA; NS ns1; MX 10 mail; TXT "v=spf1 mx -all"; CAA 0 issue "letsencrypt.org" |
//! | `www.demo.test`  | A 127.0.0.1                                                     |
//! | `mail.demo.test` | A 127.0.0.1                                                     |
//! | `ns1.demo.test`  | A 127.0.0.1                                                     |
//! | `shop.demo.test` | A 192.0.2.99: the drifted record (the customer expects 127.0.0.1) |
//!
//! A name outside the zone gets REFUSED: the server is not authoritative for it.

use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::rdata::{A, CAA, MX, NS, SOA, TXT};
use hickory_server::proto::rr::{Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

/// The zone the demo serves.
pub(super) const ZONE: &str = "demo.test.";
/// The drifted record: what `shop.demo.test A` answers.
pub(super) const DRIFTED_NAME: &str = "shop.demo.test.";
pub(super) const DRIFTED_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 99);

const TTL: u32 = 300;
/// A TCP client that sends nothing for this long is disconnected.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Outgoing responses buffered per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 16;

/// The zone could not be built (a bug in the table above, never a runtime condition).
#[derive(Debug, thiserror::Error)]
#[error("the demo DNS zone is invalid: {0}")]
pub(super) struct ZoneError(String);

/// Starts serving the zone on both sockets (which should share a port). The server stops when
/// dropped or shut down.
pub(super) fn serve(catalog: Catalog, udp: UdpSocket, tcp: TcpListener) -> Server<Catalog> {
    let mut server = Server::new(catalog);
    server.register_socket(udp);
    server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
    server
}

/// The zone `demo.test.`, as a catalog the server answers from.
pub(super) fn catalog() -> Result<Catalog, ZoneError> {
    let origin = name(ZONE)?;
    let mut zone = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
        origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
    );
    let serial = 1;
    let loopback = RData::A(A(Ipv4Addr::LOCALHOST));
    let records = [
        (
            ZONE,
            RData::SOA(SOA::new(
                name("ns1.demo.test.")?,
                name("hostmaster.demo.test.")?,
                serial,
                3600,
                600,
                86400,
                60,
            )),
        ),
        (ZONE, RData::NS(NS(name("ns1.demo.test.")?))),
        (ZONE, RData::MX(MX::new(10, name("mail.demo.test.")?))),
        (
            ZONE,
            RData::TXT(TXT::new(vec!["v=spf1 mx -all".to_owned()])),
        ),
        (
            ZONE,
            RData::CAA(CAA::new_issue(
                false,
                Some(name("letsencrypt.org")?),
                Vec::new(),
            )),
        ),
        ("ns1.demo.test.", loopback.clone()),
        ("www.demo.test.", loopback.clone()),
        ("mail.demo.test.", loopback),
        (DRIFTED_NAME, RData::A(A(DRIFTED_ADDR))),
    ];
    for (owner, data) in records {
        let record = Record::from_rdata(name(owner)?, TTL, data);
        if !zone.upsert_mut(record, serial) {
            return Err(ZoneError(format!("record for {owner} not accepted")));
        }
    }
    let mut catalog = Catalog::new();
    catalog.upsert(origin.into(), vec![Arc::new(zone)]);
    Ok(catalog)
}

fn name(s: &str) -> Result<Name, ZoneError> {
    Name::from_str(s).map_err(|e| ZoneError(format!("{s}: {e}")))
}
