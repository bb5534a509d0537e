//! The change feed, `GET /changes`: a full sync without a token lists the book and ends with a
//! token; from a token, every entry written since appears once, as it is now, and every deletion
//! as a tombstone, in commit order, with nothing twice; tokens are signed; a token from before
//! history the server dropped gets 410 and a fresh sync works. The feed under two servers
//! writing at once is in `scale_out.rs`.

use std::time::{Duration, Instant};

use addressbook_client::{Client, EntryPatch, types};
use contract_tests::feed::{sync, sync_expecting};
use contract_tests::fixtures::{full_entry, to_json, typed};
use contract_tests::http::expect_typed_problem;
use contract_tests::{Store, send};
use serde_json::json;
use uuid::Uuid;

contract_tests::engines!(
    a_full_sync_lists_the_book_page_by_page_and_ends_with_a_token,
    every_write_after_a_token_is_one_change_in_commit_order,
    a_token_that_was_edited_or_is_a_cursor_is_refused,
    a_token_from_before_dropped_history_is_gone_and_a_fresh_sync_works,
);

/// Each change as (what, whose name) for comparing with what was written.
fn summary(changes: &[types::Change]) -> Vec<(types::ChangeKind, Uuid)> {
    changes.iter().map(|c| (c.kind, c.id)).collect()
}

/// A changed entry is the entry a read returns, with the ETag a read returns.
async fn assert_current(client: &Client, change: &types::Change) {
    let entry = change
        .entry
        .as_ref()
        .expect("a changed entry comes with its content");
    let read = client
        .get_address()
        .id(change.id)
        .send()
        .await
        .expect("read");
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(to_json(entry), to_json(&read.into_inner()));
    assert_eq!(change.etag.as_deref(), Some(etag.as_str()));
    assert_eq!(change.at, entry.updated_at);
}

async fn a_full_sync_lists_the_book_page_by_page_and_ends_with_a_token(store: Store) {
    // Arrange
    let server = store.start().await;
    let client = server.client();
    let empty = client
        .list_changes()
        .send()
        .await
        .expect("an empty feed")
        .into_inner();
    assert!(empty.changes.is_empty() && !empty.more);
    let mut ids = Vec::new();
    for n in 0..5 {
        let created = client
            .create_address()
            .body(typed(&full_entry(&format!("Synced {n}"))))
            .send()
            .await
            .expect("created");
        ids.push(created.id);
    }

    // Act: a full sync in pages of 2; and the empty feed's token, which is also good.
    let (changes, token) = sync_expecting(&client, None, 2, 5).await;
    let (from_empty, _) = sync_expecting(&client, Some(&empty.next_sync_token), 100, 5).await;

    // Assert: every entry once, in the order written, each as it is.
    let expected: Vec<_> = ids
        .iter()
        .map(|id| (types::ChangeKind::Changed, *id))
        .collect();
    assert_eq!(summary(&changes), expected);
    assert_eq!(summary(&from_empty), expected);
    for change in &changes {
        assert_current(&client, change).await;
    }
    // Caught up: the token answers nothing more, and stays good.
    let (after, again) = sync(&client, Some(&token), 2).await;
    assert!(after.is_empty(), "{after:?}");
    let (after, _) = sync(&client, Some(&again), 2).await;
    assert!(after.is_empty(), "{after:?}");
}

async fn every_write_after_a_token_is_one_change_in_commit_order(store: Store) {
    // Arrange: a book synced once.
    let server = store.start().await;
    let client = server.client();
    let create = |name: &str, labels: &[&str]| {
        let body = typed(&json!({"full_name": name, "labels": labels}));
        let client = client.clone();
        async move {
            client
                .create_address()
                .body(body)
                .send()
                .await
                .expect("created")
                .into_inner()
        }
    };
    let kept = create("Kept Unchanged", &[]).await;
    let (_, token) = sync_expecting(&client, None, 100, 1).await;

    // Act: writes of every kind, some entries written more than once.
    let a = create("Ada", &[]).await;
    let b = create("Bea", &[]).await;
    client
        .replace_address()
        .id(a.id)
        .body(typed(&full_entry("Ada Replaced")))
        .send()
        .await
        .expect("replaced");
    client
        .patch_address()
        .id(b.id)
        .body(EntryPatch::new().full_name("Bea Patched".parse().unwrap()))
        .send()
        .await
        .expect("patched");
    client
        .delete_address()
        .id(a.id)
        .send()
        .await
        .expect("deleted");
    let c = create("Cy", &["clients"]).await;
    client
        .rename_label()
        .label("clients")
        .body(types::LabelRename::builder().to("customers"))
        .send()
        .await
        .expect("renamed");

    // Assert: each entry once, at the place of its last write; the deletion as a tombstone.
    let (changes, next) = sync_expecting(&client, Some(&token), 2, 3).await;
    assert_eq!(
        summary(&changes),
        [
            (types::ChangeKind::Changed, b.id),
            (types::ChangeKind::Deleted, a.id),
            (types::ChangeKind::Changed, c.id),
        ],
        "{changes:#?}"
    );
    assert!(!changes.iter().any(|change| change.id == kept.id));
    assert_current(&client, &changes[0]).await;
    assert_eq!(
        changes[0].entry.as_ref().unwrap().full_name.as_str(),
        "Bea Patched"
    );
    assert!(changes[1].entry.is_none() && changes[1].etag.is_none());
    let labels = &changes[2].entry.as_ref().unwrap().labels;
    assert_eq!(
        labels.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
        ["customers"]
    );
    assert_current(&client, &changes[2]).await;
    // The deletion happened between the writes around it.
    assert!(changes[0].at <= changes[1].at && changes[1].at <= changes[2].at);

    // From the new token: nothing, until the next write, which is all that follows.
    assert!(sync(&client, Some(&next), 2).await.0.is_empty());
    client
        .patch_address()
        .id(kept.id)
        .body(EntryPatch::new().full_name("Kept Changed".parse().unwrap()))
        .send()
        .await
        .expect("patched");
    let (changes, _) = sync_expecting(&client, Some(&next), 2, 1).await;
    assert_eq!(summary(&changes), [(types::ChangeKind::Changed, kept.id)]);
}

async fn a_token_that_was_edited_or_is_a_cursor_is_refused(store: Store) {
    let server = store.start().await;
    let client = server.client();
    for n in 0..3 {
        client
            .create_address()
            .body(typed(&full_entry(&format!("Token {n}"))))
            .send()
            .await
            .expect("created");
    }
    let page = client
        .list_changes()
        .limit(1)
        .send()
        .await
        .unwrap()
        .into_inner();
    let cursor = client
        .list_addresses()
        .limit(1)
        .send()
        .await
        .unwrap()
        .into_inner()
        .next_cursor
        .expect("a cursor");
    let (payload, signature) = page.next_sync_token.split_once('.').unwrap();
    let mut edited = payload.to_owned().into_bytes();
    edited[payload.len() - 1] ^= 1;
    let edited = format!("{}.{signature}", String::from_utf8(edited).unwrap());

    for bad in [edited.as_str(), cursor.as_str(), "c1.0.0", "…"] {
        let refused = client.list_changes().sync_token(bad).send().await;
        let problem = expect_typed_problem(refused, 400, "GET", "/changes");
        assert_eq!(problem.type_, "/problems/invalid-parameter", "{bad}");
        assert_eq!(
            problem.errors[0].parameter.as_deref(),
            Some("sync_token"),
            "{bad}"
        );
    }
    // A limit out of range is refused in words.
    let reply = send(server.http().get(server.url("/changes?limit=1001"))).await;
    let problem = reply.expect_problem(400);
    assert_eq!(
        problem.0["errors"][0]["reason"],
        "must be an integer from 1 to 1000"
    );
}

async fn a_token_from_before_dropped_history_is_gone_and_a_fresh_sync_works(store: Store) {
    // Arrange: a server that keeps three seconds of history; a token from before a deletion, and
    // one from after it.
    let server = store
        .start_with(&[("ADDRESSBOOK_API__CHANGE_HISTORY_SECS", "3")])
        .await;
    let client = server.client();
    let create = |name: &str| {
        let body = typed(&full_entry(name));
        let client = client.clone();
        async move {
            client
                .create_address()
                .body(body)
                .send()
                .await
                .expect("created")
                .into_inner()
        }
    };
    let doomed = create("Doomed").await;
    let kept = create("Kept").await;
    let (_, before) = sync_expecting(&client, None, 100, 2).await;
    client
        .delete_address()
        .id(doomed.id)
        .send()
        .await
        .expect("deleted");
    let (seen, after) = sync_expecting(&client, Some(&before), 100, 1).await;
    assert_eq!(summary(&seen), [(types::ChangeKind::Deleted, doomed.id)]);

    // Act: wait until the server has dropped the tombstone (it trims every second).
    let deadline = Instant::now() + Duration::from_secs(30);
    let gone = loop {
        let reply = client
            .list_changes()
            .sync_token(before.as_str())
            .send()
            .await;
        if reply.is_err() || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Assert: 410 with its own problem type; the token that saw the deletion is still good;
    // a fresh sync lists the book as it is.
    let problem = expect_typed_problem(gone, 410, "GET", "/changes");
    assert_eq!(
        problem.kind(),
        addressbook_client::ProblemKind::SyncTokenExpired
    );
    assert!(
        problem.detail.contains("without a token"),
        "{}",
        problem.detail
    );
    let (since, _) = sync(&client, Some(&after), 100).await;
    assert!(since.is_empty(), "{since:?}");
    let (fresh, fresh_token) = sync_expecting(&client, None, 100, 1).await;
    assert_eq!(summary(&fresh), [(types::ChangeKind::Changed, kept.id)]);
    // The newest change was the dropped deletion: the token that ends the fresh sync is past it,
    // so the client is not sent back to sync again and again.
    let (since, _) = sync(&client, Some(&fresh_token), 100).await;
    assert!(since.is_empty(), "{since:?}");
    assert!(
        server
            .logs()
            .contains("deletions older than the change history forgotten")
    );
}
