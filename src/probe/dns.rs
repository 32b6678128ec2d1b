//! DNS probe: resolve one name and type, compare the records with what is expected.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::{Outcome, Status, Thresholds};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Ns,
    Caa,
}

impl RecordType {
    pub const ALL: [RecordType; 7] = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Cname,
        RecordType::Mx,
        RecordType::Txt,
        RecordType::Ns,
        RecordType::Caa,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Ns => "NS",
            RecordType::Caa => "CAA",
        }
    }

    pub fn parse(s: &str) -> Option<RecordType> {
        RecordType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the answer must be. Values are normalised: names lower-case without the trailing dot,
/// MX as `10 mail.example.com`, TXT strings concatenated, CAA as `0 issue "ca.example"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsExpect {
    /// Any non-empty answer.
    Resolves,
    /// The answer is exactly this set.
    Exact(BTreeSet<String>),
    /// The answer contains at least these values.
    Contains(BTreeSet<String>),
}

#[derive(Debug, Clone)]
pub struct DnsSpec {
    pub name: String,
    pub record_type: RecordType,
    pub expect: DnsExpect,
    /// `None`: the system resolver (/etc/resolv.conf).
    pub resolver: Option<SocketAddr>,
    pub timeout: Duration,
    pub latency: Thresholds<Duration>,
}

/// Resolvers, one per configured address, built on first use.
#[derive(Default)]
pub struct Resolvers {}

pub async fn probe(spec: &DnsSpec, _resolvers: &Resolvers) -> Outcome {
    let _ = spec;
    Outcome::failed(
        Status::Unknown,
        "dns probe not implemented",
        Duration::ZERO,
        Default::default(),
    )
}
