//! Playbooks: the shipped files load and every message renders well in both languages;
//! broken files are reported at the file, line and column of the problem.

#[path = "support/playbooks.rs"]
mod support_playbooks;

use std::path::Path;
use std::time::Duration;

use forewarn::config::Language;
use forewarn::playbook::{
    MessageKind, Playbook, Playbooks, REQUIRED_PLAYBOOKS, RenderError, Rendered,
};
use forewarn::ticket::model::Severity;
use support_playbooks::*;

fn shipped() -> Playbooks {
    Playbooks::load(shipped_dir()).unwrap_or_else(|d| panic!("shipped playbooks:\n{d}"))
}

#[track_caller]
fn render(p: &Playbook, kind: MessageKind, lang: Language) -> Rendered {
    render_with(p, kind, lang, &sample_context())
}

#[track_caller]
fn render_with(
    p: &Playbook,
    kind: MessageKind,
    lang: Language,
    ctx: &forewarn::playbook::MessageContext,
) -> Rendered {
    p.render(kind, lang, ctx)
        .unwrap_or_else(|e| panic!("{} {kind} {lang:?}: {e}", p.key))
}

/// Parses `text` as `dir/<name>` and returns every diagnostic as text.
#[track_caller]
fn problems(name: &str, text: &str) -> String {
    match Playbook::parse(Path::new(name), text) {
        Ok(_) => panic!("{name} should be rejected"),
        Err(d) => d.to_string(),
    }
}

fn kinds_of(p: &Playbook) -> Vec<MessageKind> {
    MessageKind::ALL
        .into_iter()
        .filter(|k| p.has_message(*k))
        .collect()
}

fn has_cyrillic(s: &str) -> bool {
    s.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

// ---- the shipped playbooks ----------------------------------------------------------------

#[test]
fn shipped_playbooks_load_without_problems() {
    let playbooks = shipped();
    let mut expected: Vec<&str> = REQUIRED_PLAYBOOKS.to_vec();
    expected.sort();
    assert_eq!(playbooks.keys().collect::<Vec<_>>(), expected);
}

#[test]
fn severity_routing_and_prediction_per_problem() {
    let playbooks = shipped();
    #[track_caller]
    fn check(p: &Playbooks, key: &str, severity: Severity, group: &str, predictive: bool) {
        let pb = p.get(key).expect(key);
        assert_eq!(
            (pb.severity, pb.skill_group.as_str(), pb.predictive),
            (severity, group, predictive),
            "{key}"
        );
        assert!(!pb.runbook.is_empty(), "{key} has runbook steps");
        assert!(
            !pb.title.get(Language::En).is_empty() && has_cyrillic(pb.title.get(Language::Ru)),
            "{key}"
        );
    }
    check(&playbooks, "site_down", Severity::P1, "web", false);
    check(&playbooks, "http_error", Severity::P2, "web", false);
    check(&playbooks, "slow_site", Severity::P3, "web", false);
    check(&playbooks, "dns_mismatch", Severity::P2, "dns", false);
    check(
        &playbooks,
        "certificate_invalid",
        Severity::P2,
        "tls",
        false,
    );
    check(
        &playbooks,
        "certificate_expiring",
        Severity::P3,
        "tls",
        true,
    );
    check(&playbooks, "disk_filling", Severity::P3, "systems", true);
    check(&playbooks, "quota_near", Severity::P4, "support", true);
    check(
        &playbooks,
        "agent_unreachable",
        Severity::P3,
        "systems",
        false,
    );
    check(
        &playbooks,
        "customer_request",
        Severity::P3,
        "support",
        false,
    );

    let site_down = playbooks.get("site_down").unwrap();
    assert_eq!(
        site_down.sla.update_every,
        Some(Duration::from_secs(30 * 60))
    );
    assert_eq!(site_down.sla.acknowledge, None);
    let slow = playbooks.get("slow_site").unwrap();
    assert_eq!(
        (slow.failures_to_open, slow.successes_to_close),
        (Some(5), Some(3))
    );
    assert_eq!(site_down.failures_to_open, None, "detector default");
}

#[test]
fn every_message_renders_in_both_languages_with_link_evidence_and_next_update() {
    let playbooks = shipped();
    for p in playbooks.iter() {
        let kinds = kinds_of(p);
        for required in [
            MessageKind::Opened,
            MessageKind::Update,
            MessageKind::AutomaticUpdate,
            MessageKind::Resolved,
            MessageKind::Reopened,
        ] {
            assert!(kinds.contains(&required), "{} lacks {required}", p.key);
        }
        assert_eq!(
            kinds.contains(&MessageKind::Warning),
            p.predictive,
            "{}",
            p.key
        );

        let ctx = sample_context();
        for kind in kinds {
            for lang in [Language::En, Language::Ru] {
                let what = format!("{} {kind} {lang:?}", p.key);
                let m = render(p, kind, lang);
                assert!(m.subject.starts_with("[#42] "), "{what}: {}", m.subject);
                assert!(
                    !m.subject.contains('\n') && m.subject.chars().count() <= 100,
                    "{what}: {}",
                    m.subject
                );
                assert!(m.body.contains(&ctx.ticket_url), "{what}: no ticket link");
                assert!(!m.body.contains("{{") && !m.body.contains("{%"), "{what}");
                assert!(!m.body.contains("\n\n\n"), "{what}: tidy body\n{}", m.body);
                assert_eq!(
                    has_cyrillic(&m.body),
                    lang == Language::Ru,
                    "{what}: language of the body"
                );
                let promises_next = !matches!(kind, MessageKind::Resolved | MessageKind::Warning);
                if promises_next {
                    assert!(m.body.contains(&ctx.next_update), "{what}: no next update");
                }
                let shows_evidence = p.key != "customer_request"
                    && matches!(
                        kind,
                        MessageKind::Opened
                            | MessageKind::Reopened
                            | MessageKind::Warning
                            | MessageKind::AutomaticUpdate
                    );
                if shows_evidence {
                    for e in &ctx.evidence {
                        assert!(m.body.contains(e.as_str()), "{what}: no evidence {e:?}");
                    }
                }
                if kind == MessageKind::Update {
                    assert!(m.body.contains(&ctx.update), "{what}: staff text");
                }
            }
        }
    }
}

#[test]
fn messages_render_with_an_empty_context_too() {
    let empty = forewarn::playbook::MessageContext::default();
    for p in shipped().iter() {
        for kind in kinds_of(p) {
            for lang in [Language::En, Language::Ru] {
                render_with(p, kind, lang, &empty);
            }
        }
    }
}

#[test]
fn opened_says_what_we_see_that_we_are_on_it_and_when_they_hear_next() {
    let p = shipped();
    let en = render(
        p.get("site_down").unwrap(),
        MessageKind::Opened,
        Language::En,
    );
    assert_eq!(
        en.subject,
        "[#42] Acme shop front page is down — we are on it"
    );
    for phrase in [
        "Hello Acme,",
        "stopped responding on 2026-11-23 05:12 UTC",
        "  - HTTP 502 from https://shop.acme.example/\n",
        "An engineer is already on it.",
        "You will hear from us by 2026-11-23 06:00 UTC at the latest",
        "You do not need to do anything.",
    ] {
        assert!(
            en.body.contains(phrase),
            "missing {phrase:?} in\n{}",
            en.body
        );
    }
}

#[test]
fn russian_customer_gets_russian_text() {
    let p = shipped();
    let ru = render(
        p.get("site_down").unwrap(),
        MessageKind::Opened,
        Language::Ru,
    );
    assert_eq!(
        ru.subject,
        "[#42] «Acme shop front page»: сайт не отвечает — мы уже работаем"
    );
    for phrase in [
        "Здравствуйте, Acme!",
        "Вот что мы видим:",
        "Следующее сообщение пришлём не позже 2026-11-23 06:00 UTC",
        "От вас ничего не требуется.",
        "Заявка #42: https://support.example.net/tickets/42",
    ] {
        assert!(
            ru.body.contains(phrase),
            "missing {phrase:?} in\n{}",
            ru.body
        );
    }
    assert!(!ru.body.contains("Hello"));
}

#[test]
fn resolution_explains_cause_action_completeness_prevention_and_options() {
    let p = shipped();
    let mut ctx = sample_context();
    ctx.resolution = Some(sample_resolution());
    let site_down = p.get("site_down").unwrap();

    let en = render_with(site_down, MessageKind::Resolved, Language::En, &ctx);
    for phrase in [
        "The problem lasted 14 minutes.",
        "What caused it: A plugin update filled the disk with debug logs.",
        "What we did: We removed the logs and turned debug logging off.",
        "Is it fully solved? Not completely yet",
        "How to avoid it in future: Update plugins on a staging copy first.",
        "1. Log rotation\n   Pros: Pro-rotation-free\n   Cons: Con-rotation-keeps-less-history",
        "2. Larger disk\n   Pros: Pro-disk-room\n   Cons: Con-disk-costs",
    ] {
        assert!(
            en.body.contains(phrase),
            "missing {phrase:?} in\n{}",
            en.body
        );
    }

    let ru = render_with(site_down, MessageKind::Resolved, Language::Ru, &ctx);
    for phrase in [
        "Проблема длилась 14 minutes.",
        "Причина: A plugin update",
        "Решена ли проблема полностью? Пока не до конца",
        "Плюсы: Pro-rotation-free",
        "Минусы: Con-rotation-keeps-less-history",
        "Плюсы: Pro-disk-room",
        "Минусы: Con-disk-costs",
    ] {
        assert!(
            ru.body.contains(phrase),
            "missing {phrase:?} in\n{}",
            ru.body
        );
    }

    ctx.resolution.as_mut().unwrap().fully_solved = true;
    ctx.resolution.as_mut().unwrap().options.clear();
    let solved = render_with(site_down, MessageKind::Resolved, Language::En, &ctx);
    assert!(solved.body.contains("Is it fully solved? Yes."));
    assert!(!solved.body.contains("Pros:"));
}

#[test]
fn monitoring_auto_resolution_says_it_recovered_and_was_verified() {
    let p = shipped();
    let ctx = sample_context();
    let en = render_with(
        p.get("site_down").unwrap(),
        MessageKind::Resolved,
        Language::En,
        &ctx,
    );
    assert_eq!(en.subject, "[#42] Acme shop front page is back up");
    assert!(
        en.body
            .contains("confirmed it over several checks in a row")
    );
    assert!(!en.body.contains("What caused it"));
    let ru = render_with(
        p.get("site_down").unwrap(),
        MessageKind::Resolved,
        Language::Ru,
        &ctx,
    );
    assert!(
        ru.body
            .contains("подтвердил это несколькими проверками подряд")
    );
}

#[test]
fn staff_update_carries_text_state_and_waiting_notice() {
    let p = shipped();
    let mut ctx = sample_context();
    ctx.status = "waiting_on_customer".into();
    // The status in the customer's words comes from the catalog (`common.status.*`).
    let words = forewarn::words::Words::builtin();
    ctx.status_text = words.word(Language::En, "common.status.waiting_on_customer");
    let en = render_with(
        p.get("http_error").unwrap(),
        MessageKind::Update,
        Language::En,
        &ctx,
    );
    assert!(
        en.subject.ends_with("update — waiting for your reply"),
        "{}",
        en.subject
    );
    assert!(en.body.contains("Status: waiting for your reply."));
    assert!(en.body.contains("We need your answer to go on"));
    ctx.status_text = words.word(Language::Ru, "common.status.waiting_on_customer");
    let ru = render_with(
        p.get("http_error").unwrap(),
        MessageKind::Update,
        Language::Ru,
        &ctx,
    );
    assert!(ru.body.contains("Статус заявки: ждём вашего ответа."));
}

#[test]
fn predictive_warning_names_the_deadline_and_offers_the_playbook_options() {
    let p = shipped();
    let quota = p.get("quota_near").unwrap();
    assert_eq!(quota.options.len(), 3);
    let en = render(quota, MessageKind::Warning, Language::En);
    assert!(en.body.contains("Nothing is broken"));
    assert!(en.body.contains("full around 2026-12-01"));
    for o in &quota.options {
        assert!(
            en.body.contains(o.title.get(Language::En)),
            "{}",
            o.title.get(Language::En)
        );
        assert!(
            en.body
                .contains(&format!("Pros: {}", o.pros.get(Language::En)))
        );
        assert!(
            en.body
                .contains(&format!("Cons: {}", o.cons.get(Language::En)))
        );
    }
    let ru = render(quota, MessageKind::Warning, Language::Ru);
    for o in &quota.options {
        assert!(
            ru.body
                .contains(&format!("Плюсы: {}", o.pros.get(Language::Ru)))
        );
        assert!(
            ru.body
                .contains(&format!("Минусы: {}", o.cons.get(Language::Ru)))
        );
    }

    let cert = p.get("certificate_expiring").unwrap();
    let w = render(cert, MessageKind::Warning, Language::En);
    assert_eq!(
        w.subject,
        "[#42] The certificate for https://shop.acme.example/ expires on 2026-12-01"
    );
    assert!(w.body.contains("Let's Encrypt"));
}

#[test]
fn customer_request_is_acknowledged_with_a_checkpoint() {
    let p = shipped();
    let ack = render(
        p.get("customer_request").unwrap(),
        MessageKind::Opened,
        Language::En,
    );
    assert_eq!(
        ack.subject,
        "[#42] We received your request: Shop checkout fails"
    );
    assert!(ack.body.contains("registered it as ticket #42"));
    assert!(
        ack.body
            .contains("You will hear from us by 2026-11-23 06:00 UTC at the latest")
    );
    let ru = render(
        p.get("customer_request").unwrap(),
        MessageKind::Opened,
        Language::Ru,
    );
    assert!(
        ru.body
            .contains("Мы получили ваше обращение «Shop checkout fails»")
    );
}

#[test]
fn a_missing_kind_is_an_error_not_a_panic() {
    let p = shipped();
    let err = p
        .get("site_down")
        .unwrap()
        .render(MessageKind::Warning, Language::En, &sample_context())
        .unwrap_err();
    assert!(matches!(err, RenderError::MissingMessage { .. }));
    assert_eq!(
        err.to_string(),
        "playbook `site_down` has no `warning` message"
    );
}

// ---- diagnostics --------------------------------------------------------------------------

#[test]
fn the_minimal_fixture_is_valid() {
    Playbook::parse(Path::new("x.toml"), &minimal_playbook(false)).unwrap();
    Playbook::parse(Path::new("x.toml"), &minimal_playbook(true)).unwrap();
}

#[test]
fn unknown_variable_is_located_at_its_line_and_named() {
    let text = minimal_playbook(false).replacen(
        "Hello {{ customer }},\n\nNext update by {{ next_update }}.",
        "Hello {{ custmer }},\n\nNext update by {{ next_update }}.",
        1,
    );
    let line = line_of(&text, "custmer");
    let out = problems("typo.toml", &text);
    assert!(
        out.contains(&format!(
            "typo.toml:{line}:10: message.opened.en.body: unknown variable `custmer`"
        )),
        "{out}"
    );
    assert!(
        out.contains("a message knows brand, customer, deadline"),
        "{out}"
    );
}

#[test]
fn unknown_field_of_resolution_is_located() {
    let text =
        minimal_playbook(false).replacen("{{ resolution.cause }}", "{{ resolution.caus }}", 1);
    let line = line_of(&text, "resolution.caus");
    let out = problems("res.toml", &text);
    assert!(
        out.contains(&format!("res.toml:{line}:"))
            && out.contains("unknown variable `resolution.caus`"),
        "{out}"
    );
}

#[test]
fn a_template_that_does_not_compile_is_located() {
    let text = minimal_playbook(false).replacen(
        "{{ ticket_url }}\n'''",
        "{% if ticket_url %}{{ ticket_url }}\n'''",
        1,
    );
    let out = problems("syntax.toml", &text);
    assert!(out.contains("syntax.toml:"), "{out}");
    assert!(
        out.contains("message.opened.en.body: does not compile"),
        "{out}"
    );
}

#[test]
fn missing_russian_text_names_the_kind() {
    let text = minimal_playbook(false);
    let start = text.find("\n[message.update.ru]").unwrap();
    let end = text[start + 1..].find("\n[").unwrap() + start + 1;
    let text = format!("{}{}", &text[..start], &text[end..]);
    let out = problems("noru.toml", &text);
    assert!(
        out.contains("message.update: the `update` message has no `ru` text"),
        "{out}"
    );
    assert!(out.starts_with("noru.toml:"), "{out}");
}

#[test]
fn missing_required_kinds_are_named() {
    let text =
        minimal_playbook(false).replace("[message.automatic_update.", "[message.auto_update.");
    let out = problems("kinds.toml", &text);
    assert!(out.contains("unknown message kind `auto_update`"), "{out}");
    assert!(
        out.contains("missing the `automatic_update` message"),
        "{out}"
    );

    let predictive_without_warning = minimal_playbook(false).replace(
        "skill_group = \"web\"\n",
        "skill_group = \"web\"\npredictive = true\n",
    );
    let out = problems("pred.toml", &predictive_without_warning);
    assert!(
        out.contains("message.warning: missing the `warning` message (a predictive"),
        "{out}"
    );
}

#[test]
fn bad_severity_and_bad_duration_are_located() {
    let text = minimal_playbook(false)
        .replace("severity = \"P2\"", "severity = \"P5\"")
        .replace("update_every = \"1h\"", "update_every = \"hourly\"");
    let out = problems("bad.toml", &text);
    let sev = line_of(&text, "P5");
    let dur = line_of(&text, "hourly");
    assert!(
        out.contains(&format!(
            "bad.toml:{sev}:12: severity: `P5` is not a severity: use P1, P2, P3 or P4"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "bad.toml:{dur}:16: sla.update_every: `hourly` is not a duration"
        )),
        "{out}"
    );
}

#[test]
fn unknown_key_is_located() {
    let text = minimal_playbook(false).replace(
        "skill_group = \"web\"",
        "skill_group = \"web\"\nseverty = \"P1\"",
    );
    let line = line_of(&text, "severty");
    let out = problems("key.toml", &text);
    assert!(out.contains(&format!("key.toml:{line}:1:")), "{out}");
    assert!(out.contains("unknown field `severty`"), "{out}");
}

#[test]
fn missing_fields_are_all_reported() {
    let text = minimal_playbook(false)
        .replace("severity = \"P2\"\n", "")
        .replace("skill_group = \"web\"\n", "");
    let out = problems("missing.toml", &text);
    assert!(out.contains("missing.toml:1:1: severity: missing"), "{out}");
    assert!(
        out.contains("missing.toml:1:1: skill_group: missing"),
        "{out}"
    );
}

#[test]
fn every_message_must_promise_the_next_update() {
    let text = minimal_playbook(false).replacen("Next update by {{ next_update }}.", "Bye.", 1);
    let out = problems("promise.toml", &text);
    assert!(
        out.contains("message.opened.en.body: never uses `next_update`"),
        "{out}"
    );
}

#[test]
fn file_stem_must_be_a_key() {
    let out = problems("Site-Down.toml", &minimal_playbook(false));
    assert!(out.contains("`Site-Down` is not a playbook key"), "{out}");
}

#[test]
fn directory_reports_every_broken_and_missing_playbook() {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped(dir.path());
    std::fs::remove_file(dir.path().join("slow_site.toml")).unwrap();
    let broken = std::fs::read_to_string(dir.path().join("http_error.toml"))
        .unwrap()
        .replacen("{{ site }}", "{{ sitename }}", 1);
    std::fs::write(dir.path().join("http_error.toml"), broken).unwrap();
    std::fs::write(dir.path().join("NOTES.txt"), "not a playbook").unwrap();

    let out = Playbooks::load(dir.path()).unwrap_err().to_string();
    assert!(
        out.contains("http_error.toml:") && out.contains("unknown variable `sitename`"),
        "{out}"
    );
    assert!(out.contains("missing playbook slow_site.toml"), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
}
