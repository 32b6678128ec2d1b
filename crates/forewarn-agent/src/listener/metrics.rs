//! The listener's connection counters: the `forewarn_web_connections_*` series of
//! `forewarn serve`'s /metrics. The agent, which has no /metrics, keeps an unregistered set
//! (`ConnectionMetrics::default()`) that only its log lines read.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Why the listener refused a connection (`total`, `per_address`: the caps) or closed one it
/// had taken (`header`, `request`, `idle`: the timeouts; `evicted`: it made room).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The `forewarn_web_connections_*` series. The agent, which has no /metrics, keeps an
/// unregistered set (`ConnectionMetrics::default()`) that only its log lines read.
#[derive(Clone, Default)]
pub struct ConnectionMetrics {
    open: Gauge,
    accepted: Counter,
    refused: Family<ReasonLabel, Counter>,
    closed_early: Family<ReasonLabel, Counter>,
}

impl ConnectionMetrics {
    /// Adds the series to `registry` (the server's /metrics).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "web_connections_open",
            "Connections the web server holds open now",
            self.open.clone(),
        );
        registry.register(
            "web_connections_accepted",
            "Connections the web server took (under both caps)",
            self.accepted.clone(),
        );
        registry.register(
            "web_connections_refused",
            "Connections closed as soon as accepted: web.max_connections were open and none was \
             waiting for a request (reason total), or web.max_connections_per_address (per_address)",
            self.refused.clone(),
        );
        registry.register(
            "web_connections_closed",
            "Connections the web server closed: a timeout (header, request, idle), or to make \
             room for a new one when all were taken (evicted: the one waiting longest for a request)",
            self.closed_early.clone(),
        );
    }

    /// A connection taken under both caps.
    pub fn opened(&self) {
        self.open.inc();
        self.accepted.inc();
    }

    pub fn closed(&self) {
        self.open.dec();
    }

    pub fn open(&self) -> i64 {
        self.open.get()
    }

    pub fn refused(&self, reason: &'static str) {
        self.refused.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub fn closed_early(&self, reason: &'static str) {
        self.closed_early
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }
}
