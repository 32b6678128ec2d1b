//! Every word a customer reads, rendered in every language with sample data: the catalog's
//! entries (surveys, maintenance notices, evidence, status words, pages) and every playbook
//! message with evidence told the way monitoring tells it. Russian output holds no English
//! status or evidence words, no customer text holds raw condition syntax, and the line after a
//! greeting starts with a capital letter.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use forewarn::incident::evidence::{About, Fact, KNOWN_STATUSES};
use forewarn::model::Language;
use forewarn::playbook::{MessageContext, MessageKind, Playbooks, ResolutionContext};
use forewarn::probe::Failure;
use forewarn::ticket::model::SolutionOption;
use forewarn::words::format::Reader;
use forewarn::words::{Words, entries, samples};

/// Words that mean a Russian customer was written to in English.
const ENGLISH: [&str; 24] = [
    "critical",
    "warning",
    "resolved",
    "in progress",
    "automatic update",
    "next update",
    "ticket",
    "status",
    "error",
    "expires",
    "days",
    "minutes",
    "seconds",
    "hours",
    "support",
    "hello",
    "the",
    "and",
    "your",
    "site",
    "not found",
    "failed",
    "unavailable",
    "utc",
];

/// What a check's condition looks like to staff, never to customers.
const RAW: [&str; 9] = [
    "got ",
    "==",
    "days_left",
    "status in [",
    "— failed",
    "not_after",
    "latency <",
    "answer contains",
    "hostname matches",
];

const LANGUAGES: [Language; 2] = [Language::En, Language::Ru];

fn english_words_in(text: &str) -> Vec<&'static str> {
    let lower = text.to_lowercase();
    ENGLISH
        .iter()
        .filter(|w| {
            lower.match_indices(*w).any(|(i, _)| {
                let before = lower[..i].chars().next_back();
                let after = lower[i + w.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric)
            })
        })
        .copied()
        .collect()
}

/// Problems of one rendered customer text.
fn problems(lang: Language, what: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in RAW {
        if text.contains(raw) {
            out.push(format!("{what}: raw condition syntax {raw:?} in {text:?}"));
        }
    }
    if lang == Language::Ru {
        // URLs and the sample placeholders are not words.
        let words: String = text
            .split_whitespace()
            .filter(|w| !w.contains("://") && !w.contains('⟨') && !w.contains('@'))
            .collect::<Vec<_>>()
            .join(" ");
        let english = english_words_in(&words);
        if !english.is_empty() {
            out.push(format!(
                "{what}: English {english:?} in Russian text {text:?}"
            ));
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let greeting = line.starts_with("Hello ") || line.starts_with("Здравствуйте");
        if !greeting {
            continue;
        }
        if let Some(next) = lines[i + 1..].iter().find(|l| !l.trim().is_empty()) {
            let first = next.trim_start().chars().next().unwrap_or(' ');
            if !first.is_uppercase() && !first.is_ascii_digit() && first != '⟨' {
                out.push(format!(
                    "{what}: after the greeting {next:?} does not start with a capital"
                ));
            }
        }
    }
    out
}

#[test]
fn every_catalog_entry_reads_right_in_every_language() {
    let words = Words::builtin();
    let mut found = Vec::new();
    let mut rendered = 0;
    for lang in LANGUAGES {
        for entry in entries() {
            for (i, ctx) in samples(entry.vars).into_iter().enumerate() {
                let text = words
                    .try_text(lang, entry.key, ctx)
                    .unwrap_or_else(|e| panic!("{} {}: {e:#}", lang.as_str(), entry.key));
                rendered += 1;
                found.extend(problems(
                    lang,
                    &format!("{} {} #{i}", lang.as_str(), entry.key),
                    &text,
                ));
            }
        }
    }
    assert!(rendered > 200, "only {rendered} renderings");
    assert!(
        found.is_empty(),
        "{} problems:\n{}",
        found.len(),
        found.join("\n")
    );
}

/// One fact of every kind, as monitoring records them.
fn every_fact() -> Vec<Fact> {
    let at = Utc::now() + chrono::Duration::days(5);
    let mut facts: Vec<Fact> = [
        Failure::Resolve,
        Failure::Connect,
        Failure::Timeout,
        Failure::TlsHandshake,
        Failure::Protocol,
        Failure::Body,
        Failure::Setup,
    ]
    .into_iter()
    .map(|failure| Fact::NoAnswer { failure })
    .collect();
    facts.extend(KNOWN_STATUSES.iter().map(|&code| Fact::Status { code }));
    facts.extend([
        Fact::Status { code: 418 },
        Fact::Body {
            text: Some("Welcome".into()),
            unwanted: false,
        },
        Fact::Body {
            text: None,
            unwanted: false,
        },
        Fact::Body {
            text: Some("Fatal".into()),
            unwanted: true,
        },
        Fact::Header {
            name: Some("x-cache".into()),
        },
        Fact::Slow { took_ms: 2400 },
        Fact::Dns {
            got: vec!["127.0.0.2".into()],
            expected: Some("127.0.0.1".into()),
        },
        Fact::Dns {
            got: vec![],
            expected: None,
        },
        Fact::CertificateUntrusted,
        Fact::CertificateName {
            host: Some("shop.example".into()),
        },
        Fact::CertificateExpired {
            at: Some(Utc::now() - chrono::Duration::days(2)),
        },
        Fact::CertificateExpires { at: Some(at) },
        Fact::Disk {
            mount: Some("/var".into()),
            percent: Some(93),
            inodes: false,
        },
        Fact::Disk {
            mount: Some("/var".into()),
            percent: Some(97),
            inodes: true,
        },
        Fact::FillsUp {
            what: Some("/home".into()),
        },
        Fact::Quota {
            account: Some("shop".into()),
            percent: Some(91),
        },
        Fact::Flapping {
            changes: 6,
            window_secs: 1800,
        },
        Fact::Unclear,
    ]);
    facts
}

fn sentences(words: &Words, lang: Language) -> Vec<String> {
    let reader = Reader::new(lang, chrono_tz::Europe::Moscow);
    let about = About {
        site: "⟨site⟩",
        target: "https://shop.example/",
        deadline: Some(Utc::now() + chrono::Duration::hours(30)),
        now: Utc::now(),
    };
    every_fact()
        .iter()
        .map(|f| f.sentence(words, reader, &about))
        .collect()
}

#[test]
fn evidence_is_told_in_the_customers_words() {
    let words = Words::builtin();
    let mut found = Vec::new();
    for lang in LANGUAGES {
        for s in sentences(&words, lang) {
            assert!(!s.trim().is_empty());
            found.extend(problems(lang, "evidence", &s));
            let first = s.chars().next().unwrap();
            assert!(
                first.is_uppercase() || first == '⟨' || first == 'h',
                "{s:?} starts a sentence"
            );
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
    let en = sentences(&words, Language::En).join("\n");
    assert!(
        en.contains(
            "Your site answered with error 503 (service unavailable) instead of your page."
        ),
        "{en}"
    );
    let ru = sentences(&words, Language::Ru).join("\n");
    assert!(
        ru.contains("Сайт ответил ошибкой 503 («сервис недоступен»)"),
        "{ru}"
    );
}

#[test]
fn a_certificate_expiry_names_a_date_and_days_that_agree() {
    let words = Words::builtin();
    // 23:30 UTC is the next day in Moscow: the days are counted in the reader's zone.
    let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 12, 10, 23, 30, 0).unwrap();
    let fact = Fact::CertificateExpires { at: Some(at) };
    let about = |now| About {
        site: "Shop",
        target: "shop.example:443",
        deadline: None,
        now,
    };
    let moscow = Reader::new(Language::Ru, chrono_tz::Europe::Moscow);
    let text = fact.sentence(&words, moscow, &about(now));
    assert!(
        text.contains("11 декабря") && text.contains("через 5 дней"),
        "{text}"
    );
    let utc = Reader::new(Language::En, chrono_tz::UTC);
    let text = fact.sentence(&words, utc, &about(now));
    assert!(
        text.contains("10 December") && text.contains("in 4 days"),
        "{text}"
    );
}

fn context(words: &Words, lang: Language, full: bool) -> MessageContext {
    let reader = Reader::new(lang, chrono_tz::Europe::Moscow);
    let at = Utc::now();
    let (customer, site) = if lang == Language::Ru {
        ("ООО «Ромашка»", "Магазин» и «Блог")
    } else {
        ("Acme", "Shop and Blog")
    };
    let text = |en: &str, ru: &str| {
        if lang == Language::Ru {
            ru.to_owned()
        } else {
            en.to_owned()
        }
    };
    let resolution = full.then(|| ResolutionContext {
        cause: text("A full disk.", "Диск заполнился."),
        action: text("We removed old logs.", "Мы удалили старые журналы."),
        fully_solved: false,
        prevention: text("Rotate logs.", "Настроить ротацию журналов."),
        options: vec![SolutionOption {
            title: text("Upgrade", "Перейти на другой тариф"),
            pros: text("More room", "Больше места"),
            cons: text("Costs more", "Дороже"),
        }],
    });
    MessageContext {
        customer: customer.into(),
        ticket: "#7".into(),
        ticket_url: "https://support.example/c/t/abc".into(),
        title: text("Shop: Site is down", "Магазин: Сайт недоступен"),
        site: site.into(),
        many: full,
        target: "https://shop.example/".into(),
        detected_at: words.datetime(reader, at),
        deadline: if full {
            words.date(reader, at)
        } else {
            String::new()
        },
        evidence: if full {
            sentences(words, lang)
        } else {
            Vec::new()
        },
        next_update: if full {
            words.datetime(reader, at)
        } else {
            String::new()
        },
        status: "in_progress".into(),
        status_text: words.word(lang, "common.status.in_progress"),
        duration: words.duration(lang, std::time::Duration::from_secs(10)),
        update: text("We found the cause.", "Мы нашли причину."),
        resolution,
        brand: "Example Hosting".into(),
        phone: if full {
            "+7 495 123-45-67".into()
        } else {
            String::new()
        },
    }
}

#[test]
fn every_playbook_message_reads_right_in_every_language() {
    let words = Words::builtin();
    let playbooks = Playbooks::builtin();
    let mut found = Vec::new();
    let mut count = BTreeMap::new();
    for p in playbooks.iter() {
        for kind in MessageKind::ALL {
            if !p.has_message(kind) {
                continue;
            }
            for lang in LANGUAGES {
                for full in [true, false] {
                    let ctx = context(&words, lang, full);
                    let m = p.render(kind, lang, &ctx).unwrap();
                    *count.entry(lang).or_insert(0) += 1;
                    let what = format!("{} {kind} {}", p.key, lang.as_str());
                    found.extend(problems(lang, &what, &m.subject));
                    found.extend(problems(lang, &what, &m.body));
                    assert!(
                        m.body.contains("Example Hosting"),
                        "{what}: signed by the hoster:\n{}",
                        m.body
                    );
                }
            }
        }
    }
    assert!(count[&Language::Ru] >= 100, "{count:?}");
    assert!(
        found.is_empty(),
        "{} problems:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn durations_never_claim_a_minute_for_seconds() {
    let words = Words::builtin();
    let d = |s| words.duration(Language::En, std::time::Duration::from_secs(s));
    assert_eq!(d(10), "about 10 seconds");
    assert_eq!(d(2 * 3600 + 5 * 60), "2 hours 5 minutes");
}

/// The shipped catalog copied into a temporary playbooks directory, to break.
fn catalog_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/words");
    for lang in ["en", "ru"] {
        std::fs::create_dir_all(dir.path().join(lang)).unwrap();
        for f in std::fs::read_dir(shipped.join(lang)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, dir.path().join(lang).join(f.file_name().unwrap())).unwrap();
        }
    }
    dir
}

#[test]
fn a_broken_catalog_is_reported_with_file_line_and_what_to_do() {
    let dir = catalog_copy();
    let mail = dir.path().join("ru/mail.toml");
    let text = std::fs::read_to_string(&mail).unwrap();
    // A misspelt variable, a key forewarn does not know, and a key gone from one language.
    let text = text
        .replacen(
            "Здравствуйте, {{ customer }}!",
            "Здравствуйте, {{ custmer }}!",
            1,
        )
        .replacen("solved_no = ", "solved_nope = ", 1);
    std::fs::write(&mail, &text).unwrap();
    let common = dir.path().join("en/common.toml");
    let c = std::fs::read_to_string(&common).unwrap();
    std::fs::write(&common, c.replacen("m7 = \"July\"\n", "", 1)).unwrap();

    let out = Words::load(dir.path()).unwrap_err().to_string();
    let line = text.lines().position(|l| l.contains("custmer")).unwrap() + 1;
    assert!(
        out.lines()
            .any(|l| l.contains(&format!("ru/mail.toml:{line}:"))
                && l.contains(
                    "mail.survey.body: unknown variable `custmer`; this entry knows customer,"
                )),
        "{out}"
    );
    assert!(
        out.contains("mail.survey.solved_nope: forewarn has no entry `mail.survey.solved_nope`: did you mean `mail.survey.solved_no`?"),
        "{out}"
    );
    assert!(
        out.contains("words/ru/mail.toml: mail.survey.solved_no: missing: the ru catalog has no `mail.survey.solved_no`"),
        "{out}"
    );
    assert!(
        out.contains("common.month.m7: missing: the en catalog has no `common.month.m7`"),
        "{out}"
    );
}

#[test]
fn forewarn_validate_checks_the_catalog_of_a_playbooks_directory() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks");
    let playbooks = dir.path().join("playbooks");
    std::fs::create_dir_all(&playbooks).unwrap();
    for f in std::fs::read_dir(&shipped).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, playbooks.join(f.file_name().unwrap())).unwrap();
        }
    }
    let words = catalog_copy();
    std::fs::rename(words.path(), playbooks.join("words")).unwrap();
    let evidence = playbooks.join("words/en/evidence.toml");
    let e = std::fs::read_to_string(&evidence).unwrap();
    std::fs::write(&evidence, e.replacen("{{ code }}", "{{ code ", 1)).unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(
        dir.path().join("forewarn.toml"),
        "playbooks_dir = \"playbooks\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .args(["validate", "--config"])
        .arg(dir.path().join("forewarn.toml"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("words/en/evidence.toml:")
            && text.contains("evidence.status: does not compile"),
        "{text}"
    );
}

/// Every `{ en = …, ru = … }` table of a playbook gets a `de` copy of its English text.
fn add_german(value: &mut toml::Value) {
    if let toml::Value::Table(t) = value {
        if let (Some(en), false) = (t.get("en").cloned(), t.contains_key("de"))
            && t.contains_key("ru")
        {
            t.insert("de".into(), en);
        }
        for (_, v) in t.iter_mut() {
            add_german(v);
        }
    } else if let toml::Value::Array(a) = value {
        a.iter_mut().for_each(add_german);
    }
}

#[test]
fn a_third_language_is_a_folder_of_words_and_its_messages() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks");
    let playbooks = dir.path().join("playbooks");
    std::fs::create_dir_all(&playbooks).unwrap();
    for f in std::fs::read_dir(&shipped).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|x| x == "toml") {
            let mut v: toml::Value = toml::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            add_german(&mut v);
            std::fs::write(
                playbooks.join(f.file_name().unwrap()),
                toml::to_string(&v).unwrap(),
            )
            .unwrap();
        }
    }
    let words = catalog_copy();
    std::fs::rename(words.path(), playbooks.join("words")).unwrap();
    // German: the English folder copied, one greeting translated.
    let de = playbooks.join("words/de");
    std::fs::create_dir_all(&de).unwrap();
    for f in std::fs::read_dir(playbooks.join("words/en")).unwrap() {
        let f = f.unwrap().path();
        let text = std::fs::read_to_string(&f)
            .unwrap()
            .replace("Hello {{ customer }},", "Guten Tag {{ customer }},");
        std::fs::write(de.join(f.file_name().unwrap()), text).unwrap();
    }
    let checks = dir.path().join("checks");
    std::fs::create_dir_all(&checks).unwrap();
    std::fs::write(
        checks.join("berlin.toml"),
        "[customer]\nid = \"berlin\"\nname = \"Berlin GmbH\"\nlanguage = \"de\"\ntimezone = \"Europe/Berlin\"\n",
    )
    .unwrap();
    std::fs::write(
        checks.join("paris.toml"),
        "[customer]\nid = \"paris\"\nname = \"Paris SARL\"\nlanguage = \"fr\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("forewarn.toml"),
        "playbooks_dir = \"playbooks\"\n",
    )
    .unwrap();
    // French has no folder: named with its file, line and what to do.
    let err = forewarn::config::load(&dir.path().join("forewarn.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("paris.toml:4:12: customer.language: unknown language \"fr\": use \"en\" or \"de\" or \"ru\""),
        "{err}"
    );
    std::fs::remove_file(checks.join("paris.toml")).unwrap();
    let config = forewarn::config::load(&dir.path().join("forewarn.toml")).unwrap();
    let de = Language::parse("de").unwrap();
    assert_eq!(config.customers[0].language, de);
    assert!(config.words.speaks(de));
    let survey = config
        .words
        .try_text(
            de,
            "mail.survey.body",
            samples(
                entries()
                    .find(|e| e.key == "mail.survey.body")
                    .unwrap()
                    .vars,
            )
            .remove(0),
        )
        .unwrap();
    assert!(survey.starts_with("Guten Tag"), "{survey}");
    let p = config.playbooks.get("site_down").unwrap();
    let m = p
        .render(
            MessageKind::Opened,
            de,
            &context(&config.words, Language::En, true),
        )
        .unwrap();
    assert!(m.body.contains("Example Hosting"), "{}", m.body);
}
