//! An entry's life through the typed client: created, read, replaced, deleted; and what is
//! stored is exactly what was written.

use addressbook_client::reqwest::header::LOCATION;
use contract_tests::fixtures::{as_stored, content_of, full_entry, minimal_entry, to_json, typed};
use contract_tests::http::{REQUEST_ID, expect_typed_problem};
use contract_tests::{Store, fixtures, send};
use serde_json::json;

contract_tests::engines!(
    an_entry_goes_through_its_whole_lifecycle,
    a_replace_empties_the_lists_it_leaves_out,
    the_sample_entries_are_stored_exactly_as_written,
    the_invalid_sample_is_refused_naming_every_bad_field,
    entries_are_kept_apart,
);

async fn an_entry_goes_through_its_whole_lifecycle(store: Store) {
    let server = store.start().await;
    let client = server.client();

    // An empty book lists one empty, final page.
    let page = client.list_addresses().send().await.expect("list");
    assert!(page.items.is_empty(), "{page:?}");
    assert_eq!(page.next_cursor, None);

    // Create: 201, Location names the new entry, the body is the stored entry.
    let input = full_entry("Sherlock Holmes");
    let created = client
        .create_address()
        .body(typed(&input))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status().as_u16(), 201);
    let location = created
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a 201 carries Location");
    assert_eq!(location, format!("/addresses/{}", created.id));
    assert!(created.headers().contains_key(REQUEST_ID));
    let created = created.into_inner();
    assert_eq!(content_of(&created), as_stored(&input));
    assert_eq!(created.created_at, created.updated_at);

    // Read: the same entry.
    let read = client
        .get_address()
        .id(created.id)
        .send()
        .await
        .expect("read");
    assert_eq!(read.status().as_u16(), 200);
    assert_eq!(to_json(&read), to_json(&created));

    // Replace: 204, then the new content under the same id and creation time.
    let replacement = json!({
        "full_name": "Mycroft Holmes",
        "addresses": [{"street_name": "Pall Mall", "pincode": "SW1Y 5AA", "country": "United Kingdom",
                       "building_name": "Diogenes Club"}],
        "emails": [{"email": "mycroft@example.org"}]
    });
    let replaced = client
        .replace_address()
        .id(created.id)
        .body(typed(&replacement))
        .send()
        .await
        .expect("replace");
    assert_eq!(replaced.status().as_u16(), 204);
    let read = client
        .get_address()
        .id(created.id)
        .send()
        .await
        .expect("read after replace")
        .into_inner();
    assert_eq!(read.id, created.id);
    assert_eq!(read.created_at, created.created_at);
    assert!(read.updated_at >= created.updated_at, "{read:?}");
    assert_eq!(content_of(&read), as_stored(&replacement));

    // Delete: 204, then the entry is gone for reads and deletes alike.
    let deleted = client
        .delete_address()
        .id(created.id)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status().as_u16(), 204);
    let path = format!("/addresses/{}", created.id);
    let problem = expect_typed_problem(
        client.get_address().id(created.id).send().await,
        404,
        "GET",
        &path,
    );
    assert_eq!(problem.type_, "/problems/not-found");
    let problem = expect_typed_problem(
        client.delete_address().id(created.id).send().await,
        404,
        "DELETE",
        &path,
    );
    assert_eq!(problem.type_, "/problems/not-found");

    let page = client.list_addresses().send().await.expect("list");
    assert!(page.items.is_empty(), "{page:?}");
    assert_eq!(page.next_cursor, None);
}

async fn a_replace_empties_the_lists_it_leaves_out(store: Store) {
    let server = store.start().await;
    let client = server.client();
    let created = client
        .create_address()
        .body(typed(&full_entry("Irene Adler")))
        .send()
        .await
        .expect("create");

    client
        .replace_address()
        .id(created.id)
        .body(typed(&minimal_entry("Irene Norton")))
        .send()
        .await
        .expect("replace");

    let read = client
        .get_address()
        .id(created.id)
        .send()
        .await
        .expect("read");
    assert_eq!(content_of(&read), as_stored(&minimal_entry("Irene Norton")));
}

async fn the_sample_entries_are_stored_exactly_as_written(store: Store) {
    // The samples are sent as written, byte for byte, rather than re-serialized by the client.
    let server = store.start().await;
    let client = server.client();
    let samples = fixtures::sample_entries();
    assert!(!samples.is_empty(), "data/addresses holds samples");

    for (file, sample) in &samples {
        let reply = send(
            server
                .http()
                .post(server.url("/addresses"))
                .header("content-type", "application/json")
                .body(serde_json::to_vec(sample).expect("serializes")),
        )
        .await;
        let created = reply.expect_json(201);
        let id = created["id"].as_str().expect("an id").to_owned();

        let read = client
            .get_address()
            .id(id.parse::<uuid::Uuid>().expect("a UUID"))
            .send()
            .await
            .unwrap_or_else(|err| panic!("{file}: {err:?}"));
        assert_eq!(content_of(&read), as_stored(sample), "{file}");
    }
    assert_eq!(fixtures::list_all(&client).await.len(), samples.len());
}

async fn the_invalid_sample_is_refused_naming_every_bad_field(store: Store) {
    let server = store.start().await;
    let samples = fixtures::invalid_samples();
    assert!(!samples.is_empty(), "data/invalid holds samples");

    for (file, sample) in &samples {
        let reply = send(
            server
                .http()
                .post(server.url("/addresses"))
                .header("content-type", "application/json")
                .body(serde_json::to_vec(sample).expect("serializes")),
        )
        .await;
        let problem = reply.expect_problem(400);
        assert_eq!(
            problem.problem_type(),
            "/problems/validation-failed",
            "{file}"
        );
        let pointers = problem.pointers();
        assert!(!pointers.is_empty(), "{file}: {problem:?}");
        // Each pointer names a member of the sample, or a required member missing from an
        // object that is there.
        for pointer in &pointers {
            let parent = &pointer[..pointer.rfind('/').unwrap_or(0)];
            assert!(
                sample.pointer(pointer).is_some() || sample.pointer(parent).is_some(),
                "{file}: {pointer} is not in the sample"
            );
        }
        if file == "01-invalid-entry.json" {
            problem.expect_pointers(&["/full_name", "/nickname", "/phone_numbers/0/local_number"]);
        }
    }
    assert!(fixtures::list_all(&server.client()).await.is_empty());
}

async fn entries_are_kept_apart(store: Store) {
    let server = store.start().await;
    let client = server.client();
    let watson = client
        .create_address()
        .body(typed(&full_entry("John Watson")))
        .send()
        .await
        .expect("create");
    let hudson = client
        .create_address()
        .body(typed(&minimal_entry("Martha Hudson")))
        .send()
        .await
        .expect("create");
    assert_ne!(watson.id, hudson.id);

    client
        .replace_address()
        .id(watson.id)
        .body(typed(&minimal_entry("Dr John H. Watson")))
        .send()
        .await
        .expect("replace");
    client
        .delete_address()
        .id(watson.id)
        .send()
        .await
        .expect("delete");

    let read = client
        .get_address()
        .id(hudson.id)
        .send()
        .await
        .expect("read");
    assert_eq!(to_json(&read), to_json(&hudson));
}
