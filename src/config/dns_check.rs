//! `[check.dns]`: raw → `DnsSpec`.

use super::*;

impl Validator<'_, '_> {
    pub(super) fn dns(
        &mut self,
        global: &Global,
        raw: Spanned<RawDns>,
        timeout: Duration,
        key: &str,
    ) -> Option<DnsSpec> {
        let d = raw.into_inner();
        let record_type = match &d.record_type {
            None => Some(RecordType::A),
            Some(t) => RecordType::parse(t.get_ref()).or_else(|| {
                let all: Vec<_> = RecordType::ALL.iter().map(|t| t.as_str()).collect();
                self.err(
                    t,
                    &format!("{key}.type"),
                    format!(
                        "unknown record type {:?}: use one of {}",
                        t.get_ref(),
                        all.join(", ")
                    ),
                );
                None
            }),
        };
        let name = d.name.get_ref().trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() || name.contains(char::is_whitespace) {
            self.err(&d.name, &format!("{key}.name"), "not a domain name");
        }
        let expect = match (d.expect, d.contains) {
            (Some(_), Some(_)) => {
                self.err(
                    &d.name,
                    key,
                    "set either `expect` (exact answer) or `contains`, not both",
                );
                DnsExpect::Resolves
            }
            (Some(e), None) => DnsExpect::Exact(e.iter().map(|s| normalise_record(s)).collect()),
            (None, Some(c)) => DnsExpect::Contains(c.iter().map(|s| normalise_record(s)).collect()),
            (None, None) => DnsExpect::Resolves,
        };
        let resolver = match &d.resolver {
            None => None,
            Some(r) => match global
                .resolvers
                .get(r.get_ref())
                .copied()
                .or_else(|| parse_resolver_addr(r.get_ref()))
            {
                Some(a) => Some(a),
                None => {
                    let known: Vec<_> = global.resolvers.keys().cloned().collect();
                    self.err(
                        r,
                        &format!("{key}.resolver"),
                        format!(
                            "unknown resolver {:?}: name one from [resolvers] in forewarn.toml ({}) or write ip:port",
                            r.get_ref(),
                            if known.is_empty() { "none defined".to_owned() } else { known.join(", ") }
                        ),
                    );
                    None
                }
            },
        };
        let latency = self.latency(d.latency_warning.as_ref(), d.latency_critical.as_ref(), key);
        Some(DnsSpec {
            name,
            record_type: record_type?,
            expect,
            resolver,
            timeout,
            latency,
        })
    }
}

/// Record values as written by people, normalised like answers: names lower-case without the
/// trailing dot (the last word of MX/NS/CNAME values), whitespace collapsed.
pub(super) fn normalise_record(s: &str) -> String {
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.contains('"') {
        return collapsed;
    }
    collapsed
        .split(' ')
        .map(|w| w.trim_end_matches('.').to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}
