//! The staff API's resources end to end, through the real server on loopback with a real
//! failing and a real passing HTTP target: customers, checks with their state and recent
//! results, incidents, maintenance windows, a ticket opened, assigned, routed and resolved,
//! surveys, call-backs and the report's figures; and every list's cursor paging (a page says
//! where the next one is, the last says nothing).

#[path = "support/server.rs"]
mod server;

use std::time::{Duration, Instant};

use chrono::Utc;
use forewarn::store::{AnswerWrite, NewEvent, NewSurvey};
use forewarn::ticket::{Actor, EventKind, TicketId};
use serde_json::{Value, json};

const TOKEN: &str = "api-resources-staff-token-0123456789";
const PASSWORD: &str = "correct horse battery staple";

/// A loopback HTTP target that answers 200 to everything.
async fn ok_target() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    addr
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.json().await.unwrap_or(Value::Null))
    }

    /// Every page of a list, following `Link: rel="next"`; the pages' lengths and the items.
    async fn all_pages(&self, first: &str) -> (Vec<usize>, Vec<Value>) {
        let (mut sizes, mut items) = (Vec::new(), Vec::new());
        let mut path = first.to_owned();
        loop {
            let (status, headers, v) = self.get(&path).await;
            assert_eq!(status, 200, "{path}: {v}");
            let page = v.as_array().unwrap().clone();
            sizes.push(page.len());
            items.extend(page);
            let Some(link) = headers.get("link") else {
                assert!(headers.get("x-next-after").is_none());
                break;
            };
            let link = link.to_str().unwrap();
            assert!(link.ends_with("rel=\"next\""), "{link}");
            let next = headers["x-next-after"].to_str().unwrap();
            path = link[1..link.find('>').unwrap()].to_owned();
            assert!(path.contains(&format!("after={next}")), "{path}");
        }
        (sizes, items)
    }

    /// Polls `path` until `pred` holds for its body.
    async fn wait_for(&self, path: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let (status, _, v) = self.get(path).await;
            if status == 200 && pred(&v) {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_tools_reach_every_resource_through_the_api() {
    let ok = ok_target().await;
    let closed = closed_port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(dir.path().join("staff.token"), TOKEN).unwrap();
    let config = dir.path().join("forewarn.toml");
    std::fs::write(
        &config,
        "database = \"sqlite://data/forewarn.db\"\npublic_url = \"https://status.hosting.example/\"\n\
         [web]\nstaff_token = { file = \"staff.token\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks/acme.toml"),
        format!(
            "[customer]\nid = \"acme\"\nname = \"Acme\"\ntier = \"gold\"\nplan = \"business\"\n\
             servers = [\"web-01\"]\n\
             contacts = [{{ name = \"Jane\", email = \"ops@acme.example\", phone = \"+44 20 7946 0018\" }}]\n\
             \n[[check]]\nid = \"acme-shop\"\nname = \"Acme shop\"\nserver = \"web-01\"\ninterval = \"1s\"\ntimeout = \"1s\"\n\
             [check.http]\nurl = \"http://127.0.0.1:{closed}/\"\n\
             \n[[check]]\nid = \"acme-www\"\nname = \"Acme site\"\ninterval = \"1s\"\ntimeout = \"1s\"\n\
             [check.http]\nurl = \"http://{ok}/\"\n\
             \n[[maintenance]]\nservers = [\"web-01\"]\ncron = \"0 3 * * *\"\nduration = \"1h\"\nreason = \"kernel upgrade\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks/globex.toml"),
        "[customer]\nid = \"globex\"\nname = \"Globex\"\ncontacts = [\"it@globex.example\"]\n",
    )
    .unwrap();
    let server = server::start(&config).await;
    server::add_staff(&server, "ann", "Ann Agent", PASSWORD).await;
    let api = Api {
        base: format!("http://{}", server.addr),
        http: server::client(),
    };

    // Customers: a page at a time, by id; one with its checks and contacts.
    let (sizes, customers) = api.all_pages("/api/v1/customers?limit=1").await;
    assert_eq!(sizes, [1, 1]);
    assert_eq!(customers[0]["id"], "acme");
    assert_eq!(customers[1]["id"], "globex");
    assert_eq!(customers[0]["tier"], "gold");
    assert_eq!(customers[0]["plan"], "business");
    assert_eq!(customers[0]["checks"], json!(["acme-shop", "acme-www"]));
    assert_eq!(customers[0]["contacts"][0]["phone"], "+44 20 7946 0018");
    let (_, gold) = api.all_pages("/api/v1/customers?tier=gold").await;
    assert_eq!(gold.len(), 1);
    assert_eq!(api.get("/api/v1/customers/initech").await.0, 404);

    // Checks: state and recent results from real runs.
    let shop = api
        .wait_for(
            "/api/v1/checks/acme-shop?recent=2",
            "two failed runs",
            |v| v["state"]["status"] == "critical" && v["recent"].as_array().unwrap().len() == 2,
        )
        .await;
    assert_eq!(shop["kind"], "http");
    assert_eq!(shop["recent"][0]["outcome"]["status"], "critical");
    assert_eq!(shop["recent"][0]["outcome"]["failure"], "connect");
    api.wait_for("/api/v1/checks/acme-www", "a passing run", |v| {
        v["state"]["status"] == "ok"
    })
    .await;
    let (sizes, checks) = api.all_pages("/api/v1/checks?limit=1").await;
    assert_eq!(sizes, [1, 1]);
    assert_eq!(checks[1]["id"], "acme-www");
    let (_, none) = api.all_pages("/api/v1/checks?customer=globex").await;
    assert!(none.is_empty());

    // Incidents: the failing shop opens one, with its monitoring ticket.
    let incidents = api
        .wait_for("/api/v1/incidents", "an incident", |v| {
            v.as_array().unwrap().iter().any(|i| {
                i["checks"] == json!(["acme-shop"]) && !i["tickets"].as_array().unwrap().is_empty()
            })
        })
        .await;
    assert_eq!(incidents[0]["customers"], json!(["acme"]));
    // Maintenance: the nightly window of web-01 is within 14 days.
    let (status, _, windows) = api.get("/api/v1/maintenance").await;
    assert_eq!(status, 200);
    assert_eq!(windows[0]["customer"], "acme");
    assert_eq!(windows[0]["reason"], "kernel upgrade");
    assert_eq!(windows[0]["checks"], json!(["acme-shop"]));

    // A ticket opened for a request that came by phone: the customer's, noted as the caller's.
    let (status, headers, opened) = api
        .post(
            "/api/v1/tickets",
            json!({"customer": "globex", "title": "Mail does not go out", "text": "Since 9:00."}),
        )
        .await;
    assert_eq!(status, 201, "{opened}");
    let id = opened["ticket"]["id"].as_i64().unwrap();
    assert_eq!(
        headers["location"],
        format!("/api/v1/tickets/{id}").as_str()
    );
    assert_eq!(opened["ticket"]["origin"], "customer");
    assert_eq!(opened["ticket"]["problem"], "customer_request");
    let note = opened["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "internal_note")
        .unwrap();
    assert_eq!(note["actor"]["name"], "service:staff-token");
    let (status, _, refused) = api
        .post(
            "/api/v1/tickets",
            json!({"customer": "globex", "title": "x", "text": "y", "checks": ["acme-shop"]}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("is not a check of globex")
    );
    // Assigned, then refused another owner, then routed.
    let path = |action: &str| format!("/api/v1/tickets/{id}/{action}");
    assert_eq!(
        api.post(&path("assign"), json!({"assignee": "ann"}))
            .await
            .0,
        204
    );
    let (_, _, t) = api.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(t["ticket"]["assignee"], "ann");
    let (status, _, refused) = api
        .post(&path("assign"), json!({"assignee": "nobody"}))
        .await;
    assert_eq!(status, 422);
    assert!(refused["error"].as_str().unwrap().contains("no user"));
    let (status, _, routed) = api
        .post(
            &path("route"),
            json!({"severity": "P1", "reason": "every mail of the customer is stuck"}),
        )
        .await;
    assert_eq!(status, 200, "{routed}");
    assert_eq!(routed["severity"]["to"], "P1");
    // Tickets a page at a time: the monitoring one and the request.
    let (sizes, tickets) = api.all_pages("/api/v1/tickets?limit=1").await;
    assert_eq!(sizes, [1, 1]);
    assert_eq!(tickets[0]["id"], id, "newest first");

    // Resolved; its survey answered with a 1: on the survey list and the call-back queue.
    let (status, _, v) = api
        .post(
            &path("resolve"),
            json!({"cause": "A full queue", "action": "Flushed it", "fully_solved": true, "prevention": "An alert on its length"}),
        )
        .await;
    assert_eq!(status, 204, "{v}");
    let now = Utc::now();
    let survey = server
        .store
        .create_survey(
            &NewSurvey {
                ticket: TicketId(id),
                cycle: now,
                customer: forewarn::model::CustomerId::parse("globex").unwrap(),
                contacts: vec!["it@globex.example".into()],
                credited_to: Some("service:staff-token".into()),
                sent_at: now,
            },
            Box::new(|_| (vec![], vec![])),
        )
        .await
        .unwrap()
        .unwrap();
    let task = server
        .store
        .answer_survey(&AnswerWrite {
            survey,
            ticket: TicketId(id),
            nonce: "api-test-nonce".into(),
            at: now,
            rating: Some(1),
            solved: Some(false),
            comment: None,
            event: NewEvent {
                at: now,
                actor: Actor::Customer("Globex".into()),
                public: false,
                kind: EventKind::SurveyAnswered {
                    survey,
                    rating: Some(1),
                    solved: Some(false),
                    comment: None,
                    credited_to: Some("service:staff-token".into()),
                },
            },
            callback: Some("rated 1, not solved".into()),
        })
        .await
        .unwrap()
        .unwrap();
    let (_, answered) = api
        .all_pages("/api/v1/surveys?answered=true&since=1d")
        .await;
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["rating"], 1);
    assert_eq!(answered[0]["ticket"], id);
    let (_, open) = api.all_pages("/api/v1/callbacks?open=true").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["id"], task);
    assert_eq!(open[0]["reason"], "rated 1, not solved");
    let called = format!("/api/v1/callbacks/{task}");
    let (status, _, v) = api
        .post(&called, json!({"outcome": "Reached them; works now."}))
        .await;
    assert_eq!(status, 204, "{v}");
    let (status, _, v) = api.post(&called, json!({"outcome": "again"})).await;
    assert_eq!(status, 422, "{v}");
    let (_, open) = api.all_pages("/api/v1/callbacks?open=true").await;
    assert!(open.is_empty());
    let (_, all) = api.all_pages("/api/v1/callbacks").await;
    assert_eq!(all[0]["done_by"], "service:staff-token");
    assert_eq!(all[0]["outcome"], "Reached them; works now.");

    // The report's figures over the last day: both tickets, one resolved, a survey answered.
    let (status, _, report) = api.get("/api/v1/report?since=1d").await;
    assert_eq!(status, 200, "{report}");
    assert!(report["overall"].is_object(), "{report}");
    assert!(report["per_customer"]["globex"].is_object(), "{report}");
    assert!(report["heatmap"].as_array().unwrap().len() == 7);
    let (status, _, v) = api.get("/api/v1/report?since=soon").await;
    assert_eq!(status, 422, "{v}");
    server.shutdown().await;
}
