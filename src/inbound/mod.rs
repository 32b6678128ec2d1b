//! Mail that customers send: fetched from support mailboxes, parsed ([`parse`]) and taken into
//! tickets ([`intake`]).

pub mod intake;
pub mod parse;

/// One message as fetched from a mailbox: where it was and its bytes.
pub struct Fetched {
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: u32,
    pub raw: Vec<u8>,
}

/// What became of a fetched message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    Threaded { ticket: i64 },
    Opened { ticket: i64 },
    Unmatched,
    Ignored { why: String },
    AlreadyTaken,
}

/// Takes a fetched message into tickets, exactly once per mailbox, UIDVALIDITY and UID.
#[async_trait::async_trait]
pub trait Intake: Send + Sync {
    async fn take(&self, f: &Fetched) -> anyhow::Result<Taken>;
}
