//! Round-robin assignment inside a skill group (`[[rotation]]`), as the team meets it: tickets
//! opening in the first line go to its staff in turn, passing over a disabled colleague; a
//! ticket staff move to the next line (through the API) goes to that line's next member; each
//! assignment is on the timeline as forewarn's, and the ticket page shows the customer's
//! contacts with their phone numbers. The turn itself is kept in the store: on every backend
//! it goes round, passes over whoever is unavailable, and holds across a reopened store.

#[allow(dead_code)]
#[path = "support/store.rs"]
#[macro_use]
mod support_store;
#[path = "support/server.rs"]
mod server;

use std::sync::Arc;

use chrono::Utc;
use forewarn::model::CustomerId;
use forewarn::store::{RotationMember, Store};
use forewarn::ticket::{Actor, EventKind};

use support_store::at;

for_each_backend!(suite_turns_go_round_per_group_and_pass_over_the_unavailable);

fn members(list: &[(&str, bool)]) -> Vec<RotationMember> {
    list.iter()
        .map(|(name, available)| RotationMember {
            name: (*name).into(),
            available: *available,
        })
        .collect()
}

async fn suite_turns_go_round_per_group_and_pass_over_the_unavailable(store: Arc<dyn Store>) {
    let support = members(&[("anna", true), ("bob", true), ("carol", true)]);
    let mut turns = Vec::new();
    for i in 0..4 {
        turns.push(store.take_turn("support", &support, at(i)).await.unwrap());
    }
    assert_eq!(
        turns,
        [Some("anna"), Some("bob"), Some("carol"), Some("anna")].map(|t| t.map(String::from))
    );
    // Each group has its own turn.
    let systems = members(&[("dora", true), ("emil", true)]);
    assert_eq!(
        store.take_turn("systems", &systems, at(5)).await.unwrap(),
        Some("dora".into())
    );
    // bob is disabled now: after anna comes carol.
    let without_bob = members(&[("anna", true), ("bob", false), ("carol", true)]);
    assert_eq!(
        store
            .take_turn("support", &without_bob, at(6))
            .await
            .unwrap(),
        Some("carol".into())
    );
    // Nobody available: no turn is taken and the last one stands.
    let nobody = members(&[("anna", false), ("bob", false), ("carol", false)]);
    assert_eq!(
        store.take_turn("support", &nobody, at(7)).await.unwrap(),
        None
    );
    assert_eq!(
        store.take_turn("support", &support, at(8)).await.unwrap(),
        Some("anna".into()),
        "carol had the last turn"
    );
    // Many openings at once (several instances): every turn is taken once, in order.
    let mut runs = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        let support = support.clone();
        runs.push(tokio::spawn(async move {
            store
                .take_turn("support", &support, at(10 + i))
                .await
                .unwrap()
        }));
    }
    let mut got: Vec<String> = Vec::new();
    for r in runs {
        got.push(r.await.unwrap().unwrap());
    }
    got.sort();
    assert_eq!(got, ["anna", "anna", "bob", "bob", "carol", "carol"]);
}

const TOKEN: &str = "rotation-test-staff-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_go_round_the_groups_staff_and_a_move_gives_the_next_line_its_turn() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(dir.path().join("staff.token"), TOKEN).unwrap();
    let config = dir.path().join("forewarn.toml");
    std::fs::write(
        &config,
        "database = \"sqlite://data/forewarn.db\"\npublic_url = \"https://status.hosting.example/\"\n\
         [web]\nstaff_token = { file = \"staff.token\" }\n\
         [[rotation]]\nskill_group = \"support\"\nstaff = [\"anna\", \"bob\", \"carol\"]\n\
         [[rotation]]\nskill_group = \"systems\"\nstaff = [\"dora\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks/acme.toml"),
        "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ntier = \"gold\"\nplan = \"business\"\n\
         contacts = [\n  { name = \"Jane Doe\", email = \"ops@acme.example\", phone = \"+44 20 7946 0018\" },\n  \
         { name = \"Night desk\", phone = \"+44 20 7946 0999\" },\n]\n",
    )
    .unwrap();
    let server = server::start(&config).await;
    for (name, display) in [
        ("anna", "Anna"),
        ("bob", "Bob"),
        ("carol", "Carol"),
        ("dora", "Dora"),
    ] {
        server::add_staff(&server, name, display, "correct horse battery staple").await;
    }
    server.store.disable_user("bob").await.unwrap();
    let acme = CustomerId::parse("acme").unwrap();
    let mut ids = Vec::new();
    for title in [
        "Mail bounces",
        "Cannot log in to the panel",
        "Invoice question",
    ] {
        ids.push(
            server
                .tickets
                .customer_request(&acme, title, "Please help.", vec![], Utc::now())
                .await
                .unwrap(),
        );
    }
    let mut assignees = Vec::new();
    for id in &ids {
        let (t, timeline) = server.tickets.get(*id).await.unwrap();
        assert!(
            timeline.iter().any(|e| e.actor == Actor::System
                && matches!(&e.kind, EventKind::Assigned { from: None, to: Some(to) } if Some(to) == t.assignee.as_ref())),
            "the assignment is forewarn's, on the timeline: {timeline:?}"
        );
        assignees.push(t.assignee.unwrap());
    }
    assert_eq!(assignees, ["anna", "carol", "anna"], "bob is disabled");

    // Staff move the first ticket to the second line: dora's turn, said in the answer.
    let base = format!("http://{}", server.addr);
    let r = server::client()
        .post(format!("{base}/api/v1/tickets/{}/route", ids[0].0))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"skill_group": "systems", "reason": "needs root on the mail server"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: serde_json::Value = r.json().await.unwrap();
    assert_eq!(answer["assigned_by_rotation"], "dora", "{answer}");
    let (t, timeline) = server.tickets.get(ids[0]).await.unwrap();
    assert_eq!(
        (t.skill_group.as_str(), t.assignee.as_deref()),
        ("systems", Some("dora"))
    );
    assert!(timeline.iter().any(|e| matches!(
        &e.kind,
        EventKind::Assigned { from: Some(f), to: Some(to) } if f == "anna" && to == "dora"
    )));

    // The ticket page: who has it, and whom to call at the customer.
    let cookie = server::session_cookie(&base, "carol", "correct horse battery staple").await;
    let page = server::client()
        .get(format!("{base}/tickets/{}", ids[1].0))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("carol"), "{page}");
    assert!(page.contains("plan business"), "{page}");
    assert!(
        page.contains(r#"<a href="mailto:ops@acme.example">ops@acme.example</a>"#)
            && page.contains(r#"<a class="phone" href="tel:+442079460018">+44 20 7946 0018</a>"#)
            && page.contains("Night desk"),
        "{page}"
    );
    server.shutdown().await;
}
