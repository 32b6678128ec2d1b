//! `[check.http]`: raw → `HttpSpec`, and `connect_to` (shared with `[check.tls]`).

use super::*;

impl Validator<'_, '_> {
    /// `connect_to` of an HTTP or TLS check: an IP address, else the name of a resolver from
    /// `[resolvers]`. It stands in for the DNS of `host`, the check's host name, so a check
    /// whose host is already an address cannot have one.
    pub(super) fn connect_to(
        &mut self,
        global: &Global,
        s: &Spanned<String>,
        key: &str,
        host: Option<&str>,
    ) -> Option<ConnectTo> {
        let key = format!("{key}.connect_to");
        let value = s.get_ref().as_str();
        let connect_to = if let Ok(ip) = value.parse::<IpAddr>() {
            ConnectTo::Addr(ip)
        } else if let Some(addr) = global.resolvers.get(value) {
            ConnectTo::Resolver {
                name: value.to_owned(),
                addr: *addr,
            }
        } else if let Ok(with_port) = value.parse::<SocketAddr>() {
            self.err(
                s,
                &key,
                format!(
                    "{value:?} has a port: write the address alone (\"{}\"); the check's port stays",
                    with_port.ip()
                ),
            );
            return None;
        } else {
            let mut known: Vec<&str> = global.resolvers.keys().map(String::as_str).collect();
            known.sort_unstable();
            self.err(
                s,
                &key,
                format!(
                    "{value:?} is neither an IP address nor a resolver from [resolvers] in forewarn.toml ({}): write an address such as \"203.0.113.7\" or a resolver's name",
                    if known.is_empty() { "none defined".to_owned() } else { known.join(", ") }
                ),
            );
            return None;
        };
        let host_ip = host.and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok());
        if let Some(ip) = host_ip {
            self.err(
                s,
                &key,
                format!(
                    "the check already connects to the address {ip}: connect_to stands in for a host name's DNS; leave it out"
                ),
            );
            return None;
        }
        Some(connect_to)
    }

    pub(super) fn http(
        &mut self,
        global: &Global,
        raw: Spanned<RawHttp>,
        timeout: Duration,
        key: &str,
    ) -> Option<HttpSpec> {
        let h = raw.into_inner();
        let url = self.url(&h.url, &format!("{key}.url"), &["http", "https"]);
        let method = match &h.method {
            None => Some(http::Method::GET),
            Some(m) => {
                let upper = m.get_ref().to_ascii_uppercase();
                const OK: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
                if OK.contains(&upper.as_str()) {
                    http::Method::from_bytes(upper.as_bytes()).ok()
                } else {
                    self.err(
                        m,
                        &format!("{key}.method"),
                        format!(
                            "unknown method {:?}: use one of {}",
                            m.get_ref(),
                            OK.join(", ")
                        ),
                    );
                    None
                }
            }
        };
        let mut headers = Vec::new();
        for (name, value) in &h.headers {
            let k = format!("{key}.headers.{name}");
            match (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value.get_ref()),
            ) {
                (Ok(n), Ok(val)) => headers.push((n, val)),
                (Err(_), _) => self.err(value, &k, format!("{name:?} is not a valid header name")),
                (_, Err(_)) => self.err(value, &k, "not a valid header value"),
            }
        }
        let follow_redirects = h.follow_redirects.unwrap_or(true);
        let expect_status = match &h.expect_status {
            None if follow_redirects => vec![StatusMatch::Class(2)],
            None => vec![StatusMatch::Class(2), StatusMatch::Class(3)],
            Some(list) => {
                let mut out = Vec::new();
                for s in list {
                    match s.get_ref() {
                        StatusLit::Code(c) if (100..=599).contains(c) => {
                            out.push(StatusMatch::Exact(*c as u16))
                        }
                        StatusLit::Class(c)
                            if c.len() == 3
                                && c[1..].eq_ignore_ascii_case("xx")
                                && matches!(c.as_bytes()[0], b'1'..=b'5') =>
                        {
                            out.push(StatusMatch::Class(c.as_bytes()[0] - b'0'))
                        }
                        _ => self.err(
                            s,
                            &format!("{key}.expect_status"),
                            "an expected status is a code from 100 to 599 or a class such as \"2xx\"",
                        ),
                    }
                }
                if out.is_empty() && list.is_empty() {
                    self.diags.push(self.src.diag(
                        None,
                        format!("{key}.expect_status"),
                        "expect_status is empty: leave it out to accept 2xx",
                    ));
                }
                out
            }
        };
        let body_regex = h
            .body_regex
            .iter()
            .filter_map(|r| self.regex(r, &format!("{key}.body_regex")))
            .collect();
        let mut expect_headers = Vec::new();
        for (name, pattern) in &h.expect_headers {
            let k = format!("{key}.expect_headers.{name}");
            let Ok(n) = http::HeaderName::from_bytes(name.as_bytes()) else {
                self.err(pattern, &k, format!("{name:?} is not a valid header name"));
                continue;
            };
            if let Some(re) = self.regex(pattern, &k) {
                expect_headers.push(HeaderExpect {
                    name: n,
                    pattern: re,
                });
            }
        }
        let latency = self.latency(h.latency_warning.as_ref(), h.latency_critical.as_ref(), key);
        let max_body_bytes = match &h.max_body {
            None => 1 << 20,
            Some(s) => parse_size(s.get_ref()).unwrap_or_else(|| {
                self.err(
                    s,
                    &format!("{key}.max_body"),
                    "bad size: write e.g. 64KiB, 1MiB, 10MB",
                );
                1 << 20
            }),
        };
        let ca_file = h
            .ca_file
            .as_ref()
            .and_then(|c| self.file(global, c, &format!("{key}.ca_file")));
        let connect_to = match &h.connect_to {
            None => None,
            Some(c) => {
                let host = url.as_ref().and_then(Url::host_str);
                Some(self.connect_to(global, c, key, host)?)
            }
        };
        Some(HttpSpec {
            method: method?,
            url: url?,
            headers,
            body: h.body,
            timeout,
            follow_redirects,
            verify_tls: h.verify_tls.unwrap_or(true),
            ca_file,
            expect_status,
            body_contains: h.body_contains,
            body_not_contains: h.body_not_contains,
            body_regex,
            expect_headers,
            latency,
            max_body_bytes,
            connect_to,
        })
    }
}
