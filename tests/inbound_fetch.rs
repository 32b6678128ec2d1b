//! The IMAP fetch loop against a real Dovecot on loopback (`tests/support/imap.rs`).

#[path = "support/imap.rs"]
mod imap;

use imap::{Dovecot, message};

/// The harness itself: Dovecot starts, stores a message, and gives it back.
#[tokio::test]
async fn dovecot_starts_and_stores_a_message() {
    let server = Dovecot::start();
    let raw = message("smoke test", "hello");
    server.append("INBOX", &raw).await;
    let inbox = server.list("INBOX").await;
    assert_eq!(inbox, vec![raw], "{}", server.logs());
    assert!(server.list("Processed").await.is_empty());
}
