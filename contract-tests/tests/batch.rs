//! Batches: up to 200 creates, replaces, patches and deletes in one request, each answered with
//! what its own request would have answered, on every engine. Each operation succeeds or fails on
//! its own; a body that is not a well-formed batch writes nothing.

use std::collections::HashSet;

use addressbook_client::types::{BatchOperation, BatchRequest, BatchResult};
use addressbook_client::{EntryPatch, ResponseHeaders as _};
use contract_tests::feed::sync_expecting;
use contract_tests::fixtures::{content_of, full_entry, list_all, minimal_entry, typed};
use contract_tests::{Store, TestServer, send};
use serde_json::{Value, json};
use uuid::Uuid;

contract_tests::engines!(
    a_batch_makes_every_kind_of_write_and_answers_each_in_order,
    each_operation_fails_alone_with_the_problem_its_own_request_would_get,
    a_malformed_batch_is_refused_whole_and_writes_nothing,
    creates_in_a_batch_are_idempotent_per_key,
    two_hundred_creates_are_stored_indexed_and_in_the_feed,
);

async fn batch(server: &TestServer, operations: Vec<BatchOperation>) -> Vec<BatchResult> {
    server
        .client()
        .batch_addresses()
        .body(BatchRequest::builder().operations(operations))
        .send()
        .await
        .expect("a batch is answered")
        .into_inner()
        .results
}

/// A batch sent as raw JSON, for what the typed client refuses to send.
async fn raw_batch(server: &TestServer, body: &Value) -> contract_tests::Reply {
    send(
        server
            .http()
            .post(server.url("/addresses/batch"))
            .json(body),
    )
    .await
}

async fn create(server: &TestServer, name: &str) -> (Uuid, String) {
    let created = server
        .client()
        .create_address()
        .body(typed(&minimal_entry(name)))
        .send()
        .await
        .expect("created");
    let etag = created.etag().expect("an ETag").to_owned();
    (created.id, etag)
}

async fn status_of(server: &TestServer, id: Uuid) -> u16 {
    match server.client().get_address().id(id).send().await {
        Ok(_) => 200,
        Err(addressbook_client::Error::ErrorResponse(problem)) => problem.status().as_u16(),
        Err(other) => panic!("GET {id}: {other:?}"),
    }
}

async fn a_batch_makes_every_kind_of_write_and_answers_each_in_order(store: Store) {
    let server = store.start().await;
    let (replaced, replaced_tag) = create(&server, "Irene Adler").await;
    let (patched, patched_tag) = create(&server, "Mycroft Holmes").await;
    let (deleted, _) = create(&server, "Charles Milverton").await;

    let results = batch(
        &server,
        vec![
            BatchOperation::create(typed(&full_entry("Sherlock Holmes")))
                .with_idempotency_key("batch-sherlock")
                .unwrap(),
            BatchOperation::replace(replaced, typed(&full_entry("Irene Norton")))
                .with_if_match(&replaced_tag)
                .unwrap(),
            BatchOperation::patch(
                patched,
                EntryPatch::new().full_name("Mycroft Holmes, Diogenes Club".parse().unwrap()),
            )
            .with_if_match(&patched_tag)
            .unwrap(),
            BatchOperation::delete(deleted).with_if_match("*").unwrap(),
            BatchOperation::create(typed(&minimal_entry("John Watson"))),
        ],
    )
    .await;

    let statuses: Vec<i32> = results.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [201, 204, 200, 204, 201], "{results:?}");
    assert!(results.iter().all(|r| r.problem.is_none() && r.succeeded()));
    // Creates answer the stored entry and its ETag, as a 201 does.
    let sherlock = results[0].entry.as_ref().expect("the created entry");
    assert_eq!(results[0].id, Some(sherlock.id));
    assert_eq!(results[0].etag.as_deref(), Some("\"1\""));
    assert_eq!(
        content_of(sherlock),
        content_of_input(&full_entry("Sherlock Holmes"))
    );
    // A replace answers like a 204 with an ETag; a patch like a 200 with the entry.
    assert_eq!(results[1].id, Some(replaced));
    assert_eq!(results[1].etag.as_deref(), Some("\"2\""));
    assert!(results[1].entry.is_none());
    let patched_entry = results[2].entry.as_ref().expect("the patched entry");
    assert_eq!(
        patched_entry.full_name.as_str(),
        "Mycroft Holmes, Diogenes Club"
    );
    assert_eq!(results[3].id, Some(deleted));

    // What was answered is what is stored.
    let client = server.client();
    let read = client.get_address().id(sherlock.id).send().await.unwrap();
    assert_eq!(content_of(&read), content_of(sherlock));
    let read = client.get_address().id(replaced).send().await.unwrap();
    assert_eq!(read.full_name.as_str(), "Irene Norton");
    assert_eq!(read.etag(), Some("\"2\""));
    let read = client.get_address().id(patched).send().await.unwrap();
    assert_eq!(read.full_name.as_str(), "Mycroft Holmes, Diogenes Club");
    assert_eq!(status_of(&server, deleted).await, 404);
    let watson = results[4].id.expect("an id");
    assert_eq!(status_of(&server, watson).await, 200);
    assert_eq!(list_all(&client).await.len(), 4);
    // Searches find what a batch wrote: its terms are indexed like a single write's.
    let found = client
        .list_addresses()
        .q("diogenes")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.items.len(), 1);
}

fn content_of_input(input: &Value) -> Value {
    contract_tests::fixtures::as_stored(input)
}

async fn each_operation_fails_alone_with_the_problem_its_own_request_would_get(store: Store) {
    let server = store.start().await;
    let (kept, _) = create(&server, "Irene Adler").await;
    let (deleted, _) = create(&server, "Charles Milverton").await;
    let (unpatched, _) = create(&server, "Mrs Hudson").await;
    let missing = Uuid::now_v7();

    let reply = raw_batch(
        &server,
        &json!({"operations": [
            {"op": "create", "entry": {"full_name": "Sherlock Holmes"}},
            {"op": "create", "entry": {"full_name": "", "emails": [{"email": "not an address"}]}},
            {"op": "replace", "id": kept, "if_match": "\"9\"", "entry": {"full_name": "Overwritten"}},
            {"op": "patch", "id": missing, "patch": {"full_name": "Nobody"}},
            {"op": "patch", "id": unpatched, "patch": {"full_name": null}},
            {"op": "delete", "id": deleted},
            {"op": "create", "entry": {"full_name": "John Watson"}},
        ]}),
    )
    .await;
    let answer = reply.expect_json(200);
    let results = answer["results"].as_array().expect("results");
    let statuses: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 400, 412, 404, 400, 204, 201], "{answer}");

    // Each failure carries the problem document its own request would have had, its pointers
    // into the batch.
    let problem = |i: usize| &results[i]["problem"];
    assert_eq!(problem(1)["type"], "/problems/validation-failed");
    assert_eq!(problem(1)["status"], 400);
    assert_eq!(problem(1)["instance"], "/addresses/batch");
    let pointers: Vec<&str> = problem(1)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        [
            "/operations/1/entry/full_name",
            "/operations/1/entry/emails/0/email"
        ]
    );
    assert!(results[1].get("id").is_none(), "a failed create has no id");
    assert_eq!(problem(2)["type"], "/problems/precondition-failed");
    assert_eq!(results[2]["id"], json!(kept));
    assert_eq!(problem(3)["type"], "/problems/not-found");
    assert_eq!(problem(4)["type"], "/problems/validation-failed");
    for ok in [0, 5, 6] {
        assert!(results[ok].get("problem").is_none(), "{}", results[ok]);
    }

    // Nothing of a failed operation was written; every succeeded one was.
    let client = server.client();
    let read = client.get_address().id(kept).send().await.unwrap();
    assert_eq!(read.full_name.as_str(), "Irene Adler");
    assert_eq!(read.etag(), Some("\"1\""));
    assert_eq!(status_of(&server, missing).await, 404);
    assert_eq!(status_of(&server, deleted).await, 404);
    let mut names: Vec<String> = list_all(&client)
        .await
        .into_iter()
        .map(|e| e.full_name.as_str().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Irene Adler",
            "John Watson",
            "Mrs Hudson",
            "Sherlock Holmes"
        ]
    );
}

async fn a_malformed_batch_is_refused_whole_and_writes_nothing(store: Store) {
    let server = store.start().await;
    let (id, _) = create(&server, "Irene Adler").await;
    let good = json!({"op": "create", "entry": {"full_name": "Would Be Stored"}});
    let cases = [
        (json!([good]), vec![""]),
        (json!({"operations": []}), vec!["/operations"]),
        (
            json!({"operations": vec![good.clone(); 201]}),
            vec!["/operations"],
        ),
        (
            json!({"operations": [good, {"op": "upsert", "entry": {"full_name": "X"}}]}),
            vec!["/operations/1/op"],
        ),
        (
            json!({"operations": [good, {"op": "delete"}, {"op": "create", "id": id, "entry": {"full_name": "X"}}]}),
            vec!["/operations/1/id", "/operations/2/id"],
        ),
        (
            json!({"operations": [good, {"op": "delete", "id": id}, {"op": "patch", "id": id, "patch": {}}]}),
            vec!["/operations/2/id"],
        ),
        (
            json!({"operations": [good, {"op": "delete", "id": id, "if_match": "3"}]}),
            vec!["/operations/1/if_match"],
        ),
        (
            json!({"operations": [good, good.clone(), {"op": "create", "entry": {"full_name": "X"}, "idempotency_key": ""}]}),
            vec!["/operations/2/idempotency_key"],
        ),
    ];
    for (body, pointers) in cases {
        let reply = raw_batch(&server, &body).await;
        let problem = reply.expect_problem(400);
        assert_eq!(problem.problem_type(), "/problems/validation-failed");
        problem.expect_pointers(&pointers);
        assert!(
            problem.detail().contains("nothing was written"),
            "{}",
            problem.detail()
        );
    }
    let reply = send(
        server
            .http()
            .post(server.url("/addresses/batch"))
            .header("content-type", "application/json")
            .body("{\"operations\": ["),
    )
    .await;
    assert_eq!(
        reply.expect_problem(400).problem_type(),
        "/problems/malformed-json"
    );
    // Only the entry created before is there; the deletes named in refused batches did nothing.
    let stored = list_all(&server.client()).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].id, id);
}

async fn creates_in_a_batch_are_idempotent_per_key(store: Store) {
    let server = store.start().await;
    let operations = || {
        vec![
            BatchOperation::create(typed(&minimal_entry("Sherlock Holmes")))
                .with_idempotency_key("import-1")
                .unwrap(),
            BatchOperation::create(typed(&minimal_entry("John Watson")))
                .with_idempotency_key("import-2")
                .unwrap(),
        ]
    };
    let first = batch(&server, operations()).await;
    let again = batch(&server, operations()).await;
    // The repeat answers the original entries and creates nothing.
    for (first, again) in first.iter().zip(&again) {
        assert_eq!((first.status, again.status), (201, 201));
        assert_eq!(first.id, again.id);
        assert_eq!(
            first.entry.as_ref().map(content_of),
            again.entry.as_ref().map(content_of)
        );
    }
    assert_eq!(list_all(&server.client()).await.len(), 2);
    // A single create with a key a batch used is a repeat too: keys are the same keys.
    let single = send(
        server
            .http()
            .post(server.url("/addresses"))
            .header("idempotency-key", "import-1")
            .json(&minimal_entry("Sherlock Holmes")),
    )
    .await;
    assert_eq!(single.expect_json(201)["id"], json!(first[0].id));

    // The same key with another entry is refused for that operation alone.
    let reused = batch(
        &server,
        vec![
            BatchOperation::create(typed(&minimal_entry("Someone Else")))
                .with_idempotency_key("import-1")
                .unwrap(),
            BatchOperation::create(typed(&minimal_entry("Mrs Hudson"))),
        ],
    )
    .await;
    assert_eq!(reused[0].status, 422);
    assert_eq!(
        reused[0].problem.as_ref().map(|p| p.type_.as_str()),
        Some("/problems/idempotency-key-reused")
    );
    assert_eq!(reused[1].status, 201);
    assert_eq!(list_all(&server.client()).await.len(), 3);
}

async fn two_hundred_creates_are_stored_indexed_and_in_the_feed(store: Store) {
    let server = store.start().await;
    let operations: Vec<BatchOperation> = (0..200)
        .map(|n| {
            let mut entry = full_entry(&format!("Batch Person {n:03}"));
            entry["emails"][0]["email"] = json!(format!("person{n}@example.org"));
            BatchOperation::create(typed(&entry))
        })
        .collect();
    let results = batch(&server, operations).await;
    assert_eq!(results.len(), 200);
    assert!(results.iter().all(|r| r.status == 201), "{results:?}");
    let ids: HashSet<Uuid> = results.iter().map(|r| r.id.expect("an id")).collect();
    assert_eq!(ids.len(), 200, "every entry has its own id");
    // In request order: the n-th result is the n-th entry.
    for (n, result) in results.iter().enumerate() {
        let entry = result.entry.as_ref().expect("the entry");
        assert_eq!(entry.full_name.as_str(), format!("Batch Person {n:03}"));
    }

    let client = server.client();
    let stored: HashSet<Uuid> = list_all(&client).await.iter().map(|e| e.id).collect();
    assert_eq!(stored, ids);
    let found = client
        .list_addresses()
        .q("person117@example.org")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].full_name.as_str(), "Batch Person 117");
    let london = client
        .list_addresses()
        .city("London")
        .limit(100_u32)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(london.items.len(), 100);
    let (changes, _) = sync_expecting(&client, None, 1000, 200).await;
    let changed: HashSet<Uuid> = changes.iter().map(|c| c.id).collect();
    assert_eq!(changed, ids, "each create is one change in the feed");
}
