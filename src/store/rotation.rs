//! Round-robin assignment inside a skill group ([`RotationStore`]): whose turn it is. The store
//! keeps, per group, who had the last turn, so the rotation holds across restarts and across
//! the instances sharing a database (a group's turn is taken under its lock: an advisory
//! transaction lock on PostgreSQL, the single writer on SQLite).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;

/// One member of a rotation, in the configured order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationMember {
    pub name: String,
    /// An enabled staff user: a disabled or unknown one is passed over.
    pub available: bool,
}

#[async_trait]
pub trait RotationStore: Send + Sync {
    /// Gives the next turn in `group` to the first available member after the one who had the
    /// last turn (from the top when nobody had one or that one left the rotation), records it,
    /// and returns who it is; `None` (nothing recorded) when no member is available.
    async fn take_turn(
        &self,
        group: &str,
        members: &[RotationMember],
        at: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError>;
}

/// The member whose turn follows `last`'s.
pub fn next_turn(last: Option<&str>, members: &[RotationMember]) -> Option<String> {
    let start = last
        .and_then(|l| members.iter().position(|m| m.name == l))
        .map_or(0, |i| i + 1);
    (0..members.len())
        .map(|k| &members[(start + k) % members.len()])
        .find(|m| m.available)
        .map(|m| m.name.clone())
}

/// Implements [`RotationStore`] for a backend whose write pool is `$writer`, with the
/// statement that takes a group's lock inside a transaction (`None`: the single writer
/// already serialises).
macro_rules! rotation_store_impl {
    ($ty:ty, $writer:ident, $group_lock:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::rotation::RotationStore for $ty {
            async fn take_turn(
                &self,
                group: &str,
                members: &[$crate::store::rotation::RotationMember],
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<String>, $crate::store::StoreError> {
                let err = $crate::store::query_err("taking a turn in a skill group's rotation");
                let mut tx = self.$writer.begin().await.map_err(err)?;
                let lock: Option<&str> = $group_lock;
                if let Some(lock) = lock {
                    sqlx::query(lock)
                        .bind(format!("rotation:{group}"))
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::store::query_err("locking a skill group's rotation"))?;
                }
                let last: Option<String> =
                    sqlx::query_scalar("SELECT last_user FROM rotations WHERE skill_group = $1")
                        .bind(group)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($crate::store::query_err("reading a skill group's rotation"))?;
                let Some(next) = $crate::store::rotation::next_turn(last.as_deref(), members)
                else {
                    return Ok(None);
                };
                sqlx::query(
                    "INSERT INTO rotations (skill_group, last_user, turns, at_ms) \
                     VALUES ($1, $2, 1, $3) ON CONFLICT (skill_group) DO UPDATE SET \
                     last_user = excluded.last_user, turns = rotations.turns + 1, \
                     at_ms = excluded.at_ms",
                )
                .bind(group)
                .bind(&next)
                .bind(at.timestamp_millis())
                .execute(&mut *tx)
                .await
                .map_err($crate::store::query_err("recording a turn in a rotation"))?;
                tx.commit()
                    .await
                    .map_err($crate::store::query_err("recording a turn in a rotation"))?;
                Ok(Some(next))
            }
        }
    };
}
pub(super) use rotation_store_impl;

#[cfg(test)]
mod tests {
    use super::*;

    fn members(list: &[(&str, bool)]) -> Vec<RotationMember> {
        list.iter()
            .map(|(n, a)| RotationMember {
                name: (*n).into(),
                available: *a,
            })
            .collect()
    }

    #[test]
    fn turns_go_round_and_pass_over_the_unavailable() {
        let m = members(&[("anna", true), ("bob", false), ("carol", true)]);
        assert_eq!(next_turn(None, &m).as_deref(), Some("anna"));
        assert_eq!(next_turn(Some("anna"), &m).as_deref(), Some("carol"));
        assert_eq!(next_turn(Some("carol"), &m).as_deref(), Some("anna"));
        // bob had the last turn before he was disabled: carol is next.
        assert_eq!(next_turn(Some("bob"), &m).as_deref(), Some("carol"));
        // Someone who left the rotation: from the top.
        assert_eq!(next_turn(Some("dave"), &m).as_deref(), Some("anna"));
        assert_eq!(next_turn(None, &members(&[("bob", false)])), None);
        assert_eq!(next_turn(None, &[]), None);
    }
}
