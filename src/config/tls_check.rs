//! `[check.tls]`: raw → `TlsSpec`.

use super::*;

impl Validator<'_, '_> {
    pub(super) fn tls(
        &mut self,
        global: &Global,
        raw: Spanned<RawTls>,
        timeout: Duration,
        key: &str,
    ) -> Option<TlsSpec> {
        let t = raw.into_inner();
        let host = t.host.get_ref().trim().to_ascii_lowercase();
        if host.is_empty() || host.contains(['/', ':', ' ']) && host.parse::<IpAddr>().is_err() {
            self.err(
                &t.host,
                &format!("{key}.host"),
                "write a host name or IP address (no scheme, no port: use `port`)",
            );
        }
        let port = match &t.port {
            None => 443,
            Some(p) => u16::try_from(*p.get_ref())
                .ok()
                .filter(|p| *p > 0)
                .unwrap_or_else(|| {
                    self.err(p, &format!("{key}.port"), "a port from 1 to 65535");
                    443
                }),
        };
        let days = |v: &mut Self, d: Option<&Spanned<i64>>, name: &str, default: i64| match d {
            None => default,
            Some(x) if *x.get_ref() >= 0 => *x.get_ref(),
            Some(x) => {
                v.err(x, &format!("{key}.{name}"), "a number of days, 0 or more");
                default
            }
        };
        let warning = days(self, t.warning_days.as_ref(), "warning_days", 21);
        let critical = days(self, t.critical_days.as_ref(), "critical_days", 7);
        if critical > warning
            && let Some(c) = &t.critical_days
        {
            self.err(
                c,
                &format!("{key}.critical_days"),
                format!("critical_days ({critical}) must not be above warning_days ({warning})"),
            );
        }
        let ca_file = t
            .ca_file
            .as_ref()
            .and_then(|c| self.file(global, c, &format!("{key}.ca_file")));
        let connect_to = match &t.connect_to {
            None => None,
            Some(c) => Some(self.connect_to(global, c, key, Some(&host))?),
        };
        Some(TlsSpec {
            sni: t
                .sni
                .map(Spanned::into_inner)
                .unwrap_or_else(|| host.clone()),
            host,
            port,
            days_left: Thresholds {
                warning: Some(warning),
                critical: Some(critical),
            },
            ca_file,
            timeout,
            connect_to,
        })
    }
}
