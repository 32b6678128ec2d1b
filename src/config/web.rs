//! `[web]`, validated: who may reach the web server and how often (connection limits, sign-in
//! lockouts, what customer links may post), apart from the secrets, which `build_global` reads.

use std::net::IpAddr;
use std::time::Duration;

use serde_spanned::Spanned;

use super::raw::{RawCustomerLimits, RawLogin, RawWeb};
use super::validator::Validator;
use crate::secret::Secret;

#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    pub staff_token: Option<Secret>,
    pub metrics_require_token: bool,
    /// The key customer links are signed with (see `token`); `None`: the generated one kept in
    /// the database.
    pub secret: Option<Secret>,
    pub customer_limits: CustomerLimits,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    pub login: LoginConfig,
    /// Timeouts and connection caps of the web server (taken at start; a reload keeps them).
    pub limits: crate::listener::Limits,
}

/// `[web.customer_limits]`, validated: the most "report a problem" posts and ticket-page
/// replies (with "please close") that one link, and one customer over all their links, make
/// within `window`. Far above what a customer in trouble sends; a flood stops at them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerLimits {
    pub window: Duration,
    pub reports_per_link: u32,
    pub reports_per_customer: u32,
    pub replies_per_link: u32,
    pub replies_per_customer: u32,
}

impl Default for CustomerLimits {
    fn default() -> Self {
        CustomerLimits {
            window: Duration::from_secs(3600),
            reports_per_link: 5,
            reports_per_customer: 20,
            replies_per_link: 30,
            replies_per_customer: 100,
        }
    }
}

impl CustomerLimits {
    /// (per link, per customer) for a kind of post.
    pub fn of(&self, kind: crate::store::PostKind) -> (u32, u32) {
        match kind {
            crate::store::PostKind::Report => (self.reports_per_link, self.reports_per_customer),
            crate::store::PostKind::Reply => (self.replies_per_link, self.replies_per_customer),
        }
    }
}

/// `[web.login]`: when failed sign-ins lock a login name or a client address out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginConfig {
    /// Failures of one name within `window` that lock it.
    pub lockout_after: u32,
    /// Failures from one address within `window` that lock it.
    pub address_lockout_after: u32,
    pub window: Duration,
    /// The first lockout; each further one doubles, up to `max_lockout`.
    pub lockout: Duration,
    pub max_lockout: Duration,
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            lockout_after: 5,
            address_lockout_after: 20,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(3600),
        }
    }
}

/// `[web]`'s timeouts and connection caps; the cap per address may not exceed the total.
pub(super) fn limits(v: &mut Validator<'_, '_>, raw: &RawWeb) -> crate::listener::Limits {
    let d = crate::listener::Limits::SERVE;
    let limits = crate::listener::Limits {
        header_timeout: v.duration_or(
            raw.header_timeout.as_ref(),
            "web.header_timeout",
            d.header_timeout.as_secs(),
        ),
        request_timeout: v.duration_or(
            raw.request_timeout.as_ref(),
            "web.request_timeout",
            d.request_timeout.as_secs(),
        ),
        idle_timeout: v.duration_or(
            raw.idle_timeout.as_ref(),
            "web.idle_timeout",
            d.idle_timeout.as_secs(),
        ),
        max_connections: v.positive(
            raw.max_connections.as_ref(),
            "web.max_connections",
            d.max_connections,
        ),
        max_connections_per_address: v.positive(
            raw.max_connections_per_address.as_ref(),
            "web.max_connections_per_address",
            d.max_connections_per_address,
        ),
    };
    if let Some(per) = &raw.max_connections_per_address
        && limits.max_connections_per_address > limits.max_connections
    {
        v.err(
            per,
            "web.max_connections_per_address",
            format!(
                "{} is more than web.max_connections ({}): one client could take every connection",
                per.get_ref(),
                limits.max_connections
            ),
        );
    }
    limits
}

/// `[web] trusted_proxies`: reverse proxies whose `X-Forwarded-For` names the client.
pub(super) fn trusted_proxies(v: &mut Validator<'_, '_>, raw: &[Spanned<String>]) -> Vec<IpAddr> {
    let mut trusted_proxies = Vec::new();
    for p in raw {
        match p.get_ref().parse::<IpAddr>() {
            Ok(ip) => trusted_proxies.push(ip),
            Err(_) => v.err(
                p,
                "web.trusted_proxies",
                format!(
                    "{:?} is not an IP address: list the proxies' addresses, e.g. \"127.0.0.1\"",
                    p.get_ref()
                ),
            ),
        }
    }
    trusted_proxies
}

/// `[web.login]`: the sign-in lockouts; the longest lockout is at least the first.
pub(super) fn login(v: &mut Validator<'_, '_>, raw: &RawLogin) -> LoginConfig {
    let rl = raw;
    let defaults = LoginConfig::default();
    let count = |v: &mut Validator, n: Option<&Spanned<i64>>, key: &str, default: u32| {
        u32::try_from(v.positive(n, key, default as usize)).unwrap_or(default)
    };
    let mut login = LoginConfig {
        lockout_after: count(
            v,
            rl.lockout_after.as_ref(),
            "web.login.lockout_after",
            defaults.lockout_after,
        ),
        address_lockout_after: count(
            v,
            rl.address_lockout_after.as_ref(),
            "web.login.address_lockout_after",
            defaults.address_lockout_after,
        ),
        window: v
            .opt_duration(rl.window.as_ref(), "web.login.window")
            .unwrap_or(defaults.window),
        lockout: v
            .opt_duration(rl.lockout.as_ref(), "web.login.lockout")
            .unwrap_or(defaults.lockout),
        max_lockout: v
            .opt_duration(rl.max_lockout.as_ref(), "web.login.max_lockout")
            .unwrap_or(defaults.max_lockout),
    };
    if let Some(max) = &rl.max_lockout
        && login.max_lockout < login.lockout
    {
        v.err(
            max,
            "web.login.max_lockout",
            format!(
                "{:?} is shorter than the first lockout ({}): make it at least as long",
                max.get_ref(),
                humantime::format_duration(login.lockout)
            ),
        );
        login.max_lockout = login.lockout;
    }
    login
}

/// `[web.customer_limits]`.
pub(super) fn customer_limits(
    v: &mut Validator<'_, '_>,
    raw: &RawCustomerLimits,
) -> CustomerLimits {
    let d = CustomerLimits::default();
    let key = |k: &str| format!("web.customer_limits.{k}");
    let mut count = |n: Option<&Spanned<i64>>, k: &str, default: u32| {
        let n = v.positive(n, &key(k), default as usize);
        u32::try_from(n).unwrap_or(u32::MAX)
    };
    let limits = CustomerLimits {
        window: d.window,
        reports_per_link: count(
            raw.reports_per_link.as_ref(),
            "reports_per_link",
            d.reports_per_link,
        ),
        reports_per_customer: count(
            raw.reports_per_customer.as_ref(),
            "reports_per_customer",
            d.reports_per_customer,
        ),
        replies_per_link: count(
            raw.replies_per_link.as_ref(),
            "replies_per_link",
            d.replies_per_link,
        ),
        replies_per_customer: count(
            raw.replies_per_customer.as_ref(),
            "replies_per_customer",
            d.replies_per_customer,
        ),
    };
    CustomerLimits {
        window: v.duration_or(raw.window.as_ref(), &key("window"), d.window.as_secs()),
        ..limits
    }
}
