//! The timelines of tickets, kept in memory between reads of many of them at once
//! ([`super::TicketStore::timelines`]: the KPIs and customer health read every timeline of a
//! window; reading 30,000 events took 300–500 ms on each request).
//!
//! Timeline events are only ever appended (never updated or deleted), each with a `seq` from
//! the table's sequence. So a timeline once read stays true, and what a later read must add is
//! the events appended since: the events with a `seq` above what was seen. On PostgreSQL a
//! transaction that took a lower `seq` can commit after one that took a higher one, so the read
//! of new events starts [`GRACE`] back (events already held are recognised by their `seq`).
//! Other instances on the same database append through the same table, so they are seen too.
//!
//! Memory is bounded: the tickets asked for, at most [`MAX_EVENTS`] events; past that the
//! cache starts again empty.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::ticket::{TicketId, TimelineEvent};

/// How far back in time each read of new events starts: longer than a transaction that
/// appends an event can take to commit.
pub const GRACE: Duration = Duration::from_secs(300);

/// Before a first read is [`GRACE`] old, new events are read from this many `seq` back.
const FIRST_LOOKBACK: i64 = 1_000;

/// Events held at most.
pub const MAX_EVENTS: usize = 1_000_000;

/// One event and its place in the table's sequence.
pub type Sequenced = (i64, TimelineEvent);

pub struct TimelineCache {
    state: tokio::sync::Mutex<State>,
}

impl Default for TimelineCache {
    fn default() -> Self {
        TimelineCache::bounded(MAX_EVENTS)
    }
}

#[derive(Default)]
struct State {
    /// Events held at most.
    bound: usize,
    /// The highest `seq` applied; `None` before the first read.
    seen: Option<i64>,
    /// `(when, seen then)`, oldest first: where the next read of new events starts.
    marks: VecDeque<(Instant, i64)>,
    tickets: HashMap<TicketId, Vec<Sequenced>>,
    events: usize,
}

/// The cache, locked for one read: the caller asks the store what these methods say to.
pub struct Guard<'a>(tokio::sync::MutexGuard<'a, State>);

impl TimelineCache {
    pub fn bounded(bound: usize) -> TimelineCache {
        TimelineCache {
            state: tokio::sync::Mutex::new(State {
                bound,
                ..State::default()
            }),
        }
    }

    pub async fn lock(&self) -> Guard<'_> {
        Guard(self.state.lock().await)
    }
}

impl Guard<'_> {
    /// Where to read new events from (`seq` above it); `None`: nothing read yet, so no new
    /// events to read (the caller starts it with [`Guard::start`]).
    pub fn read_from(&mut self, now: Instant) -> Option<i64> {
        let seen = self.0.seen?;
        let s = &mut self.0;
        // Keep the newest mark older than GRACE and every younger one.
        while s.marks.len() > 1 && now.duration_since(s.marks[1].0) >= GRACE {
            s.marks.pop_front();
        }
        let from = match s.marks.front() {
            Some((at, seq)) if now.duration_since(*at) >= GRACE => *seq,
            _ => s.marks.front().map_or(seen, |(_, first)| *first) - FIRST_LOOKBACK,
        };
        s.marks.push_back((now, seen));
        Some(from.max(0))
    }

    /// The first read: the table's highest `seq` now.
    pub fn start(&mut self, max_seq: i64, now: Instant) {
        self.0.seen = Some(max_seq);
        self.0.marks.push_back((now, max_seq));
    }

    /// New events (any order): added to the timelines held, once each; others are left to
    /// the read of their whole timeline.
    pub fn apply(&mut self, events: Vec<Sequenced>) {
        let s = &mut self.0;
        for (seq, event) in events {
            s.seen = Some(s.seen.map_or(seq, |seen| seen.max(seq)));
            if let Some(timeline) = s.tickets.get_mut(&event.ticket)
                && !timeline.iter().any(|(held, _)| *held == seq)
            {
                // In the store's order: by time, then seq.
                let at = timeline.partition_point(|(s2, e)| (e.at, *s2) < (event.at, seq));
                timeline.insert(at, (seq, event));
                s.events += 1;
            }
        }
    }

    /// Which of `ids` have no timeline held.
    pub fn missing(&self, ids: &[TicketId]) -> Vec<TicketId> {
        ids.iter()
            .filter(|id| !self.0.tickets.contains_key(id))
            .copied()
            .collect()
    }

    /// Whole timelines read from the store (each in the store's order); a ticket without
    /// events is held as empty.
    pub fn insert(&mut self, ids: &[TicketId], mut read: HashMap<TicketId, Vec<Sequenced>>) {
        let s = &mut self.0;
        let adding: usize = read.values().map(Vec::len).sum();
        if s.events + adding > s.bound {
            s.tickets.clear();
            s.events = 0;
        }
        for id in ids {
            let timeline = read.remove(id).unwrap_or_default();
            s.events += timeline.len();
            if let Some(old) = s.tickets.insert(*id, timeline) {
                s.events -= old.len();
            }
        }
    }

    /// The timelines of `ids` held (tickets without events are absent, as the store answers).
    pub fn get(&self, ids: &[TicketId]) -> HashMap<TicketId, Vec<TimelineEvent>> {
        ids.iter()
            .filter_map(|id| {
                let timeline = self.0.tickets.get(id)?;
                (!timeline.is_empty())
                    .then(|| (*id, timeline.iter().map(|(_, e)| e.clone()).collect()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::ticket::{Actor, EventKind};

    fn event(ticket: i64, minute: i64) -> TimelineEvent {
        TimelineEvent {
            ticket: TicketId(ticket),
            at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
                + chrono::Duration::minutes(minute),
            actor: Actor::System,
            public: false,
            kind: EventKind::InternalNote {
                text: format!("{ticket}@{minute}"),
            },
        }
    }

    fn texts(cache: &Guard<'_>, id: i64) -> Vec<String> {
        cache
            .get(&[TicketId(id)])
            .remove(&TicketId(id))
            .unwrap_or_default()
            .into_iter()
            .map(|e| match e.kind {
                EventKind::InternalNote { text } => text,
                _ => unreachable!(),
            })
            .collect()
    }

    #[tokio::test]
    async fn new_events_join_held_timelines_once_in_time_order() {
        let cache = TimelineCache::default();
        let mut c = cache.lock().await;
        let t0 = Instant::now();
        assert_eq!(c.read_from(t0), None, "nothing read yet");
        c.start(10, t0);
        let one = TicketId(1);
        assert_eq!(c.missing(&[one, TicketId(2)]), [one, TicketId(2)]);
        c.insert(
            &[one, TicketId(2)],
            HashMap::from([(one, vec![(3, event(1, 0)), (9, event(1, 5))])]),
        );
        assert!(c.missing(&[one, TicketId(2)]).is_empty(), "2 is held empty");
        // Read again at once: from FIRST_LOOKBACK before the first mark.
        assert_eq!(c.read_from(t0), Some(0));
        // An event already held, one out of time order, one of a ticket not held.
        c.apply(vec![
            (9, event(1, 5)),
            (12, event(1, 2)),
            (11, event(3, 0)),
            (13, event(2, 1)),
        ]);
        assert_eq!(texts(&c, 1), ["1@0", "1@2", "1@5"]);
        assert_eq!(texts(&c, 2), ["2@1"]);
        assert!(
            c.get(&[TicketId(3)]).is_empty(),
            "3 is read whole when asked"
        );
        // After GRACE, reads start where the cache stood GRACE ago.
        let later = t0 + GRACE + Duration::from_secs(1);
        assert_eq!(c.read_from(later), Some(10));
        assert_eq!(c.read_from(later + GRACE), Some(13));
    }

    #[tokio::test]
    async fn past_its_bound_the_cache_starts_again() {
        let cache = TimelineCache::bounded(100);
        let mut c = cache.lock().await;
        c.start(0, Instant::now());
        let many: Vec<Sequenced> = (0..100).map(|i| (i, event(1, i))).collect();
        c.insert(&[TicketId(1)], HashMap::from([(TicketId(1), many)]));
        c.insert(
            &[TicketId(2)],
            HashMap::from([(TicketId(2), vec![(1, event(2, 0))])]),
        );
        assert_eq!(c.missing(&[TicketId(1), TicketId(2)]), [TicketId(1)]);
    }
}
