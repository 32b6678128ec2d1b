//! `forewarn validate` and config loading: every mistake is reported with file:line:column,
//! key path and what is wrong; one bad check never hides another's error.

use std::path::Path;
use std::process::Command;

use forewarn::config;

const GLOBAL: &str = r#"
database = "sqlite://data/test.db"
listen = "127.0.0.1:0"
[resolvers]
local = "127.0.0.1:5353"
"#;

const CUSTOMER: &str = r#"[customer]
id = "acme"
name = "Acme"
contacts = ["ops@acme.example"]
servers = ["web-01"]
"#;

/// Writes `forewarn.toml` and `checks/<name>` files into a temp dir.
fn fixture(global: &str, checks: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("forewarn.toml"), global).unwrap();
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    for (name, text) in checks {
        std::fs::write(dir.path().join("checks").join(name), text).unwrap();
    }
    dir
}

/// Loads a fixture and asserts that every expected fragment appears in the diagnostics, and
/// that there are exactly `count` of them.
fn check_errors(checks_file: &str, count: usize, expected: &[&str]) {
    let dir = fixture(GLOBAL, &[("acme.toml", checks_file)]);
    let err = config::load(&dir.path().join("forewarn.toml"))
        .err()
        .unwrap_or_else(|| panic!("expected errors, config loaded:\n{checks_file}"));
    let text = err.to_string();
    for e in expected {
        assert!(text.contains(e), "missing {e:?} in:\n{text}");
    }
    assert_eq!(err.len(), count, "wrong number of problems:\n{text}");
}

fn check_ok(checks_file: &str) -> config::Config {
    let dir = fixture(GLOBAL, &[("acme.toml", checks_file)]);
    config::load(&dir.path().join("forewarn.toml"))
        .unwrap_or_else(|e| panic!("expected a valid config, got:\n{e}"))
}

#[test]
fn a_valid_file_of_every_kind_loads() {
    let cfg = check_ok(&format!(
        r#"{CUSTOMER}
[[check]]
id = "web"
interval = "30s"
[check.http]
url = "https://shop.example/"
expect_status = [200, "3xx"]
latency_warning = "500ms"

[[check]]
id = "dns"
cron = "*/5 * * * *"
[check.dns]
name = "shop.example."
type = "mx"
contains = ["10 Mail.Shop.Example."]
resolver = "local"

[[check]]
id = "cert"
[check.tls]
host = "shop.example"

[[check]]
id = "disk"
[check.agent]
url = "http://127.0.0.1:9187/"
token = {{ env = "PATH" }}
"#
    ));
    assert_eq!(cfg.checks.len(), 4);
    assert_eq!(cfg.customers[0].id.as_str(), "acme");
    let summary = config::summary(&cfg);
    assert!(
        summary.contains("1 customers, 4 checks (1 agent, 1 dns, 1 http, 1 tls)"),
        "{summary}"
    );
}

#[test]
fn an_unknown_key_names_file_line_and_key() {
    check_errors(
        &format!(
            "{CUSTOMER}\n[[check]]\nid = \"web\"\nintervall = \"30s\"\n[check.http]\nurl = \"http://x.example/\"\n"
        ),
        1,
        &["acme.toml:9:1", "check[0]", "unknown field `intervall`"],
    );
}

#[test]
fn a_bad_duration_is_located() {
    check_errors(
        &format!(
            "{CUSTOMER}\n[[check]]\nid = \"web\"\ninterval = \"5 minutes please\"\n[check.http]\nurl = \"http://x.example/\"\n"
        ),
        1,
        &["acme.toml:9:12", "check[web].interval", "bad duration"],
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = format!(
        r#"{CUSTOMER}
[[check]]
id = "a"
interval = "soon"
[check.http]
url = "not a url"

[[check]]
id = "b"
cron = "*/5 * *"
[check.dns]
name = "x.example"
resolver = "nowhere"

[[check]]
id = "c"
[check.tls]
host = "x.example"
port = 70000
warning_days = 3
critical_days = 10

[[check]]
id = "d"
colour = "red"
[check.http]
url = "http://x.example/"
"#
    );
    check_errors(
        &text,
        7,
        &[
            "acme.toml:9:12: check[a].interval: bad duration",
            "acme.toml:11:7: check[a].http.url: bad URL",
            "acme.toml:15:8: check[b].cron: bad cron expression",
            "acme.toml:18:12: check[b].dns.resolver: unknown resolver \"nowhere\"",
            "acme.toml:24:8: check[c].tls.port: a port from 1 to 65535",
            "check[c].tls.critical_days",
            "unknown field `colour`",
        ],
    );
}

#[test]
fn duplicate_check_ids_point_at_the_first_definition() {
    let dir = fixture(
        GLOBAL,
        &[
            (
                "a.toml",
                &format!(
                    "{CUSTOMER}\n[[check]]\nid = \"web\"\n[check.http]\nurl = \"http://x.example/\"\n"
                ),
            ),
            (
                "b.toml",
                "[customer]\nid = \"beta\"\nname = \"Beta\"\n\n[[check]]\nid = \"web\"\n[check.http]\nurl = \"http://y.example/\"\n",
            ),
        ],
    );
    let err = config::load(&dir.path().join("forewarn.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("b.toml:5:1: check.id: duplicate check id \"web\""),
        "{err}"
    );
    assert!(err.contains("a.toml:8"), "{err}");
}

#[test]
fn a_check_needs_exactly_one_probe_table() {
    check_errors(
        &format!("{CUSTOMER}\n[[check]]\nid = \"none\"\n"),
        1,
        &["acme.toml:8:6", "needs one probe table"],
    );
    check_errors(
        &format!(
            "{CUSTOMER}\n[[check]]\nid = \"two\"\n[check.http]\nurl = \"http://x.example/\"\n[check.tls]\nhost = \"x.example\"\n"
        ),
        1,
        &["exactly one probe table"],
    );
}

#[test]
fn secrets_must_exist_and_are_never_inline() {
    check_errors(
        &format!(
            "{CUSTOMER}\n[[check]]\nid = \"disk\"\n[check.agent]\nurl = \"http://127.0.0.1:9187/\"\ntoken = {{ env = \"FOREWARN_TEST_SURELY_UNSET\" }}\n"
        ),
        1,
        &[
            "check[disk].agent.token",
            "FOREWARN_TEST_SURELY_UNSET is not set",
        ],
    );
    check_errors(
        &format!(
            "{CUSTOMER}\n[[check]]\nid = \"disk\"\n[check.agent]\nurl = \"http://127.0.0.1:9187/\"\ntoken = \"hunter2\"\n"
        ),
        1,
        &["acme.toml:11:9", "a secret written inline"],
    );
}

#[test]
fn customer_mistakes_are_located() {
    check_errors(
        "[customer]\nid = \"Acme Corp\"\nname = \"Acme\"\n",
        1,
        &["acme.toml:2:6", "customer.id"],
    );
    check_errors(
        "[customer]\nid = \"acme\"\nname = \"Acme\"\ncontacts = [\"nobody\"]\nlanguage = \"fr\"\n",
        2,
        &[
            "acme.toml:4:13: customer.contacts: \"nobody\" is not an e-mail address",
            "acme.toml:5:12: customer.language: unknown language \"fr\"",
        ],
    );
    // Contacts with phones: each mistake at its entry, saying what a number may hold.
    check_errors(
        "[customer]\nid = \"acme\"\nname = \"Acme\"\ncontacts = [\n  \"ops@acme.example\",\n  \
         { name = \"Jane\", email = \"jane@acme.example\", phone = \"+44 20 7946 0018\" },\n  \
         { name = \"Night desk\", phone = \"call 0800\" },\n  { name = \"Nobody\" },\n  \
         { email = \"x@acme.example\", fax = \"1\" },\n]\n",
        3,
        &[
            "acme.toml:7:3: customer.contacts: \"call 0800\" is not a phone number: 'c' is not allowed",
            "acme.toml:8:3: customer.contacts: a contact needs an `email`, a `phone` or both",
            "acme.toml:9:3: customer.contacts: unknown key fax in a contact",
        ],
    );
    check_errors(
        &format!(
            "{CUSTOMER}\n[[check]]\nid = \"web\"\nserver = \"db-09\"\n[check.http]\nurl = \"http://x.example/\"\n"
        ),
        1,
        &["check[web].server", "not one of the customer's servers"],
    );
}

#[test]
fn a_toml_syntax_error_is_located() {
    check_errors(
        &format!("{CUSTOMER}\n[[check]\nid = \"x\"\n"),
        1,
        &["acme.toml:7:"],
    );
}

#[test]
fn a_zero_duration_that_serve_would_misuse_is_refused() {
    // A zero interval ran one check thousands of times a second; a zero timeout opened false
    // P1 tickets; zero history or link lifetimes lose data and links.
    check_errors(
        &format!(
            "{CUSTOMER}\n[[check]]\nid = \"web\"\ninterval = \"0s\"\ntimeout = \"0ms\"\n[check.http]\nurl = \"http://x.example/\"\n"
        ),
        2,
        &[
            "acme.toml:9:12: check[web].interval: \"0s\" is zero, which would run it without pause",
            "acme.toml:10:11: check[web].timeout: \"0ms\" is zero, which would fail every run at once",
        ],
    );
    let dir = fixture(
        "[scheduler]\ndefault_interval = \"0s\"\n[history]\nraw = \"0s\"\n[survey]\nlink_ttl = \"0s\"\ndelay = \"0s\"\n",
        &[],
    );
    let err = config::load(&dir.path().join("forewarn.toml")).unwrap_err();
    let text = err.to_string();
    for expected in [
        "forewarn.toml:2:20: scheduler.default_interval",
        "forewarn.toml:4:7: history.raw",
        "forewarn.toml:6:12: survey.link_ttl",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(
        err.len(),
        3,
        "a zero survey delay is fine (send at once):\n{text}"
    );
}

#[test]
fn too_short_durations_and_a_timeout_past_the_interval_are_refused() {
    // 500 ms hammers the customer's site; 10 ms fails healthy sites; a 30 s timeout on a 10 s
    // interval means runs that are still going when the next is due.
    check_errors(
        &format!(
            "{CUSTOMER}\n[[check]]\nid = \"web\"\ninterval = \"500ms\"\n[check.http]\nurl = \"http://x.example/\"\n\
             [[check]]\nid = \"api\"\ninterval = \"10s\"\ntimeout = \"10ms\"\n[check.http]\nurl = \"http://x.example/\"\n\
             [[check]]\nid = \"slow\"\ninterval = \"10s\"\ntimeout = \"30s\"\n[check.http]\nurl = \"http://x.example/\"\n"
        ),
        3,
        &[
            "acme.toml:9:12: check[web].interval: interval must be at least 1s",
            "acme.toml:15:11: check[api].timeout: 10ms is too short: the minimum is 100ms",
            "acme.toml:21:11: check[slow].timeout: the timeout (30 seconds) is longer than the interval (10 seconds)",
        ],
    );
    let dir = fixture(
        "[scheduler]\ndefault_interval = \"200ms\"\ndefault_timeout = \"5ms\"\n",
        &[],
    );
    let err = config::load(&dir.path().join("forewarn.toml")).unwrap_err();
    let text = err.to_string();
    for expected in [
        "forewarn.toml:2:20: scheduler.default_interval: 200ms is too short: the minimum is 1 second",
        "forewarn.toml:3:19: scheduler.default_timeout: 5ms is too short: the minimum is 100ms",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // A short interval without a timeout of its own shortens the built-in 10 s timeout.
    let dir = fixture(
        "",
        &[(
            "acme.toml",
            "[customer]\nid = \"acme\"\nname = \"Acme\"\ncontacts = [\"a@acme.example\"]\n\
             [[check]]\nid = \"web\"\ninterval = \"2s\"\n[check.http]\nurl = \"http://x.example/\"\n",
        )],
    );
    let config = config::load(&dir.path().join("forewarn.toml")).unwrap();
    let forewarn::probe::ProbeSpec::Http(spec) = &config.checks[0].spec else {
        panic!("an HTTP check");
    };
    assert_eq!(spec.timeout, std::time::Duration::from_secs(2));
}

#[test]
fn a_bad_global_file_is_located() {
    let dir = fixture(
        "listen = \"everywhere\"\n[scheduler]\nmax_concurrency = 0\n",
        &[],
    );
    let err = config::load(&dir.path().join("forewarn.toml")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("forewarn.toml:1:10: listen"), "{text}");
    assert!(
        text.contains("forewarn.toml:3:19: scheduler.max_concurrency"),
        "{text}"
    );
}

#[test]
fn conditions_are_parsed_once_into_specs() {
    let cfg = check_ok(&format!(
        r#"{CUSTOMER}
[[check]]
id = "web"
[check.http]
url = "http://x.example/"
follow_redirects = false
body_regex = ["^ok$"]
expect_headers = {{ "content-type" = "json" }}
"#
    ));
    let forewarn::probe::ProbeSpec::Http(spec) = &cfg.checks[0].spec else {
        panic!("http spec expected");
    };
    use forewarn::probe::http::StatusMatch;
    // Without redirects, 3xx passes too by default.
    assert_eq!(
        spec.expect_status,
        vec![StatusMatch::Class(2), StatusMatch::Class(3)]
    );
    assert!(spec.body_regex[0].is_match("ok"));
    assert_eq!(spec.expect_headers[0].name.as_str(), "content-type");
    assert_eq!(spec.max_body_bytes, 1 << 20);
}

fn forewarn(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn validate_exits_1_with_every_problem_and_0_with_a_summary() {
    let bad = fixture(
        GLOBAL,
        &[(
            "acme.toml",
            &format!(
                "{CUSTOMER}\n[[check]]\nid = \"web\"\ntimeout = \"10 sekunden\"\n[check.http]\nurl = \"ftp://x.example/\"\n"
            ),
        )],
    );
    let out = forewarn(&bad.path().join("forewarn.toml"), &["validate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("acme.toml:9:11: check[web].timeout: bad duration"),
        "{stderr}"
    );
    assert!(
        stderr.contains("acme.toml:11:7: check[web].http.url: URL scheme \"ftp\""),
        "{stderr}"
    );
    assert!(stderr.contains("2 problems found"), "{stderr}");

    let good = fixture(
        GLOBAL,
        &[(
            "acme.toml",
            &format!(
                "{CUSTOMER}\n[[check]]\nid = \"web\"\n[check.http]\nurl = \"http://x.example/\"\n"
            ),
        )],
    );
    let out = forewarn(&good.path().join("forewarn.toml"), &["validate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ok — 1 customers, 1 checks (1 http)"),
        "{stdout}"
    );
}

#[test]
fn the_shipped_examples_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg = config::load(&root.join("forewarn.toml")).unwrap_or_else(|e| panic!("{e}"));
    let kinds: std::collections::HashSet<_> = cfg.checks.iter().map(|c| c.spec.kind()).collect();
    assert_eq!(kinds.len(), 4, "the examples cover every probe kind");
}

#[test]
fn maintenance_windows_cover_their_checks_and_times() {
    let cfg = check_ok(&format!(
        r#"{CUSTOMER}
[[check]]
id = "web"
server = "web-01"
failures_to_open = 5
[check.http]
url = "http://x.example/"

[[check]]
id = "other"
[check.http]
url = "http://y.example/"

[[maintenance]]
servers = ["web-01"]
start = "2026-12-01T02:00:00Z"
end = "2026-12-01T04:00:00Z"
reason = "kernel upgrade"

[[maintenance]]
checks = ["other"]
cron = "0 3 * * sun"
duration = "2h"
"#
    ));
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let web = cfg.check("web").unwrap();
    let other = cfg.check("other").unwrap();
    assert_eq!(web.rules.open_after, 5, "per-check threshold");
    assert_eq!(other.rules.open_after, 3, "the default");
    assert!(cfg.in_maintenance(web, at("2026-12-01T03:00:00Z")));
    assert!(!cfg.in_maintenance(web, at("2026-12-01T04:00:00Z")));
    assert!(
        !cfg.in_maintenance(other, at("2026-12-01T03:00:00Z")),
        "a Tuesday"
    );
    // 2026-11-29 is a Sunday: 03:00–05:00.
    assert!(cfg.in_maintenance(other, at("2026-11-29T04:59:00Z")));
    assert!(!cfg.in_maintenance(other, at("2026-11-29T05:01:00Z")));
    assert!(!cfg.in_maintenance(other, at("2026-11-29T02:59:00Z")));
}

#[test]
fn maintenance_mistakes_are_located() {
    check_errors(
        &format!(
            "{CUSTOMER}\n[[maintenance]]\nchecks = [\"nope\"]\nstart = \"tomorrow\"\nend = \"2026-12-01T04:00:00Z\"\n"
        ),
        2,
        &[
            "acme.toml:8:11: maintenance[0].checks: no check \"nope\" in this file",
            "acme.toml:9:9: maintenance[0].start: bad time \"tomorrow\"",
        ],
    );
}

#[test]
fn cluster_mistakes_are_located_and_defaults_fill_in() {
    let dir = fixture(
        "[cluster]\ninstance = \"a b\"\nregion = \"eu\"\nlease = \"2h\"\nquorum = 0\ndead_prober_percent = 150.0\n",
        &[],
    );
    let text = config::load(&dir.path().join("forewarn.toml"))
        .unwrap_err()
        .to_string();
    for want in [
        "forewarn.toml:2:12: cluster.instance: \"a b\" is not a name",
        "forewarn.toml:4:9: cluster.lease: must be between 1s and 10m",
        "forewarn.toml:5:10: cluster.quorum: must be a whole number of at least 1",
        "forewarn.toml:6:23: cluster.dead_prober_percent",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let dir = fixture("[cluster]\ninstance = \"fw-1\"\n", &[]);
    let cfg = config::load(&dir.path().join("forewarn.toml")).unwrap();
    assert_eq!(cfg.cluster.instance, "fw-1");
    assert_eq!(cfg.cluster.region, "default");
    assert_eq!(cfg.cluster.lease, std::time::Duration::from_secs(15));
    assert_eq!(cfg.cluster.quorum, 2);
    // Without the table: a name from the host, still valid.
    let dir = fixture("", &[]);
    let cfg = config::load(&dir.path().join("forewarn.toml")).unwrap();
    assert!(!cfg.cluster.instance.is_empty());
}

#[test]
fn connect_to_is_an_address_or_a_named_resolver() {
    use forewarn::probe::{ConnectTo, ProbeSpec};
    let cfg = check_ok(&format!(
        r#"{CUSTOMER}
[[check]]
id = "web"
[check.http]
url = "https://shop.example/"
connect_to = "127.0.0.2"

[[check]]
id = "v6"
[check.http]
url = "http://shop.example:8080/health"
connect_to = "2001:db8::7"

[[check]]
id = "cert"
[check.tls]
host = "shop.example"
connect_to = "local"
"#
    ));
    let connect_to = |id: &str| match &cfg.check(id).unwrap().spec {
        ProbeSpec::Http(s) => s.connect_to.clone(),
        ProbeSpec::Tls(s) => s.connect_to.clone(),
        _ => panic!("an http or tls check expected"),
    };
    assert_eq!(
        connect_to("web"),
        Some(ConnectTo::Addr("127.0.0.2".parse().unwrap()))
    );
    assert_eq!(
        connect_to("v6"),
        Some(ConnectTo::Addr("2001:db8::7".parse().unwrap()))
    );
    assert_eq!(
        connect_to("cert"),
        Some(ConnectTo::Resolver {
            name: "local".to_owned(),
            addr: "127.0.0.1:5353".parse().unwrap()
        })
    );
    // A check without a name is called by its target, which says where it connects.
    let web = cfg.check("web").unwrap();
    assert_eq!(web.name, "https://shop.example/ via 127.0.0.2");
    assert_eq!(web.spec.host_key(), "127.0.0.2");
    let cert = cfg.check("cert").unwrap();
    assert_eq!(cert.spec.target(), "shop.example:443 via resolver local");
    assert_eq!(cert.spec.host_key(), "shop.example");
}

#[test]
fn connect_to_mistakes_are_located() {
    let text = format!(
        r#"{CUSTOMER}
[[check]]
id = "a"
[check.http]
url = "https://shop.example/"
connect_to = "nowhere"

[[check]]
id = "b"
[check.http]
url = "https://shop.example/"
connect_to = "127.0.0.2:8443"

[[check]]
id = "c"
[check.http]
url = "https://10.0.0.1/"
connect_to = "127.0.0.2"

[[check]]
id = "d"
[check.tls]
host = "shop.example"
connect_to = "office"
"#
    );
    check_errors(
        &text,
        4,
        &[
            "acme.toml:11:14: check[a].http.connect_to: \"nowhere\" is neither an IP address nor a resolver from [resolvers] in forewarn.toml (local): write an address such as \"203.0.113.7\" or a resolver's name",
            "acme.toml:17:14: check[b].http.connect_to: \"127.0.0.2:8443\" has a port: write the address alone (\"127.0.0.2\"); the check's port stays",
            "acme.toml:23:14: check[c].http.connect_to: the check already connects to the address 10.0.0.1: connect_to stands in for a host name's DNS; leave it out",
            "acme.toml:29:14: check[d].tls.connect_to: \"office\" is neither an IP address nor a resolver from [resolvers] in forewarn.toml (local)",
        ],
    );
}

#[test]
fn customer_limit_mistakes_are_located_and_defaults_fill_in() {
    let dir = fixture(
        "[web.customer_limits]\nwindow = \"0s\"\nreports_per_link = 0\nreports_per_customer = -3\nreplies_per_link = 12\n",
        &[],
    );
    let err = config::load(&dir.path().join("forewarn.toml")).unwrap_err();
    let text = err.to_string();
    for want in [
        "forewarn.toml:2:10: web.customer_limits.window: \"0s\" is zero, which would count no earlier post",
        "forewarn.toml:3:20: web.customer_limits.reports_per_link: must be a whole number of at least 1",
        "forewarn.toml:4:24: web.customer_limits.reports_per_customer: must be a whole number of at least 1",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert_eq!(err.len(), 3, "{text}");
    let dir = fixture("[web.customer_limits]\nreplies_per_customr = 5\n", &[]);
    let text = config::load(&dir.path().join("forewarn.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("forewarn.toml:2:1: unknown field `replies_per_customr`"),
        "{text}"
    );
    let dir = fixture(
        "[web.customer_limits]\nwindow = \"30m\"\nreplies_per_link = 12\n",
        &[],
    );
    let limits = config::load(&dir.path().join("forewarn.toml"))
        .unwrap()
        .web
        .customer_limits;
    assert_eq!(
        limits,
        config::CustomerLimits {
            window: std::time::Duration::from_secs(1800),
            replies_per_link: 12,
            ..Default::default()
        }
    );
    assert_eq!(
        (limits.reports_per_link, limits.reports_per_customer),
        (5, 20)
    );
    assert_eq!(limits.replies_per_customer, 100);
}

#[test]
fn sign_in_limits_and_trusted_proxies_are_located_and_defaults_fill_in() {
    let dir = fixture(
        "[web]\ntrusted_proxies = [\"127.0.0.1\", \"proxy.lan\"]\n[web.login]\nlockout_after = 0\n\
         window = \"0s\"\nlockout = \"10m\"\nmax_lockout = \"1m\"\nlockout_for = \"1m\"\n",
        &[],
    );
    let err = config::load(&dir.path().join("forewarn.toml")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("lockout_for"),
        "an unknown key is named:\n{text}"
    );
    let dir = fixture(
        "[web]\ntrusted_proxies = [\"127.0.0.1\", \"proxy.lan\"]\n[web.login]\nlockout_after = 0\n\
         window = \"0s\"\nlockout = \"10m\"\nmax_lockout = \"1m\"\n",
        &[],
    );
    let text = config::load(&dir.path().join("forewarn.toml"))
        .unwrap_err()
        .to_string();
    for want in [
        "forewarn.toml:2:33: web.trusted_proxies: \"proxy.lan\" is not an IP address",
        "forewarn.toml:4:17: web.login.lockout_after: must be a whole number of at least 1",
        "forewarn.toml:5:10: web.login.window: \"0s\" is zero",
        "forewarn.toml:7:15: web.login.max_lockout: \"1m\" is shorter than the first lockout (10m)",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let cfg = config::load(&fixture("", &[]).path().join("forewarn.toml")).unwrap();
    let login = cfg.web.login;
    assert_eq!((login.lockout_after, login.address_lockout_after), (5, 20));
    assert_eq!(login.window, std::time::Duration::from_secs(900));
    assert_eq!(login.lockout, std::time::Duration::from_secs(60));
    assert_eq!(login.max_lockout, std::time::Duration::from_secs(3600));
    assert!(cfg.web.trusted_proxies.is_empty());
}

/// `[[inbound]]`: defaults filled in; plain text only to loopback; every mistake with its line.
#[test]
fn inbound_mailboxes_load_with_defaults_and_plain_text_only_to_loopback() {
    let good = format!(
        r#"{GLOBAL}
[[inbound]]
name = "support"
server = "imap.hoster.example"
user = "support@hoster.example"
password = {{ file = "imap-pass" }}

[[inbound]]
name = "local"
server = "127.0.0.1"
tls = "none"
user = "support"
password = {{ file = "imap-pass" }}
folder = "Support"
processed_folder = "Support/Done"
poll_interval = "5s"
idle = false
"#
    );
    let dir = fixture(&good, &[("acme.toml", CUSTOMER)]);
    std::fs::write(dir.path().join("imap-pass"), "s3cret\n").unwrap();
    let cfg = config::load(&dir.path().join("forewarn.toml")).unwrap_or_else(|e| panic!("{e}"));
    let [a, b] = &cfg.inbound[..] else {
        panic!("two mailboxes: {:?}", cfg.inbound)
    };
    let (config::MailSource::Imap(ai), config::MailSource::Imap(bi)) = (&a.source, &b.source)
    else {
        panic!("two IMAP mailboxes: {:?}", cfg.inbound)
    };
    assert_eq!(
        (
            ai.port,
            ai.tls,
            a.folder.as_str(),
            a.processed_folder.as_str()
        ),
        (993, config::TlsMode::Tls, "INBOX", "Processed")
    );
    assert_eq!(a.poll_interval, std::time::Duration::from_secs(60));
    assert!(ai.idle);
    assert_eq!(ai.password.expose(), "s3cret");
    assert_eq!(
        (bi.port, bi.tls, bi.idle),
        (143, config::TlsMode::None, false)
    );
    assert_eq!(b.poll_interval, std::time::Duration::from_secs(5));

    let bad = format!(
        r#"{GLOBAL}
[[inbound]]
name = "support"
server = "imap.hoster.example"
tls = "none"
user = "support"
password = {{ env = "FOREWARN_TEST_NO_SUCH_VAR" }}
poll_interval = "0s"

[[inbound]]
name = "support"
server = "127.0.0.1"
tls = "ssl"
port = 70000
user = "support"
password = {{ file = "imap-pass" }}
processed_folder = "INBOX"
"#
    );
    let dir = fixture(&bad, &[("acme.toml", CUSTOMER)]);
    std::fs::write(dir.path().join("imap-pass"), "s3cret\n").unwrap();
    let text = config::load(&dir.path().join("forewarn.toml"))
        .expect_err("errors")
        .to_string();
    for e in [
        "forewarn.toml:10:7: inbound[0].tls: tls = \"none\" sends the password in clear text",
        "only to a loopback address",
        "inbound[0].password: environment variable FOREWARN_TEST_NO_SUCH_VAR is not set",
        "inbound[0].poll_interval:",
        "forewarn.toml:16:8: inbound[1].name: another [[inbound]] is already named \"support\"",
        "inbound[1].tls: \"ssl\" is not a TLS mode",
        "inbound[1].port: a port from 1 to 65535",
        "inbound[1].processed_folder: the processed folder must differ",
    ] {
        assert!(text.contains(e), "missing {e:?} in:\n{text}");
    }
}

/// A directory mailbox (the demo's inbox): its path is relative to forewarn.toml; IMAP keys on
/// it, both or neither of server and directory are mistakes with file and line.
#[test]
fn a_directory_mailbox_reads_eml_files_and_refuses_imap_keys() {
    let good = format!(
        r#"{GLOBAL}
[[inbound]]
name = "trial"
directory = "data/inbox"
poll_interval = "1s"
"#
    );
    let dir = fixture(&good, &[("acme.toml", CUSTOMER)]);
    let cfg = config::load(&dir.path().join("forewarn.toml")).unwrap_or_else(|e| panic!("{e}"));
    let config::MailSource::Directory(d) = &cfg.inbound[0].source else {
        panic!("a directory mailbox: {:?}", cfg.inbound)
    };
    assert_eq!(d, &dir.path().join("data/inbox"));
    assert_eq!(cfg.inbound[0].processed_folder, "processed");

    let bad = format!(
        r#"{GLOBAL}
[[inbound]]
name = "a"
directory = "data/inbox"
user = "support"

[[inbound]]
name = "b"
directory = "data/inbox"
server = "127.0.0.1"

[[inbound]]
name = "c"
"#
    );
    let dir = fixture(&bad, &[("acme.toml", CUSTOMER)]);
    let text = config::load(&dir.path().join("forewarn.toml"))
        .expect_err("errors")
        .to_string();
    for e in [
        "inbound[0].user: user is for an IMAP server; a directory mailbox reads its *.eml files",
        "inbound[1].server: write either server (an IMAP mailbox) or directory",
        "inbound[2].server: say where the mail is",
    ] {
        assert!(text.contains(e), "missing {e:?} in:\n{text}");
    }
    assert!(
        text.contains("forewarn.toml:"),
        "errors name the file and line: {text}"
    );
}
