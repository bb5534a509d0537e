//! The generated client as another service uses it, against the real server: a base URL written
//! with a trailing slash, problems matched by kind and reported in one line with their request
//! id, an entry read and put back, headers read typed.

use addressbook_client::futures::TryStreamExt as _;
use addressbook_client::{Client, ProblemKind, ResponseHeaders as _, describe, problem_of, types};
use contract_tests::Store;
use contract_tests::fixtures::{full_entry, typed};
use uuid::Uuid;

contract_tests::engines!(
    a_base_url_with_a_trailing_slash_reaches_the_service,
    a_problem_is_matched_by_kind_and_reported_in_one_line,
    an_entry_read_is_put_back_with_its_etag,
    the_page_stream_walks_every_page_once_in_order,
);

async fn a_base_url_with_a_trailing_slash_reaches_the_service(store: Store) {
    let server = store.start().await;
    let client = Client::try_new(&format!("{}/", server.base_url())).expect("a usable URL");

    let page = client.list_addresses().send().await;

    assert!(page.is_ok(), "{:?}", page.err().map(|err| describe(&err)));
}

async fn a_problem_is_matched_by_kind_and_reported_in_one_line(store: Store) {
    let server = store.start().await;
    let missing = Uuid::now_v7();

    let err = server
        .client()
        .get_address()
        .id(missing)
        .send()
        .await
        .expect_err("no such entry");

    let problem = problem_of(&err).expect("a problem document");
    assert_eq!(problem.kind(), ProblemKind::NotFound);
    let line = describe(&err);
    assert!(!line.contains('\n'), "{line}");
    assert!(
        line.starts_with("404 Not Found (/problems/not-found): No entry has this id."),
        "{line}"
    );
    assert!(
        line.contains(&format!("GET /addresses/{missing}")),
        "{line}"
    );
    assert!(line.contains("request id "), "{line}");
    assert!(!line.contains("request id none"), "{line}");
}

async fn an_entry_read_is_put_back_with_its_etag(store: Store) {
    let server = store.start().await;
    let client = server.client();
    let created = client
        .create_address()
        .body(typed(&full_entry("Put Back")))
        .send()
        .await
        .expect("created");
    let location = created.location().expect("Location").to_owned();

    let read = client
        .get_address()
        .id(created.id)
        .send()
        .await
        .expect("read");
    let etag = read.etag().expect("ETag").to_owned();
    let mut input = types::EntryInput::from(read.into_inner());
    input.emails.clear();
    let replaced = client
        .replace_address()
        .id(created.id)
        .if_match(etag.as_str())
        .body(input)
        .send()
        .await
        .expect("replaced with the tag just read");

    assert_eq!(location, format!("/addresses/{}", created.id));
    assert_ne!(replaced.etag(), Some(etag.as_str()));
    assert!(replaced.request_id().is_some());
    let now = client
        .get_address()
        .id(created.id)
        .send()
        .await
        .expect("read");
    assert!(now.emails.is_empty());
    assert!(!now.addresses.is_empty(), "the rest of the entry is kept");
}

async fn the_page_stream_walks_every_page_once_in_order(store: Store) {
    let server = store.start().await;
    let client = server.client();
    contract_tests::fixtures::create_many(&client, "Streamed", 11, 4).await;
    contract_tests::fixtures::create_many(&client, "Other", 3, 2).await;

    // Pages of 3: four pages for the 11 that match, the last one short.
    let streamed: Vec<types::Entry> = client
        .list_addresses()
        .q("streamed")
        .sort(addressbook_client::SortOrder::FullName)
        .limit(3_u32)
        .stream()
        .try_collect()
        .await
        .expect("every page");

    let names: Vec<&str> = streamed.iter().map(|e| e.full_name.as_str()).collect();
    let mut expected: Vec<String> = (0..11).map(|n| format!("Streamed {n}")).collect();
    expected.sort();
    assert_eq!(names, expected);

    // A failing page ends the stream with its problem.
    let err = client
        .list_addresses()
        .cursor("not-a-cursor")
        .stream()
        .try_collect::<Vec<_>>()
        .await
        .expect_err("a forged cursor");
    assert_eq!(
        problem_of(&err).map(|p| p.kind()),
        Some(ProblemKind::InvalidParameter),
        "{}",
        describe(&err)
    );
}
