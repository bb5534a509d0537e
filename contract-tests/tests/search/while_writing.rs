//! The promise of a walk, in an order other than the default and under a search: every matching
//! entry that existed for the whole walk is seen exactly once while others add and delete.

use std::cmp::Ordering as CmpOrdering;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use addressbook_client::Client;
use addressbook_client::types::Entry;
use contract_tests::Store;
use contract_tests::fixtures::{assert_walk_saw_each_once, minimal_entry, typed};
use futures::{StreamExt, TryStreamExt, stream};
use tokio::sync::watch;
use uuid::Uuid;

use crate::expected::{name_key, sorted};
use crate::listing::walk_cursors;

contract_tests::engines!(
    a_walk_in_reverse_name_order_sees_every_entry_that_existed_throughout_exactly_once
);

/// Originals the walk must see, and the writer's own additions, are all found by this search.
const MEMBER_QUERY: &str = "member";

async fn a_walk_in_reverse_name_order_sees_every_entry_that_existed_throughout_exactly_once(
    store: Store,
) {
    // Arrange: 150 members whose names spread over the alphabet, and 30 others.
    let server = store.start().await;
    let client = server.client();
    let originals = create_named(&client, (0..150).map(|n| member_name(n, "Original"))).await;
    let outsiders = create_named(
        &client,
        (0..30).map(|n| format!("{} Outsider {n}", letter(n))),
    )
    .await;
    let original_ids: HashSet<Uuid> = originals.iter().map(|e| e.id).collect();
    // Originals the writer deletes mid-walk, spread over the whole order.
    let in_order = sorted(&originals, "-full_name");
    let doomed: Vec<Uuid> = in_order.iter().copied().step_by(11).collect();

    // Act: walk with limit 6 while a writer adds members and outsiders all over the order and
    // deletes doomed originals, one operation between every two pages.
    let (progress_tx, progress_rx) = watch::channel(0_u64);
    let walking = Arc::new(AtomicBool::new(true));
    let writer = tokio::spawn(write_while_walking(
        client.clone(),
        doomed,
        walking.clone(),
        progress_tx,
    ));
    let walk = walk_cursors(
        &client,
        Some(MEMBER_QUERY),
        "-full_name",
        6,
        Some(progress_rx),
    )
    .await;
    walking.store(false, Ordering::SeqCst);
    let written = tokio::time::timeout(Duration::from_secs(60), writer)
        .await
        .expect("the writer stops once the walk is over")
        .expect("the writer does not panic");

    // Assert
    assert!(
        written.added.len() >= 10 && !written.deleted.is_empty(),
        "the writer must really have written during the walk: {written:?}"
    );
    let seen: Vec<Uuid> = walk.iter().map(|e| e.id).collect();
    let deleted: HashSet<Uuid> = written.deleted.iter().copied().collect();
    let added_members: HashSet<Uuid> = written.added.iter().copied().collect();
    assert_walk_saw_each_once(&seen, &original_ids, &deleted, &added_members);
    assert!(
        outsiders.iter().all(|o| !seen.contains(&o.id)),
        "an outsider was seen"
    );
    for pair in walk.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(
            (name_key(a), a.id).cmp(&(name_key(b), b.id)),
            CmpOrdering::Greater,
            "not in descending (name, id) order: {:?} then {:?}",
            (a.full_name.as_str(), a.id),
            (b.full_name.as_str(), b.id)
        );
    }
}

fn letter(n: usize) -> char {
    char::from(b'A' + u8::try_from(n % 26).expect("under 26"))
}

/// `"Q Member Original 042"`: the first letter spreads the names over the whole order.
fn member_name(n: usize, kind: &str) -> String {
    format!("{} Member {kind} {n:03}", letter(n * 7))
}

async fn create_named(client: &Client, names: impl Iterator<Item = String>) -> Vec<Entry> {
    stream::iter(names)
        .map(|name| async move {
            client
                .create_address()
                .body(typed(&minimal_entry(&name)))
                .send()
                .await
                .map(|created| created.into_inner())
        })
        .buffer_unordered(8)
        .try_collect()
        .await
        .unwrap_or_else(|err| panic!("creating entries failed: {err:?}"))
}

#[derive(Debug, Default)]
struct Written {
    /// Members the writer added (found by the walk's search).
    added: Vec<Uuid>,
    /// Originals the writer deleted.
    deleted: Vec<Uuid>,
}

/// Until the walk is over (or 600 operations): add a member, every second round an outsider,
/// every third round delete the next doomed original. Publishes the number of operations after
/// each one.
async fn write_while_walking(
    client: Client,
    mut doomed: Vec<Uuid>,
    walking: Arc<AtomicBool>,
    progress: watch::Sender<u64>,
) -> Written {
    let mut written = Written::default();
    let mut operations = 0_u64;
    let mut round = 0_usize;
    while walking.load(Ordering::SeqCst) && operations < 600 {
        round += 1;
        let created = client
            .create_address()
            .body(typed(&minimal_entry(&member_name(round * 3, "Concurrent"))))
            .send()
            .await
            .expect("a concurrent create");
        written.added.push(created.id);
        operations += 1;
        progress.send_replace(operations);

        if round.is_multiple_of(2) {
            client
                .create_address()
                .body(typed(&minimal_entry(&format!(
                    "{} Outsider New {round}",
                    letter(round)
                ))))
                .send()
                .await
                .expect("a concurrent create");
            operations += 1;
            progress.send_replace(operations);
        }
        if round.is_multiple_of(3)
            && let Some(id) = doomed.pop()
        {
            client
                .delete_address()
                .id(id)
                .send()
                .await
                .expect("deleting a doomed original");
            written.deleted.push(id);
            operations += 1;
            progress.send_replace(operations);
        }
    }
    written
}
