//! One `[[check]]`, validated: its id, schedule (interval or cron, with the minimums), timeout
//! (never past its interval), server, thresholds and probe, which each kind validates in its own
//! file (`http_check`, `dns_check`, `tls_check`, `agent_check`).

use super::*;

/// The shortest check interval: anything shorter hammers the customer's site.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest check timeout: anything shorter fails healthy sites.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(100);

pub(super) fn build_check(
    global: &Global,
    src: &Source,
    customer: &Customer,
    raw: RawCheck,
    key: &str,
    diags: &mut Diagnostics,
) -> Option<Check> {
    let before = diags.len();
    let mut v = Validator { src, diags };
    let id = CheckId::parse(raw.id.get_ref())
        .map_err(|e| v.err(&raw.id, &format!("{key}.id"), e))
        .ok();
    let schedule = match (&raw.interval, &raw.cron) {
        (Some(i), Some(_)) => {
            v.err(
                i,
                &format!("{key}.interval"),
                "set either `interval` or `cron`, not both",
            );
            None
        }
        (Some(i), None) => v
            .duration(i, &format!("{key}.interval"))
            .and_then(|d| {
                if d < MIN_INTERVAL {
                    v.err(
                        i,
                        &format!("{key}.interval"),
                        "interval must be at least 1s (a shorter one hammers the customer's site)",
                    );
                    None
                } else {
                    Some(d)
                }
            })
            .map(Schedule::Every),
        (None, Some(c)) => match croner::Cron::from_str(c.get_ref()) {
            Ok(cron) => Some(Schedule::Cron(Box::new(cron))),
            Err(e) => {
                v.err(
                    c,
                    &format!("{key}.cron"),
                    format!(
                        "bad cron expression {:?}: {e} (write 5 fields: minute hour day month weekday, e.g. \"*/5 * * * *\")",
                        c.get_ref()
                    ),
                );
                None
            }
        },
        (None, None) => Some(Schedule::Every(global.default_interval)),
    };
    let mut timeout = raw
        .timeout
        .as_ref()
        .map_or(Some(global.default_timeout), |t| {
            v.duration(t, &format!("{key}.timeout"))
                .filter(|d| at_least(&mut v, t, &format!("{key}.timeout"), *d, MIN_TIMEOUT))
        })
        .unwrap_or(global.default_timeout);
    // A run still going when the next is due: the next is skipped, so the check runs less
    // often than configured and a hanging site looks slower to detect than promised.
    if let Some(Schedule::Every(every)) = &schedule
        && timeout > *every
        && raw.timeout.is_none()
        && !global.default_timeout_set
    {
        timeout = *every;
    } else if let Some(Schedule::Every(every)) = &schedule
        && timeout > *every
    {
        let message = format!(
            "the timeout ({}) is longer than the interval ({}): a run would still be going when \
             the next is due; make the timeout at most the interval",
            crate::probe::fmt_span(timeout),
            crate::probe::fmt_span(*every)
        );
        match (&raw.timeout, &raw.interval) {
            (Some(t), _) => v.err(t, &format!("{key}.timeout"), message),
            (None, Some(i)) => v.err(
                i,
                &format!("{key}.interval"),
                format!("{message} (the timeout is scheduler.default_timeout; set `timeout` here)"),
            ),
            (None, None) => v.err(
                &raw.id,
                &format!("{key}.timeout"),
                format!("{message} (both come from [scheduler])"),
            ),
        }
    }
    if let Some(server) = &raw.server
        && !customer.servers.iter().any(|s| s == server.get_ref())
    {
        v.err(
            server,
            &format!("{key}.server"),
            format!(
                "server {:?} is not one of the customer's servers {:?}",
                server.get_ref(),
                customer.servers
            ),
        );
    }
    let kinds = [
        raw.http.is_some(),
        raw.dns.is_some(),
        raw.tls.is_some(),
        raw.agent.is_some(),
    ];
    let spec = match kinds.iter().filter(|k| **k).count() {
        0 => {
            v.err(
                &raw.id,
                key,
                "a check needs one probe table: [check.http], [check.dns], [check.tls] or [check.agent]",
            );
            None
        }
        1 => {
            if let Some(h) = raw.http {
                v.http(global, h, timeout, &format!("{key}.http"))
                    .map(ProbeSpec::Http)
            } else if let Some(d) = raw.dns {
                v.dns(global, d, timeout, &format!("{key}.dns"))
                    .map(ProbeSpec::Dns)
            } else if let Some(t) = raw.tls {
                v.tls(global, t, timeout, &format!("{key}.tls"))
                    .map(ProbeSpec::Tls)
            } else if let Some(a) = raw.agent {
                v.agent(global, a, timeout, &format!("{key}.agent"))
                    .map(ProbeSpec::Agent)
            } else {
                None
            }
        }
        _ => {
            v.err(
                &raw.id,
                key,
                "a check has exactly one probe table; split it into several checks",
            );
            None
        }
    };
    let rules = Rules {
        open_after: v.positive(
            raw.failures_to_open.as_ref(),
            &format!("{key}.failures_to_open"),
            global.incidents.rules.open_after as usize,
        ) as u32,
        close_after: v.positive(
            raw.successes_to_close.as_ref(),
            &format!("{key}.successes_to_close"),
            global.incidents.rules.close_after as usize,
        ) as u32,
        ..global.incidents.rules
    };
    let thresholds_set = (
        raw.failures_to_open.is_some(),
        raw.successes_to_close.is_some(),
    );
    let (line, _) = src.line_col(raw.id.span().start);
    let defined_at = format!("{}:{line}", src.path.display());
    if diags.len() > before {
        return None;
    }
    let spec = spec?;
    Some(Check {
        id: id?,
        customer: customer.id.clone(),
        name: raw
            .name
            .map(Spanned::into_inner)
            .unwrap_or_else(|| spec.target()),
        server: raw.server.map(Spanned::into_inner),
        schedule: schedule?,
        spec,
        rules,
        thresholds_set,
        defined_at,
    })
}
