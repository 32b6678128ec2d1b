//! The exposition formats `/metrics` answers in, and the conversion from the OpenMetrics text
//! that `prometheus-client` writes to the classic Prometheus text format 0.0.4, which
//! `promtool check metrics` and scrapers that do not ask for OpenMetrics read.
//!
//! The samples are the same in both formats; what differs is around them:
//! - a counter family is named `x` in OpenMetrics (its samples `x_total`), `x_total` in the
//!   classic format, whose HELP and TYPE lines name the samples they describe;
//! - the classic format has no `# UNIT` lines, no `# EOF`, no exemplars (` # {…} v` after a
//!   value), no `_created` samples and no `info`, `stateset` or `gaugehistogram` types
//!   (`info` and `stateset` become gauges; anything else unknown becomes `untyped`);
//! - a timestamp is in seconds in OpenMetrics, in integer milliseconds in the classic format;
//! - HELP text escapes `"` in OpenMetrics and not in the classic format.

/// A scraper's choice, from its `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The classic text format 0.0.4: the default.
    Classic,
    /// OpenMetrics 1.0.0, only for a scraper that asks for it.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when `Accept` names `application/openmetrics-text` with a non-zero quality,
    /// the classic format otherwise (no header, `*/*`, `text/plain`, anything else).
    /// Prometheus asks for both, OpenMetrics first; it gets OpenMetrics.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let asks = accept.into_iter().flat_map(|a| a.split(',')).any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        });
        if asks {
            Format::OpenMetrics
        } else {
            Format::Classic
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Classic => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// One metric family as read from OpenMetrics text.
#[derive(Default)]
struct Family<'a> {
    name: &'a str,
    kind: &'a str,
    help: Option<&'a str>,
    samples: Vec<&'a str>,
}

/// The classic text format of an OpenMetrics exposition. Lines it cannot read are dropped
/// (the input is our own encoder's, so there are none).
pub fn from_openmetrics(text: &str) -> String {
    let mut families: Vec<Family> = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            let (Some(keyword), Some(name)) = (words.next(), words.next()) else {
                continue;
            };
            let rest = words.next().unwrap_or("");
            if families.last().is_none_or(|f| f.name != name) {
                families.push(Family {
                    name,
                    kind: "unknown",
                    ..Family::default()
                });
            }
            let family = families.last_mut().expect("just pushed");
            match keyword {
                "HELP" => family.help = Some(rest),
                "TYPE" => family.kind = rest,
                _ => {} // UNIT
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            match families.last_mut() {
                Some(family) => family.samples.push(line),
                None => families.push(Family {
                    kind: "unknown",
                    samples: vec![line],
                    ..Family::default()
                }),
            }
        }
    }
    let mut out = String::with_capacity(text.len());
    for family in &families {
        write_family(&mut out, family);
    }
    out
}

fn write_family(out: &mut String, family: &Family) {
    let (name, kind) = match family.kind {
        "counter" if !family.name.ends_with("_total") => {
            (format!("{}_total", family.name), "counter")
        }
        "counter" => (family.name.to_owned(), "counter"),
        "info" => (format!("{}_info", family.name), "gauge"),
        "gauge" | "stateset" => (family.name.to_owned(), "gauge"),
        "histogram" | "summary" => (family.name.to_owned(), family.kind),
        _ => (family.name.to_owned(), "untyped"),
    };
    if !family.name.is_empty() {
        if let Some(help) = family.help {
            out.push_str(&format!("# HELP {name} {}\n", unescape_quotes(help)));
        }
        out.push_str(&format!("# TYPE {name} {kind}\n"));
    }
    let created = format!("{}_created", family.name);
    for sample in &family.samples {
        let Some(sample) = Sample::parse(sample) else {
            continue;
        };
        if sample.name == created && matches!(family.kind, "counter" | "histogram" | "summary") {
            continue;
        }
        out.push_str(sample.name);
        out.push_str(sample.labels);
        out.push(' ');
        out.push_str(sample.value);
        if let Some(ms) = sample.timestamp_ms {
            out.push_str(&format!(" {ms}"));
        }
        out.push('\n');
    }
}

/// HELP text as the classic format escapes it: `\\` and `\n` stay, `\"` becomes `"`.
fn unescape_quotes(help: &str) -> String {
    let mut out = String::with_capacity(help.len());
    let mut chars = help.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some(next) => {
                out.push('\\');
                out.push(next);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A sample line split up: `name{labels} value [timestamp] [# exemplar]`.
#[derive(Debug, PartialEq)]
struct Sample<'a> {
    name: &'a str,
    /// `{…}` as written (the same escaping in both formats), or empty.
    labels: &'a str,
    value: &'a str,
    timestamp_ms: Option<i64>,
}

impl<'a> Sample<'a> {
    fn parse(line: &'a str) -> Option<Sample<'a>> {
        let name_end = line.find(['{', ' '])?;
        let (name, rest) = line.split_at(name_end);
        let (labels, rest) = if rest.starts_with('{') {
            let end = label_set_end(rest)?;
            rest.split_at(end)
        } else {
            ("", rest)
        };
        let mut fields = rest.split_whitespace();
        let value = fields.next()?;
        let timestamp_ms = match fields.next() {
            Some("#") | None => None,
            Some(seconds) => Some((seconds.parse::<f64>().ok()? * 1000.0).round() as i64),
        };
        Some(Sample {
            name,
            labels,
            value,
            timestamp_ms,
        })
    }
}

/// The length of a label set `{…}` at the start of `s`, through its closing brace; quoted
/// values may hold braces, commas and escaped quotes.
fn label_set_end(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(i + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(openmetrics: &str, classic: &str) {
        assert_eq!(
            from_openmetrics(openmetrics),
            classic,
            "from:\n{openmetrics}"
        );
    }

    #[test]
    fn counters_are_named_by_their_samples() {
        check(
            "# HELP forewarn_store_batches Result batches written to the store.\n\
             # TYPE forewarn_store_batches counter\n\
             forewarn_store_batches_total 3\n\
             # EOF\n",
            "# HELP forewarn_store_batches_total Result batches written to the store.\n\
             # TYPE forewarn_store_batches_total counter\n\
             forewarn_store_batches_total 3\n",
        );
    }

    #[test]
    fn gauges_and_histograms_keep_their_names() {
        let gauge = "# HELP up Whether.\n# TYPE up gauge\nup 1\n";
        check(gauge, gauge);
        let histogram = "# HELP lag_seconds Lag.\n# TYPE lag_seconds histogram\n\
                         lag_seconds_sum 0.5\nlag_seconds_count 2\n\
                         lag_seconds_bucket{le=\"0.5\"} 2\nlag_seconds_bucket{le=\"+Inf\"} 2\n";
        check(&format!("{histogram}# EOF\n"), histogram);
    }

    #[test]
    fn openmetrics_only_lines_go() {
        check(
            "# HELP req_seconds Requests.\n\
             # TYPE req_seconds counter\n\
             # UNIT req_seconds seconds\n\
             req_seconds_total{path=\"/\"} 2 # {trace=\"ab\"} 1.0 1700000000.5\n\
             req_seconds_created{path=\"/\"} 1700000000.25\n\
             # EOF\n",
            "# HELP req_seconds_total Requests.\n\
             # TYPE req_seconds_total counter\n\
             req_seconds_total{path=\"/\"} 2\n",
        );
    }

    #[test]
    fn info_becomes_a_gauge_and_unknown_untyped() {
        check(
            "# HELP build Build.\n# TYPE build info\nbuild_info{version=\"1\"} 1\n\
             # HELP odd Odd.\n# TYPE odd unknown\nodd 7\n# EOF\n",
            "# HELP build_info Build.\n# TYPE build_info gauge\nbuild_info{version=\"1\"} 1\n\
             # HELP odd Odd.\n# TYPE odd untyped\nodd 7\n",
        );
    }

    #[test]
    fn label_values_are_kept_as_written() {
        // Braces, the exemplar marker, commas and escaped quotes inside a value.
        let sample = r#"posts_total{kind="a} # {b",why="x\"y,z\\"} 4"#;
        check(
            &format!("# HELP posts Posts.\n# TYPE posts counter\n{sample} # {{t=\"1\"}} 1\n"),
            &format!("# HELP posts_total Posts.\n# TYPE posts_total counter\n{sample}\n"),
        );
    }

    #[test]
    fn timestamps_become_milliseconds_and_help_loses_quote_escapes() {
        check(
            r#"# HELP t Says \"hi\" \\\" and \\ ok.
# TYPE t gauge
t 1 1700000000.5
"#,
            r#"# HELP t Says "hi" \\" and \\ ok.
# TYPE t gauge
t 1 1700000000500
"#,
        );
    }

    #[test]
    fn an_empty_family_keeps_its_description() {
        check(
            "# HELP fails Failures.\n# TYPE fails counter\n# EOF\n",
            "# HELP fails_total Failures.\n# TYPE fails_total counter\n",
        );
    }

    #[test]
    fn negotiation() {
        for (accept, format) in [
            (None, Format::Classic),
            (Some("*/*"), Format::Classic),
            (Some("text/plain"), Format::Classic),
            (
                Some("text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
                Format::Classic,
            ),
            (Some("application/openmetrics-text"), Format::OpenMetrics),
            // Prometheus 2.x's default.
            (
                Some(
                    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                     version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                ),
                Format::OpenMetrics,
            ),
            (
                Some("Application/OpenMetrics-Text; version=1.0.0"),
                Format::OpenMetrics,
            ),
            (
                Some("application/openmetrics-text;q=0, text/plain"),
                Format::Classic,
            ),
        ] {
            assert_eq!(Format::negotiate(accept), format, "{accept:?}");
        }
    }
}
