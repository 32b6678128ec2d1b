//! Taking fetched mail into tickets (next commit).
