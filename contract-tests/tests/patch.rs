//! `PATCH /addresses/{id}`: a JSON merge patch (RFC 7396). Members left out stay, `null` empties
//! a list, anything else replaces the member whole; the result is validated like a replacement,
//! and a refused patch changes nothing.

use addressbook_client::{EntryPatch, types};
use contract_tests::fixtures::{as_stored, content_of_json, full_entry, minimal_entry};
use contract_tests::http::expect_typed_problem;
use contract_tests::writes::{self, MERGE_PATCH_JSON, current, entry_path, etag};
use contract_tests::{Problem, Store, TestServer};
use serde_json::{Value, json};
use uuid::Uuid;

contract_tests::engines!(
    a_patch_sets_what_it_names_clears_what_it_nulls_and_leaves_the_rest,
    lists_in_a_patch_replace_the_whole_list,
    the_patched_entry_is_answered_and_is_what_a_later_read_gets,
    a_patch_must_be_sent_as_merge_patch_json,
    a_patch_leaving_an_invalid_entry_is_refused_naming_the_fields,
    a_patch_removing_the_full_name_or_adding_unknown_members_is_refused,
    a_patch_that_is_not_an_object_is_refused,
    a_patch_of_a_missing_entry_gets_404,
    the_typed_client_patches_by_setting_leaving_and_clearing,
    concurrent_patches_of_different_members_both_apply,
);

/// Creates `input` and returns the stored entry (raw JSON) and its id.
async fn create(server: &TestServer, input: &Value) -> (Uuid, Value) {
    let reply = writes::create(server, input, &[]).await;
    let entry = reply.expect_json(201);
    let id = entry["id"]
        .as_str()
        .expect("an id")
        .parse()
        .expect("a UUID");
    (id, entry)
}

/// Sends `patch` and asserts it is refused with 400 naming exactly `pointers`, leaving the entry
/// (and its tag) as it was.
async fn refused(server: &TestServer, id: Uuid, patch: &[u8], pointers: &[&str]) -> Problem {
    let before = current(server, id).await;
    let reply = writes::patch_as(server, id, patch, Some(MERGE_PATCH_JSON), &[]).await;
    let problem = reply.expect_problem(400);
    problem.expect_pointers(pointers);
    assert_eq!(
        current(server, id).await,
        before,
        "{reply:?}: a refused patch changed the entry"
    );
    problem
}

async fn a_patch_sets_what_it_names_clears_what_it_nulls_and_leaves_the_rest(store: Store) {
    // Arrange
    let server = store.start().await;
    let original = full_entry("Sherlock Holmes");
    let (id, created) = create(&server, &original).await;

    // Act
    let patch = json!({
        "full_name": "Sherlock Holmes, Consulting Detective",
        "fax_numbers": null,
        "emails": null
    });
    let reply = writes::patch(&server, id, &patch, &[]).await;

    // Assert
    let patched = reply.expect_json(200);
    let mut expected = as_stored(&original);
    expected["full_name"] = json!("Sherlock Holmes, Consulting Detective");
    expected["fax_numbers"] = json!([]);
    expected["emails"] = json!([]);
    assert_eq!(content_of_json(&patched), expected);
    assert_eq!(patched["id"], created["id"]);
    assert_eq!(patched["created_at"], created["created_at"]);

    // An empty patch changes nothing that is stored.
    let reply = writes::patch(&server, id, &json!({}), &[]).await;
    assert_eq!(content_of_json(&reply.expect_json(200)), expected);
}

async fn lists_in_a_patch_replace_the_whole_list(store: Store) {
    // Arrange: an entry with two phone numbers.
    let server = store.start().await;
    let mut original = full_entry("Mrs Hudson");
    original["phone_numbers"] = json!([
        {"kind": "home", "country_code": 44, "area_code": "020", "local_number": "79460001"},
        {"kind": "work", "country_code": 44, "area_code": "020", "local_number": "79460002"}
    ]);
    let (id, _) = create(&server, &original).await;

    // Act: a list of one item, and an empty list.
    let one = json!([{"country_code": 33, "local_number": "155504321"}]);
    let reply = writes::patch(
        &server,
        id,
        &json!({"phone_numbers": one, "addresses": []}),
        &[],
    )
    .await;

    // Assert: nothing of the old lists survives, nothing is merged item by item.
    let patched = reply.expect_json(200);
    assert_eq!(patched["phone_numbers"], one);
    assert_eq!(patched["addresses"], json!([]));
    assert_eq!(patched["emails"], original["emails"]);
    assert_eq!(patched["fax_numbers"], original["fax_numbers"]);
}

async fn the_patched_entry_is_answered_and_is_what_a_later_read_gets(store: Store) {
    let server = store.start().await;
    let (id, created) = create(&server, &full_entry("Irene Adler")).await;

    let reply = writes::patch(&server, id, &json!({"full_name": "Irene Norton"}), &[]).await;
    let patched = reply.expect_json(200);
    let patched_tag = etag(&reply.headers);

    let (read, read_tag) = current(&server, id).await;
    assert_eq!(
        read, patched,
        "the 200 body is the stored entry, timestamps included"
    );
    assert_eq!(read_tag, patched_tag);
    let patched: types::Entry = serde_json::from_value(patched).expect("an entry");
    let created: types::Entry = serde_json::from_value(created).expect("an entry");
    assert_eq!(patched.created_at, created.created_at);
    assert!(patched.updated_at >= created.updated_at, "{patched:?}");
}

async fn a_patch_must_be_sent_as_merge_patch_json(store: Store) {
    let server = store.start().await;
    let (id, _) = create(&server, &full_entry("Media Type")).await;
    let before = current(&server, id).await;
    let body = br#"{"full_name": "Not Merged"}"#;

    for content_type in [Some("application/json"), Some("text/plain"), None] {
        let reply = writes::patch_as(&server, id, body, content_type, &[]).await;
        let problem = reply.expect_problem(415);
        assert_eq!(
            problem.problem_type(),
            "/problems/unsupported-media-type",
            "{reply:?}"
        );
    }
    assert_eq!(current(&server, id).await, before);

    // Media type parameters do not matter.
    let reply = writes::patch_as(
        &server,
        id,
        body,
        Some("application/merge-patch+json; charset=utf-8"),
        &[],
    )
    .await;
    assert_eq!(reply.expect_json(200)["full_name"], "Not Merged");
}

async fn a_patch_leaving_an_invalid_entry_is_refused_naming_the_fields(store: Store) {
    let server = store.start().await;
    let (id, _) = create(&server, &full_entry("Valid Before")).await;

    let patch = json!({
        "full_name": "",
        "emails": [{"email": "not an address"}],
        "phone_numbers": [{"country_code": 44, "local_number": "12a4"}],
        "addresses": [{"street_name": "Baker Street", "country": "United Kingdom"}]
    });
    refused(
        &server,
        id,
        patch.to_string().as_bytes(),
        &[
            "/full_name",
            "/emails/0/email",
            "/phone_numbers/0/local_number",
            "/addresses/0/pincode",
        ],
    )
    .await;

    // A value of the wrong type, and one member too many in a nested object.
    refused(
        &server,
        id,
        br#"{"fax_numbers": "none", "emails": [{"email": "a@example.org", "label": "x"}]}"#,
        &["/fax_numbers", "/emails/0/label"],
    )
    .await;

    // Malformed JSON.
    let before = current(&server, id).await;
    let reply = writes::patch_as(
        &server,
        id,
        b"{\"full_name\": ",
        Some(MERGE_PATCH_JSON),
        &[],
    )
    .await;
    reply.expect_problem(400);
    assert_eq!(current(&server, id).await, before);
}

async fn a_patch_removing_the_full_name_or_adding_unknown_members_is_refused(store: Store) {
    let server = store.start().await;
    let (id, _) = create(&server, &full_entry("Named Entry")).await;

    refused(&server, id, br#"{"full_name": null}"#, &["/full_name"]).await;
    refused(&server, id, br#"{"nickname": "Sherlock"}"#, &["/nickname"]).await;
    // What the server assigns is not the client's to patch.
    refused(
        &server,
        id,
        br#"{"id": "0192f0c1-7c1d-7b4e-9a57-3f1d2c3b4a5e"}"#,
        &["/id"],
    )
    .await;
    refused(
        &server,
        id,
        br#"{"created_at": "2026-11-21T09:30:00Z", "updated_at": null}"#,
        &["/created_at"],
    )
    .await;
}

async fn a_patch_that_is_not_an_object_is_refused(store: Store) {
    let server = store.start().await;
    let (id, _) = create(&server, &full_entry("Object Entry")).await;

    // RFC 7396 makes any non-object patch replace the whole target, which is never an entry.
    for patch in ["[1]", "[]", "\"x\"", "42", "true", "null"] {
        let before = current(&server, id).await;
        let reply =
            writes::patch_as(&server, id, patch.as_bytes(), Some(MERGE_PATCH_JSON), &[]).await;
        reply.expect_problem(400);
        assert_eq!(current(&server, id).await, before, "patch {patch}");
    }
}

async fn a_patch_of_a_missing_entry_gets_404(store: Store) {
    let server = store.start().await;
    let missing = Uuid::now_v7();

    let reply = writes::patch(&server, missing, &json!({"full_name": "Nobody"}), &[]).await;
    let problem = reply.expect_problem(404);
    assert_eq!(problem.problem_type(), "/problems/not-found");

    // Not even a UUID: still no entry.
    let reply = contract_tests::send(
        server
            .http()
            .patch(server.url("/addresses/not-a-uuid"))
            .header("content-type", MERGE_PATCH_JSON)
            .body(r#"{"full_name": "Nobody"}"#),
    )
    .await;
    reply.expect_problem(404);

    // A deleted entry.
    let (id, _) = create(&server, &minimal_entry("Deleted Entry")).await;
    assert_eq!(writes::delete(&server, id, &[]).await.status, 204);
    writes::patch(&server, id, &json!({"full_name": "Ghost"}), &[])
        .await
        .expect_problem(404);
    assert!(
        contract_tests::fixtures::list_all(&server.client())
            .await
            .is_empty(),
        "a patch of a missing entry created one"
    );
}

async fn the_typed_client_patches_by_setting_leaving_and_clearing(store: Store) {
    // Arrange
    let server = store.start().await;
    let client = server.client();
    let original = full_entry("John Watson");
    let (id, _) = create(&server, &original).await;
    let email: types::EmailAddress =
        serde_json::from_value(json!({"kind": "home", "email": "john@example.org"}))
            .expect("a valid e-mail address");

    // Act: set the name and the e-mails, clear the fax numbers, leave the rest.
    let patch = EntryPatch::new()
        .full_name("Dr John H. Watson".parse().expect("a valid name"))
        .emails(vec![email])
        .clear_fax_numbers();
    let patched = client
        .patch_address()
        .id(id)
        .body(patch)
        .send()
        .await
        .expect("patch");

    // Assert
    assert_eq!(patched.status().as_u16(), 200);
    let tag = etag(patched.headers());
    let patched = serde_json::to_value(patched.into_inner()).expect("an entry serializes");
    let mut expected = as_stored(&original);
    expected["full_name"] = json!("Dr John H. Watson");
    expected["emails"] = json!([{"kind": "home", "email": "john@example.org"}]);
    expected["fax_numbers"] = json!([]);
    assert_eq!(content_of_json(&patched), expected);
    assert_eq!(current(&server, id).await.1, tag);

    // With If-Match: the stale tag is refused with the declared problem, the current one works.
    let path = entry_path(id);
    let problem = expect_typed_problem(
        client
            .patch_address()
            .id(id)
            .if_match("\"no-such-tag\"")
            .body(EntryPatch::new().clear_addresses())
            .send()
            .await,
        412,
        "PATCH",
        &path,
    );
    assert_eq!(problem.type_, "/problems/precondition-failed");
    let cleared = client
        .patch_address()
        .id(id)
        .if_match(tag.as_str())
        .body(EntryPatch::new().clear_addresses())
        .send()
        .await
        .expect("patch with the current tag");
    assert!(cleared.addresses.is_empty());
    assert_eq!(cleared.full_name.as_str(), "Dr John H. Watson");

    // A patch of a missing entry is the declared 404.
    let missing = Uuid::now_v7();
    let problem = expect_typed_problem(
        client
            .patch_address()
            .id(missing)
            .body(EntryPatch::new().clear_emails())
            .send()
            .await,
        404,
        "PATCH",
        &entry_path(missing),
    );
    assert_eq!(problem.type_, "/problems/not-found");
}

async fn concurrent_patches_of_different_members_both_apply(store: Store) {
    // Arrange
    let server = store.start().await;
    let (id, _) = create(&server, &full_entry("Busy Entry")).await;

    for round in 0..20 {
        // Act: two clients patch different members at the same moment, without If-Match.
        let emails = json!([{"email": format!("round{round}@example.org")}]);
        let phones = json!([{"country_code": 44, "local_number": format!("{round:04}")}]);
        let (email_patch, phone_patch) =
            (json!({"emails": emails}), json!({"phone_numbers": phones}));
        let (a, b) = tokio::join!(
            writes::patch(&server, id, &email_patch, &[]),
            writes::patch(&server, id, &phone_patch, &[]),
        );

        // Assert: each patch applied to the entry as the other left it; neither is lost.
        a.expect_json(200);
        b.expect_json(200);
        let (entry, _) = current(&server, id).await;
        assert_eq!(
            entry["emails"], emails,
            "round {round}: the e-mail patch was lost"
        );
        assert_eq!(
            entry["phone_numbers"], phones,
            "round {round}: the phone patch was lost"
        );
        assert_eq!(entry["full_name"], "Busy Entry");
    }
}
