//! Staff users: the store's specification on every backend (users, sessions kept only as
//! hashes, disabling ends sessions), the password rules, and `forewarn user …` end to end.

#[allow(dead_code)]
#[path = "support/store.rs"]
mod support_store;

use std::sync::Arc;

use chrono::Duration;
use forewarn::store::users::{
    CredentialError, check_user_name, hash_password, session_id_hash, verify_password,
};
use forewarn::store::{NewUser, Role, Store, StoreError};

use support_store::t0;

macro_rules! for_each_backend {
    ($($suite:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $suite() {
                    forewarn::probe::install_crypto_provider();
                    let (store, _dir) = super::support_store::sqlite_store().await;
                    super::$suite(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $suite() {
                    forewarn::probe::install_crypto_provider();
                    let (store, schema) = super::support_store::postgres_store().await;
                    super::$suite(store).await;
                    schema.drop().await;
                }
            )*
        }
    };
}

for_each_backend!(
    suite_created_user_reads_back_and_names_are_unique,
    suite_session_is_found_by_id_until_it_expires,
    suite_disabling_a_user_ends_their_sessions_and_enabling_allows_new_ones,
    suite_changing_the_password_ends_sessions,
    suite_unknown_users_are_not_found,
);

/// A user with a fake (not argon2) hash: the store does not look inside it.
fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        name: name.to_owned(),
        display_name: format!("{name} (display)"),
        role,
        password_hash: format!("$fake${name}"),
    }
}

async fn suite_created_user_reads_back_and_names_are_unique(store: Arc<dyn Store>) {
    let ann = store
        .create_user(new_user("ann", Role::Admin), t0())
        .await
        .unwrap();
    store
        .create_user(new_user("bob", Role::Staff), t0())
        .await
        .unwrap();
    let read = store.user("ann").await.unwrap().unwrap();
    assert_eq!(read, ann);
    assert_eq!(read.role, Role::Admin);
    assert!(!read.disabled);
    assert_eq!(read.created_at, t0());
    let err = store
        .create_user(new_user("ann", Role::Staff), t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    let names: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["ann", "bob"]);
}

async fn suite_session_is_found_by_id_until_it_expires(store: Arc<dyn Store>) {
    let ann = store
        .create_user(new_user("ann", Role::Staff), t0())
        .await
        .unwrap();
    let expires = t0() + Duration::hours(12);
    store
        .create_session("the-session-id", ann.id, t0(), expires, "csrf-secret")
        .await
        .unwrap();
    let s = store
        .session("the-session-id", t0() + Duration::hours(1))
        .await
        .unwrap()
        .expect("live session");
    assert_eq!(s.user.name, "ann");
    assert_eq!(s.csrf_secret, "csrf-secret");
    assert_eq!((s.created_at, s.expires_at), (t0(), expires));
    assert!(store.session("another-id", t0()).await.unwrap().is_none());
    // The hash of the id names it too? No: only the id opens a session.
    let hash = session_id_hash("the-session-id");
    assert!(store.session(&hash, t0()).await.unwrap().is_none());
    assert!(
        store
            .session("the-session-id", expires)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.prune_sessions(expires).await.unwrap(), 1);
    // Logging out deletes it.
    store
        .create_session("second", ann.id, t0(), expires, "s")
        .await
        .unwrap();
    store.delete_session("second").await.unwrap();
    assert!(store.session("second", t0()).await.unwrap().is_none());
    store.delete_session("second").await.unwrap();
}

async fn suite_disabling_a_user_ends_their_sessions_and_enabling_allows_new_ones(
    store: Arc<dyn Store>,
) {
    let ann = store
        .create_user(new_user("ann", Role::Staff), t0())
        .await
        .unwrap();
    let bob = store
        .create_user(new_user("bob", Role::Staff), t0())
        .await
        .unwrap();
    let later = t0() + Duration::hours(12);
    store
        .create_session("ann-1", ann.id, t0(), later, "x")
        .await
        .unwrap();
    store
        .create_session("bob-1", bob.id, t0(), later, "x")
        .await
        .unwrap();
    store.disable_user("ann").await.unwrap();
    assert!(store.user("ann").await.unwrap().unwrap().disabled);
    assert!(store.session("ann-1", t0()).await.unwrap().is_none());
    assert!(store.session("bob-1", t0()).await.unwrap().is_some());
    // A session created for a disabled user (a race with `user disable`) is not live either.
    store
        .create_session("ann-2", ann.id, t0(), later, "x")
        .await
        .unwrap();
    assert!(store.session("ann-2", t0()).await.unwrap().is_none());
    store.enable_user("ann").await.unwrap();
    assert!(!store.user("ann").await.unwrap().unwrap().disabled);
    assert!(store.session("ann-2", t0()).await.unwrap().is_some());
}

async fn suite_changing_the_password_ends_sessions(store: Arc<dyn Store>) {
    let ann = store
        .create_user(new_user("ann", Role::Staff), t0())
        .await
        .unwrap();
    store
        .create_session("ann-1", ann.id, t0(), t0() + Duration::hours(1), "x")
        .await
        .unwrap();
    store.set_password_hash("ann", "$new$hash").await.unwrap();
    assert_eq!(
        store.user("ann").await.unwrap().unwrap().password_hash,
        "$new$hash"
    );
    assert!(store.session("ann-1", t0()).await.unwrap().is_none());
}

async fn suite_unknown_users_are_not_found(store: Arc<dyn Store>) {
    assert!(store.user("nobody").await.unwrap().is_none());
    for err in [
        store.disable_user("nobody").await.unwrap_err(),
        store.enable_user("nobody").await.unwrap_err(),
        store.set_password_hash("nobody", "h").await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    }
}

#[test]
fn passwords_are_argon2_with_a_random_salt_and_at_least_12_characters() {
    assert_eq!(hash_password("short"), Err(CredentialError::TooShort));
    assert_eq!(hash_password("elevenchars"), Err(CredentialError::TooShort));
    let a = hash_password("correct horse battery").unwrap();
    let b = hash_password("correct horse battery").unwrap();
    assert!(a.starts_with("$argon2id$"), "{a}");
    assert_ne!(a, b, "a fresh salt each time");
    assert!(verify_password("correct horse battery", &a));
    assert!(verify_password("correct horse battery", &b));
    assert!(!verify_password("correct horse battery!", &a));
    assert!(!verify_password("correct horse battery", "not a hash"));
}

#[test]
fn user_names_are_short_lowercase_words() {
    for ok in ["ann", "ann.smith", "a-b_c", "7of9"] {
        assert_eq!(check_user_name(ok), Ok(()), "{ok}");
    }
    for bad in ["", "Ann", "-ann", "ann smith", "änn", &"a".repeat(65)] {
        assert!(check_user_name(bad).is_err(), "{bad:?}");
    }
}
