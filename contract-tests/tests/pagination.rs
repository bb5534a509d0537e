//! Listing one page at a time: the order, the page sizes, the cursors, and the promise that a walk
//! sees every entry that existed for the whole walk exactly once while others write.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use addressbook_client::Client;
use addressbook_client::types::Entry;
use contract_tests::fixtures::{assert_walk_saw_each_once, create_many, minimal_entry, typed};
use contract_tests::{Store, TestServer, send};
use serde_json::Value;
use tokio::sync::watch;
use uuid::Uuid;

contract_tests::engines!(
    a_walk_sees_every_entry_that_existed_throughout_exactly_once_while_others_write,
    the_limit_defaults_to_20_and_may_be_raised_to_100,
    a_limit_out_of_range_or_not_a_number_is_refused,
    a_cursor_the_service_did_not_issue_is_refused,
    the_last_page_has_a_null_next_cursor,
);

/// One walk over every page, `limit` entries at a time.
struct Walk {
    seen: Vec<Entry>,
    pages: usize,
}

/// Walks every page; after each page, waits for `progress` to move on (when given), so that the
/// walk and a concurrent writer interleave however fast either is.
async fn walk(client: &Client, limit: u32, mut progress: Option<watch::Receiver<u64>>) -> Walk {
    let mut walk = Walk {
        seen: Vec::new(),
        pages: 0,
    };
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client.list_addresses().limit(limit);
        if let Some(cursor) = &cursor {
            request = request.cursor(cursor.as_str());
        }
        let page = request.send().await.expect("a page").into_inner();
        assert!(page.items.len() <= limit as usize, "{page:?}");
        walk.pages += 1;
        walk.seen.extend(page.items);
        let Some(next) = page.next_cursor else {
            return walk;
        };
        cursor = Some(next);
        if let Some(progress) = progress.as_mut() {
            // A writer that has stopped (cap reached) no longer holds the walk back.
            let _ = tokio::time::timeout(Duration::from_secs(2), progress.changed()).await;
        }
    }
}

async fn a_walk_sees_every_entry_that_existed_throughout_exactly_once_while_others_write(
    store: Store,
) {
    // Arrange: 260 entries, made 8 at a time.
    let server = store.start().await;
    let client = server.client();
    let originals = create_many(&client, "Original", 260, 8).await;
    let original_ids: HashSet<Uuid> = originals.iter().map(|e| e.id).collect();
    // Originals the writer will delete mid-walk, spread over the whole listing so that some go
    // before the walk reaches them and some after.
    let mut ordered = originals.clone();
    ordered.sort_by_key(|e| (e.created_at, e.id));
    let doomed: Vec<Uuid> = ordered.iter().step_by(13).map(|e| e.id).collect();

    // Act: walk with limit 7 while a writer adds entries, deletes some of its own and deletes
    // the doomed originals, one operation between every two pages.
    let (progress_tx, progress_rx) = watch::channel(0_u64);
    let walking = Arc::new(AtomicBool::new(true));
    let writer = tokio::spawn(write_while_walking(
        client.clone(),
        doomed.clone(),
        walking.clone(),
        progress_tx,
    ));
    let walk = walk(&client, 7, Some(progress_rx)).await;
    walking.store(false, Ordering::SeqCst);
    let written = writer.await.expect("the writer does not panic");

    // Assert
    assert!(
        written.added.len() >= 10 && !written.deleted_originals.is_empty(),
        "the writer must really have written during the walk: {written:?}"
    );
    let seen: Vec<Uuid> = walk.seen.iter().map(|e| e.id).collect();
    let deleted: HashSet<Uuid> = written.deleted_originals.iter().copied().collect();
    let added: HashSet<Uuid> = written.added.iter().copied().collect();
    assert_walk_saw_each_once(&seen, &original_ids, &deleted, &added);
    for pair in walk.seen.windows(2) {
        assert!(
            (pair[0].created_at, pair[0].id) < (pair[1].created_at, pair[1].id),
            "not in (created_at, id) order: {:?} then {:?}",
            (pair[0].created_at, pair[0].id),
            (pair[1].created_at, pair[1].id)
        );
    }
    assert!(walk.pages >= 260 / 7, "{} pages", walk.pages);
}

#[derive(Debug, Default)]
struct Written {
    added: Vec<Uuid>,
    deleted_originals: Vec<Uuid>,
    deleted_own: Vec<Uuid>,
}

/// Until the walk is over (or 600 operations): create an entry; every second round delete an
/// entry it created; every third round delete the next doomed original. Publishes the number of
/// operations done after each one.
async fn write_while_walking(
    client: Client,
    mut doomed: Vec<Uuid>,
    walking: Arc<AtomicBool>,
    progress: watch::Sender<u64>,
) -> Written {
    let mut written = Written::default();
    let mut own: Vec<Uuid> = Vec::new();
    let mut operations = 0_u64;
    let mut round = 0_u64;
    while walking.load(Ordering::SeqCst) && operations < 600 {
        round += 1;
        let created = client
            .create_address()
            .body(typed(&minimal_entry(&format!("Concurrent {round}"))))
            .send()
            .await
            .expect("a concurrent create");
        own.push(created.id);
        written.added.push(created.id);
        operations += 1;
        progress.send_replace(operations);

        if round.is_multiple_of(2) && own.len() > 1 {
            let id = own.remove(0);
            client
                .delete_address()
                .id(id)
                .send()
                .await
                .expect("deleting an entry the writer made");
            written.deleted_own.push(id);
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
            written.deleted_originals.push(id);
            operations += 1;
            progress.send_replace(operations);
        }
    }
    written
}

async fn the_limit_defaults_to_20_and_may_be_raised_to_100(store: Store) {
    let server = store.start().await;
    let client = server.client();
    create_many(&client, "Paged", 105, 8).await;

    let default = client.list_addresses().send().await.expect("page");
    let hundred = client
        .list_addresses()
        .limit(100_u32)
        .send()
        .await
        .expect("page");
    let one = client
        .list_addresses()
        .limit(1_u32)
        .send()
        .await
        .expect("page");

    assert_eq!(default.items.len(), 20);
    assert!(default.next_cursor.is_some());
    assert_eq!(hundred.items.len(), 100);
    assert!(hundred.next_cursor.is_some());
    assert_eq!(one.items.len(), 1);
    assert_eq!(
        one.items[0].id, default.items[0].id,
        "pages start at the oldest entry"
    );
    let rest = client
        .list_addresses()
        .limit(100_u32)
        .cursor(hundred.next_cursor.as_deref().expect("a cursor"))
        .send()
        .await
        .expect("page");
    assert_eq!(rest.items.len(), 5);
    assert_eq!(rest.next_cursor, None);
}

async fn a_limit_out_of_range_or_not_a_number_is_refused(store: Store) {
    let server = store.start().await;
    create_many(&server.client(), "Limited", 3, 3).await;

    for limit in ["0", "101", "-1", "abc", "1.5", "", "99999999999"] {
        let problem = list_raw(&server, &format!("limit={limit}"))
            .await
            .expect_problem(400);
        assert_eq!(
            problem.problem_type(),
            "/problems/invalid-parameter",
            "limit={limit}"
        );
        let errors = problem.errors();
        assert_eq!(
            errors[0].parameter.as_deref(),
            Some("limit"),
            "limit={limit}: {problem:?}"
        );
    }
}

async fn a_cursor_the_service_did_not_issue_is_refused(store: Store) {
    let server = store.start().await;
    create_many(&server.client(), "Cursed", 3, 3).await;
    let page = server
        .client()
        .list_addresses()
        .limit(1_u32)
        .send()
        .await
        .expect("page");
    assert!(page.next_cursor.is_some(), "{page:?}");
    let too_long = "A".repeat(513);

    // Not base64, base64 of something else ("v1.123.not-a-uuid"), empty, longer than 512.
    for cursor in ["junk", "!!!!", "djEuMTIzLm5vdC1hLXV1aWQ", "", &too_long] {
        let query = format!("cursor={}", urlencode(cursor));
        let reply = list_raw(&server, &query).await;
        let problem = reply.expect_problem(400);
        assert_eq!(
            problem.problem_type(),
            "/problems/invalid-parameter",
            "{query}"
        );
        assert_eq!(
            problem.errors()[0].parameter.as_deref(),
            Some("cursor"),
            "{query}: {problem:?}"
        );
    }
}

async fn the_last_page_has_a_null_next_cursor(store: Store) {
    let server = store.start().await;

    // An empty book, then a book that fits in one page, then the end of a longer walk.
    let empty = list_raw(&server, "").await.expect_json(200);
    assert_eq!(empty["items"], Value::Array(Vec::new()));
    assert_eq!(empty.get("next_cursor"), Some(&Value::Null), "{empty}");

    create_many(&server.client(), "Last", 5, 5).await;
    for limit in [10, 5] {
        let whole = list_raw(&server, &format!("limit={limit}"))
            .await
            .expect_json(200);
        assert_eq!(whole["items"].as_array().map(Vec::len), Some(5));
        // "When more entries follow, the page carries next_cursor": here none follow.
        assert_eq!(
            whole.get("next_cursor"),
            Some(&Value::Null),
            "limit={limit}: {whole}"
        );
    }

    let walk = walk(&server.client(), 2, None).await;
    assert_eq!(walk.seen.len(), 5);
    assert_eq!(walk.pages, 3);
}

async fn list_raw(server: &TestServer, query: &str) -> contract_tests::Reply {
    let url = if query.is_empty() {
        server.url("/addresses")
    } else {
        server.url(&format!("/addresses?{query}"))
    };
    send(server.http().get(url)).await
}

/// Percent-encodes everything but unreserved characters.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
