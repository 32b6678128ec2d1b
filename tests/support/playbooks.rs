//! Helpers for tests/playbooks.rs: a small valid playbook to break on purpose, a full message
//! context, and a copy of the shipped playbooks.

#![allow(dead_code)]

use std::path::Path;

use forewarn::playbook::{MessageContext, ResolutionContext};
use forewarn::ticket::model::SolutionOption;

/// The shipped playbooks, relative to the crate.
pub fn shipped_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks"))
}

/// A valid playbook with every message kind (warning only when `predictive`), each body using
/// exactly what it must. Tests replace parts of it to break it.
pub fn minimal_playbook(predictive: bool) -> String {
    let mut text = String::from(
        "title = { en = \"Test problem\", ru = \"Тестовая проблема\" }\n\
         severity = \"P2\"\n\
         skill_group = \"web\"\n",
    );
    if predictive {
        text.push_str("predictive = true\n");
    }
    text.push_str(
        "runbook = [\"Look at it.\"]\n\
         \n\
         [sla]\n\
         acknowledge = \"15m\"\n\
         update_every = \"1h\"\n",
    );
    let mut kinds = vec![
        "opened",
        "update",
        "automatic_update",
        "resolved",
        "reopened",
    ];
    if predictive {
        kinds.push("warning");
    }
    for kind in kinds {
        for lang in ["en", "ru"] {
            let extra = match kind {
                "update" => "{{ update }}",
                "resolved" => "{% if resolution %}{{ resolution.cause }}{% endif %}",
                _ => "",
            };
            text.push_str(&format!(
                "\n[message.{kind}.{lang}]\n\
                 subject = \"[{{{{ ticket }}}}] {kind} {lang}\"\n\
                 body = '''\n\
                 Hello {{{{ customer }}}},\n\
                 {extra}\n\
                 Next update by {{{{ next_update }}}}.\n\
                 {{{{ ticket_url }}}}\n\
                 '''\n"
            ));
        }
    }
    text
}

/// 1-based line of the first line containing `needle`.
#[track_caller]
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the text"))
        + 1
}

/// A context with everything a message may say.
pub fn sample_context() -> MessageContext {
    MessageContext {
        customer: "Acme".into(),
        ticket: "#42".into(),
        ticket_url: "https://support.example.net/tickets/42".into(),
        title: "Shop checkout fails".into(),
        site: "Acme shop front page".into(),
        many: false,
        target: "https://shop.acme.example/".into(),
        detected_at: "2026-11-23 05:12 UTC".into(),
        deadline: "2026-12-01".into(),
        evidence: vec![
            "HTTP 502 from https://shop.acme.example/".into(),
            "certificate expires 2026-12-01".into(),
        ],
        next_update: "2026-11-23 06:00 UTC".into(),
        status: "in_progress".into(),
        status_text: "in progress".into(),
        duration: "14 minutes".into(),
        update: "The database server restarted; we are checking the shop's tables.".into(),
        resolution: None,
        brand: "Example Hosting".into(),
        phone: "+7 495 123-45-67".into(),
    }
}

pub fn sample_resolution() -> ResolutionContext {
    ResolutionContext {
        cause: "A plugin update filled the disk with debug logs.".into(),
        action: "We removed the logs and turned debug logging off.".into(),
        fully_solved: false,
        prevention: "Update plugins on a staging copy first.".into(),
        options: vec![
            SolutionOption {
                title: "Log rotation".into(),
                pros: "Pro-rotation-free".into(),
                cons: "Con-rotation-keeps-less-history".into(),
            },
            SolutionOption {
                title: "Larger disk".into(),
                pros: "Pro-disk-room".into(),
                cons: "Con-disk-costs".into(),
            },
        ],
    }
}

/// Copies the shipped playbooks (and README) into `dir`.
pub fn copy_shipped(dir: &Path) {
    for entry in std::fs::read_dir(shipped_dir()).expect("playbooks/ is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            continue; // words/: the catalog, not a playbook
        }
        std::fs::copy(&path, dir.join(path.file_name().expect("a file name"))).expect("copy");
    }
}
