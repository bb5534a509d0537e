//! Labels: sets of names that group entries (like contact groups), kept with each entry, written
//! and patched like its other lists, found with `GET /addresses?label=` from the engines' term
//! index, compared case-insensitively, and renamed or removed across the whole book in one call.

use addressbook_client::futures::TryStreamExt as _;
use addressbook_client::{EntryPatch, types};
use contract_tests::fixtures::{list_all, typed};
use contract_tests::writes;
use contract_tests::{Store, TestServer, send};
use serde_json::{Value, json};
use uuid::Uuid;

contract_tests::engines!(
    labels_are_kept_and_found_case_insensitively,
    labels_follow_every_write,
    a_bad_label_is_refused_with_its_pointer,
    a_label_listing_pages_like_any_other,
    a_label_is_renamed_and_removed_across_the_book_in_one_call,
    a_bad_rename_changes_nothing,
);

async fn create(server: &TestServer, name: &str, labels: &[&str]) -> Uuid {
    let created = server
        .client()
        .create_address()
        .body(typed(&json!({"full_name": name, "labels": labels})))
        .send()
        .await
        .expect("created");
    assert_eq!(
        created
            .labels
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>(),
        labels,
        "kept as written, in order"
    );
    created.id
}

async fn names_labelled(server: &TestServer, label: &str) -> Vec<String> {
    let mut names: Vec<String> = server
        .client()
        .list_addresses()
        .label(label)
        .stream()
        .map_ok(|entry| entry.full_name.as_str().to_owned())
        .try_collect()
        .await
        .expect("a listing");
    names.sort();
    names
}

async fn labels_are_kept_and_found_case_insensitively(store: Store) {
    let server = store.start().await;
    let irene = create(&server, "Irene Adler", &["Family", "Clients"]).await;
    create(&server, "Mycroft Holmes", &["clients"]).await;
    create(&server, "John Watson", &[]).await;

    let read = server
        .client()
        .get_address()
        .id(irene)
        .send()
        .await
        .expect("read");
    assert_eq!(
        read.labels.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
        ["Family", "Clients"]
    );

    assert_eq!(
        names_labelled(&server, "CLIENTS").await,
        ["Irene Adler", "Mycroft Holmes"]
    );
    assert_eq!(names_labelled(&server, "family").await, ["Irene Adler"]);
    // A label is matched whole, not as a prefix.
    assert!(names_labelled(&server, "fam").await.is_empty());
    assert!(names_labelled(&server, "suppliers").await.is_empty());

    // With the other filters, every one must hold.
    let both: Vec<types::Entry> = server
        .client()
        .list_addresses()
        .label("clients")
        .q("myc")
        .stream()
        .try_collect()
        .await
        .expect("a listing");
    assert_eq!(both.len(), 1);
    assert_eq!(both[0].full_name.as_str(), "Mycroft Holmes");

    // An entry written without labels has an empty list, like every other list.
    let watson = list_all(&server.client())
        .await
        .into_iter()
        .find(|entry| entry.full_name.as_str() == "John Watson")
        .expect("listed");
    assert!(watson.labels.is_empty());
}

async fn labels_follow_every_write(store: Store) {
    let server = store.start().await;
    let client = server.client();
    let id = create(&server, "Irene Adler", &["family"]).await;

    let patch = EntryPatch::new().labels(vec![
        "suppliers"
            .parse::<types::EntryPatchLabel>()
            .expect("a label"),
    ]);
    let patched = client
        .patch_address()
        .id(id)
        .body(patch)
        .send()
        .await
        .expect("patched");
    assert_eq!(patched.labels.len(), 1);
    assert!(names_labelled(&server, "family").await.is_empty());
    assert_eq!(names_labelled(&server, "suppliers").await, ["Irene Adler"]);

    // A patch that leaves labels out leaves them alone.
    let reply = writes::patch(&server, id, &json!({"fax_numbers": null}), &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["labels"], json!(["suppliers"]));

    // A replace without labels empties them, like any list left out of a PUT.
    let reply = writes::put(&server, id, &json!({"full_name": "Irene Norton"}), &[]).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    assert!(names_labelled(&server, "suppliers").await.is_empty());

    let reply = writes::patch(&server, id, &json!({"labels": ["Opera", "Clients"]}), &[]).await;
    assert_eq!(reply.json()["labels"], json!(["Opera", "Clients"]));
    let reply = writes::patch(&server, id, &json!({"labels": null}), &[]).await;
    assert_eq!(reply.json()["labels"], json!([]));
    assert!(names_labelled(&server, "opera").await.is_empty());

    writes::patch(&server, id, &json!({"labels": ["opera"]}), &[]).await;
    assert_eq!(names_labelled(&server, "opera").await, ["Irene Norton"]);
    let reply = writes::delete(&server, id, &[]).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    assert!(names_labelled(&server, "opera").await.is_empty());
}

async fn a_bad_label_is_refused_with_its_pointer(store: Store) {
    let server = store.start().await;
    let long = "x".repeat(51);
    let many: Vec<String> = (0..21).map(|n| format!("label {n}")).collect();
    let cases: [(Value, &[&str]); 5] = [
        (json!(["Family", "family"]), &["/labels/1"]),
        (json!([long]), &["/labels/0"]),
        (json!(["   "]), &["/labels/0"]),
        (json!(["ok", "bad\u{7}"]), &["/labels/1"]),
        (json!(many), &["/labels"]),
    ];
    for (labels, pointers) in cases {
        let body = json!({"full_name": "Irene Adler", "labels": labels});
        let reply = writes::create(&server, &body, &[]).await;
        reply.expect_problem(400).expect_pointers(pointers);

        let id = create(&server, "Kept", &["kept"]).await;
        let reply = writes::patch(&server, id, &json!({"labels": labels}), &[]).await;
        reply.expect_problem(400).expect_pointers(pointers);
        let (stored, _) = writes::current(&server, id).await;
        assert_eq!(
            stored["labels"],
            json!(["kept"]),
            "a refused patch wrote nothing"
        );
        writes::delete(&server, id, &[]).await;
    }
    assert!(
        list_all(&server.client()).await.is_empty(),
        "nothing refused was stored"
    );

    let reply = send(server.http().get(server.url("/addresses?label=a%00b"))).await;
    let problem = reply.expect_problem(400);
    assert_eq!(
        problem.errors()[0].parameter.as_deref(),
        Some("label"),
        "{reply:?}"
    );
}

async fn a_label_listing_pages_like_any_other(store: Store) {
    let server = store.start().await;
    for n in 0..5 {
        create(&server, &format!("Member {n}"), &["club"]).await;
    }
    create(&server, "Outsider", &[]).await;

    let first = send(
        server
            .http()
            .get(server.url("/addresses?label=club&limit=2")),
    )
    .await;
    assert_eq!(first.status, 200, "{first:?}");
    let link = first.header("link").expect("a next link").to_owned();
    assert!(link.contains("label=club"), "{link}");
    let cursor = first.json()["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();

    // The cursor is signed for its search: with another label it is refused.
    let query = serde_urlencoded::to_string([("label", "other"), ("cursor", cursor.as_str())])
        .expect("encodes");
    let reply = send(
        server
            .http()
            .get(server.url(&format!("/addresses?{query}"))),
    )
    .await;
    assert_eq!(
        reply.expect_problem(400).errors()[0].parameter.as_deref(),
        Some("cursor")
    );

    let all: Vec<types::Entry> = server
        .client()
        .list_addresses()
        .label("club")
        .limit(2_u32)
        .stream()
        .try_collect()
        .await
        .expect("every page");
    assert_eq!(all.len(), 5);
    assert!(
        all.iter()
            .all(|entry| entry.full_name.starts_with("Member"))
    );
}

async fn labels_of(server: &TestServer, id: Uuid) -> (Value, String) {
    let (entry, etag) = writes::current(server, id).await;
    (entry["labels"].clone(), etag)
}

async fn a_label_is_renamed_and_removed_across_the_book_in_one_call(store: Store) {
    let server = store.start().await;
    let client = server.client();
    let irene = create(&server, "Irene Adler", &["Family", "clients"]).await;
    let mycroft = create(&server, "Mycroft Holmes", &["CLIENTS", "Customers"]).await;
    let watson = create(&server, "John Watson", &["family"]).await;
    let (_, watson_tag) = labels_of(&server, watson).await;
    let (_, irene_tag) = labels_of(&server, irene).await;

    let renamed = client
        .rename_label()
        .label("Clients")
        .body(types::LabelRename::builder().to("Customers"))
        .send()
        .await
        .expect("renamed");
    assert_eq!(renamed.label, "Customers");
    assert_eq!(renamed.entries, 2);

    // In place, in the new spelling; merged where the entry had it already.
    let (labels, tag) = labels_of(&server, irene).await;
    assert_eq!(labels, json!(["Family", "Customers"]));
    assert_ne!(tag, irene_tag, "a changed entry gets a new ETag");
    assert_eq!(labels_of(&server, mycroft).await.0, json!(["Customers"]));
    let (labels, tag) = labels_of(&server, watson).await;
    assert_eq!(labels, json!(["family"]));
    assert_eq!(tag, watson_tag, "an entry without the label is not written");
    assert!(names_labelled(&server, "clients").await.is_empty());
    assert_eq!(
        names_labelled(&server, "customers").await,
        ["Irene Adler", "Mycroft Holmes"]
    );

    // A repeat finds nothing to change.
    let again = client
        .rename_label()
        .label("clients")
        .body(types::LabelRename::builder().to("Customers"))
        .send()
        .await
        .expect("renamed");
    assert_eq!(again.entries, 0);

    let removed = client
        .delete_label()
        .label("FAMILY")
        .send()
        .await
        .expect("removed");
    assert_eq!((removed.label.as_str(), removed.entries), ("FAMILY", 2));
    assert_eq!(labels_of(&server, irene).await.0, json!(["Customers"]));
    assert_eq!(labels_of(&server, watson).await.0, json!([]));
    assert!(names_labelled(&server, "family").await.is_empty());

    // A label with a space travels percent-encoded in the path.
    create(&server, "Violet Hunter", &["Copper Beeches"]).await;
    let reply = send(
        server
            .http()
            .post(server.url("/labels/copper%20beeches/rename"))
            .json(&json!({"to": "Hampshire"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({"label": "Hampshire", "entries": 1}));
}

async fn a_bad_rename_changes_nothing(store: Store) {
    let server = store.start().await;
    let id = create(&server, "Irene Adler", &["clients"]).await;
    let before = labels_of(&server, id).await;

    for (body, pointer) in [
        (json!({"to": ""}), "/to"),
        (json!({"to": "x".repeat(51)}), "/to"),
        (json!({"to": "bad\u{7}"}), "/to"),
        (json!({}), "/to"),
        (json!({"to": "ok", "also": 1}), "/also"),
    ] {
        let reply = send(
            server
                .http()
                .post(server.url("/labels/clients/rename"))
                .json(&body),
        )
        .await;
        reply.expect_problem(400).expect_pointers(&[pointer]);
    }
    let reply = send(
        server
            .http()
            .post(server.url("/labels/clients/rename"))
            .header("content-type", "application/json")
            .body("{to: 1}"),
    )
    .await;
    assert_eq!(
        reply.expect_problem(400).problem_type(),
        "/problems/malformed-json"
    );
    assert_eq!(labels_of(&server, id).await, before, "nothing was written");
}
