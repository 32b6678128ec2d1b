//! The validator every part of the configuration is checked with: it turns spans into
//! `file:line:col: key: message` diagnostics and parses the value kinds shared by all
//! (durations, counts, percentages, URLs, regexes, files, latency thresholds).

use super::*;

/// Collects diagnostics while building runtime types from spanned raw values.
pub(super) struct Validator<'a, 'b> {
    pub(super) src: &'a Source<'a>,
    pub(super) diags: &'b mut Diagnostics,
}

impl Validator<'_, '_> {
    pub(super) fn err<T>(&mut self, at: &Spanned<T>, key: &str, message: impl Into<String>) {
        self.diags
            .push(self.src.diag(Some(at.span()), key, message));
    }

    pub(super) fn duration(&mut self, s: &Spanned<String>, key: &str) -> Option<Duration> {
        match humantime::parse_duration(s.get_ref()) {
            Ok(d) if d.is_zero() && !zero_allowed(key) => {
                self.err(
                    s,
                    key,
                    format!(
                        "{:?} is zero, which would {}: write a positive duration (e.g. 30s, 5m)",
                        s.get_ref(),
                        zero_means(key)
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.err(
                    s,
                    key,
                    format!(
                        "bad duration {:?}: {e} (write e.g. 500ms, 30s, 5m, 1h, 3d)",
                        s.get_ref()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn duration_or(
        &mut self,
        s: Option<&Spanned<String>>,
        key: &str,
        secs: u64,
    ) -> Duration {
        s.and_then(|s| self.duration(s, key))
            .unwrap_or(Duration::from_secs(secs))
    }

    pub(super) fn opt_duration(
        &mut self,
        s: Option<&Spanned<String>>,
        key: &str,
    ) -> Option<Duration> {
        s.and_then(|s| self.duration(s, key))
    }

    pub(super) fn positive(
        &mut self,
        n: Option<&Spanned<i64>>,
        key: &str,
        default: usize,
    ) -> usize {
        match n {
            None => default,
            Some(v) if *v.get_ref() >= 1 => usize::try_from(*v.get_ref()).unwrap_or(default),
            Some(v) => {
                self.err(v, key, "must be a whole number of at least 1");
                default
            }
        }
    }

    pub(super) fn percent(&mut self, n: Option<&Spanned<f64>>, key: &str, default: f64) -> f64 {
        match n {
            None => default,
            Some(v) if (0.0..=100.0).contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                self.err(v, key, "a percentage from 0 to 100");
                default
            }
        }
    }

    pub(super) fn url(&mut self, s: &Spanned<String>, key: &str, schemes: &[&str]) -> Option<Url> {
        match Url::parse(s.get_ref()) {
            Ok(u) if !schemes.contains(&u.scheme()) => {
                self.err(
                    s,
                    key,
                    format!(
                        "URL scheme {:?} is not supported here: use {}",
                        u.scheme(),
                        schemes.join(" or ")
                    ),
                );
                None
            }
            Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                self.err(s, key, format!("URL {:?} has no host", s.get_ref()));
                None
            }
            Ok(u) => Some(u),
            Err(e) => {
                self.err(s, key, format!("bad URL {:?}: {e}", s.get_ref()));
                None
            }
        }
    }

    pub(super) fn regex(&mut self, s: &Spanned<String>, key: &str) -> Option<regex::Regex> {
        regex::RegexBuilder::new(s.get_ref())
            .size_limit(1 << 20)
            .build()
            .map_err(|e| self.err(s, key, format!("bad regular expression: {e}")))
            .ok()
    }

    pub(super) fn file(
        &mut self,
        global: &Global,
        s: &Spanned<String>,
        key: &str,
    ) -> Option<PathBuf> {
        let p = global.base.join(s.get_ref());
        if p.is_file() {
            Some(p)
        } else {
            self.err(s, key, format!("file {} does not exist", p.display()));
            None
        }
    }

    pub(super) fn latency(
        &mut self,
        warning: Option<&Spanned<String>>,
        critical: Option<&Spanned<String>>,
        key: &str,
    ) -> Thresholds<Duration> {
        let t = Thresholds {
            warning: self.opt_duration(warning, &format!("{key}.latency_warning")),
            critical: self.opt_duration(critical, &format!("{key}.latency_critical")),
        };
        if let (Some(w), Some(c), Some(ws)) = (t.warning, t.critical, warning)
            && w > c
        {
            self.err(
                ws,
                &format!("{key}.latency_warning"),
                "latency_warning must not be above latency_critical",
            );
        }
        t
    }
}

/// The durations for which zero means something sensible: no delay before a survey, no quiet
/// period, no advance notice, no verification or reopening window, flapping that ends as soon
/// as the site passes. Every other zero is a mistake that `serve` would act on (a check run in
/// a loop, a timeout that always fires, history deleted at once, links dead on arrival).
fn zero_allowed(key: &str) -> bool {
    matches!(
        key,
        "survey.delay"
            | "survey.quiet_period"
            | "incidents.verify_within"
            | "incidents.reopen_within"
            | "incidents.flap_quiet"
    ) || key.starts_with("survey.tier_delay.")
        || key.ends_with(".notify_before")
}

/// What a zero would do, for the message.
fn zero_means(key: &str) -> &'static str {
    if key == "web.customer_limits.window" {
        "count no earlier post, so no limit would ever stop a flood"
    } else if matches!(
        key,
        "web.header_timeout" | "web.request_timeout" | "web.idle_timeout"
    ) || !key.contains('.') && key.ends_with("_timeout")
    {
        // `[web]` and the agent's top-level connection timeouts.
        "close every connection at once"
    } else if key.ends_with("interval") || key.ends_with("job_every") {
        "run it without pause, as fast as it can"
    } else if key.ends_with("timeout") {
        "fail every run at once"
    } else if key.starts_with("history.") {
        "delete what was just recorded"
    } else if key.ends_with("_ttl") {
        "make every link expire before it is read"
    } else {
        "make it meaningless"
    }
}

/// Whether `d` (zero aside, which `duration` refuses) is at least `min`; an error at `at` if not.
pub(super) fn at_least<T>(
    v: &mut Validator,
    at: &Spanned<T>,
    key: &str,
    d: Duration,
    min: Duration,
) -> bool {
    if d.is_zero() || d >= min {
        return true;
    }
    v.err(
        at,
        key,
        format!(
            "{} is too short: the minimum is {}",
            crate::probe::fmt_span(d),
            crate::probe::fmt_span(min)
        ),
    );
    false
}
