//! The link store's specification, on every backend: a revocation never moves back, and a
//! customer's posts are taken within their limits even when many arrive at once (the count and
//! the insert are one step under the customer's lock).

#[allow(dead_code)]
#[path = "support/store.rs"]
#[macro_use]
mod support_store;

use std::sync::Arc;
use std::time::Duration;

use forewarn::model::CustomerId;
use forewarn::store::{LimitScope, PostKind, PostRequest, PostSlot, Store};

use support_store::at;

for_each_backend!(
    suite_a_revocation_moves_forward_only_and_is_per_customer,
    suite_concurrent_posts_through_one_link_are_taken_up_to_the_limit,
    suite_the_limits_count_per_kind_and_forget_what_left_the_window,
);

fn customer(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

async fn suite_a_revocation_moves_forward_only_and_is_per_customer(store: Arc<dyn Store>) {
    let acme = customer("acme");
    assert_eq!(store.links_valid_from(&acme).await.unwrap(), None);
    let r = store.revoke_links(&acme, at(10)).await.unwrap();
    assert_eq!((r.valid_from, r.revocations), (at(10), 1));
    // An earlier time (a clock behind) keeps the later one; it still counts as a revocation.
    let r = store.revoke_links(&acme, at(5)).await.unwrap();
    assert_eq!((r.valid_from, r.revocations), (at(10), 2));
    let r = store.revoke_links(&acme, at(20)).await.unwrap();
    assert_eq!((r.valid_from, r.revocations), (at(20), 3));
    assert_eq!(store.links_valid_from(&acme).await.unwrap(), Some(at(20)));
    assert_eq!(
        store.links_valid_from(&customer("globex")).await.unwrap(),
        None
    );
    let all = store.link_revocations().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].customer, acme);
}

fn request<'a>(
    customer: &'a CustomerId,
    link: &'a str,
    kind: PostKind,
    minute: i64,
) -> PostRequest<'a> {
    PostRequest {
        customer,
        link,
        kind,
        at: at(minute),
        ticket: None,
        window: Duration::from_secs(3600),
        per_link: 5,
        per_customer: 8,
    }
}

async fn suite_concurrent_posts_through_one_link_are_taken_up_to_the_limit(store: Arc<dyn Store>) {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let store = Arc::clone(&store);
        set.spawn(async move {
            let acme = customer("acme");
            store
                .take_post(&request(&acme, "link-a", PostKind::Report, 0))
                .await
                .unwrap()
        });
    }
    let slots = set.join_all().await;
    let taken = slots
        .iter()
        .filter(|s| matches!(s, PostSlot::Taken(_)))
        .count();
    assert_eq!(taken, 5, "{slots:?}");
    for s in &slots {
        if let PostSlot::Limited(l) = s {
            assert_eq!((l.scope, l.limit), (LimitScope::Link, 5));
            assert_eq!(l.retry_at, at(60));
        }
    }
}

async fn suite_the_limits_count_per_kind_and_forget_what_left_the_window(store: Arc<dyn Store>) {
    let acme = customer("acme");
    let take = |link: &'static str, kind: PostKind, minute: i64| {
        let store = Arc::clone(&store);
        let acme = acme.clone();
        async move {
            store
                .take_post(&request(&acme, link, kind, minute))
                .await
                .unwrap()
        }
    };
    // Five reports through link a, three through b: the customer's eight.
    let mut first = None;
    for minute in 0..5 {
        let PostSlot::Taken(id) = take("a", PostKind::Report, minute).await else {
            panic!("report {minute} through a refused");
        };
        first.get_or_insert(id);
    }
    for minute in 5..8 {
        assert!(matches!(
            take("b", PostKind::Report, minute).await,
            PostSlot::Taken(_)
        ));
    }
    let PostSlot::Limited(l) = take("c", PostKind::Report, 9).await else {
        panic!("the customer's ninth report was taken");
    };
    assert_eq!(
        (l.scope, l.limit, l.retry_at),
        (LimitScope::Customer, 8, at(60))
    );
    let PostSlot::Taken(failed) = take("c", PostKind::Reply, 9).await else {
        panic!("replies have limits of their own");
    };
    // A post that was not written after all is forgotten and frees its place.
    store.settle_post(first.unwrap(), None).await.unwrap();
    assert!(matches!(
        take("c", PostKind::Report, 10).await,
        PostSlot::Taken(_)
    ));
    store.settle_post(failed, None).await.unwrap();
    // Another customer is not counted with acme.
    let globex = customer("globex");
    assert!(matches!(
        store
            .take_post(&request(&globex, "a", PostKind::Report, 10))
            .await
            .unwrap(),
        PostSlot::Taken(_)
    ));
    // An hour after the second report it has left the window, and so has the first: link a
    // takes again (3 of its posts remain), and the customer too.
    assert!(matches!(
        take("a", PostKind::Report, 61).await,
        PostSlot::Taken(_)
    ));
    assert!(matches!(
        take("a", PostKind::Report, 62).await,
        PostSlot::Taken(_)
    ));
}
