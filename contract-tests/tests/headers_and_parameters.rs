//! Headers and query parameters that are malformed, sent raw: each is refused with a 400 problem
//! naming it, before anything is read or written, and never silently ignored (an ignored
//! `If-Match` would let a write through unconditionally; an ignored `Idempotency-Key` would make
//! a retry create a second entry).

use contract_tests::fixtures::{full_entry, minimal_entry};
use contract_tests::writes::{self, IDEMPOTENCY_KEY, IF_MATCH, IF_NONE_MATCH, current, etag};
use contract_tests::{Problem, Reply, Store, TestServer, send};
use reqwest::header::HeaderValue;
use serde_json::json;
use uuid::Uuid;

contract_tests::engines!(
    a_malformed_if_match_is_a_400_naming_it_and_writes_nothing,
    a_non_ascii_precondition_or_key_is_refused_not_ignored,
    a_malformed_if_none_match_is_a_400_naming_it,
    a_patch_that_can_never_apply_is_a_400_even_with_a_stale_if_match,
    a_control_character_in_any_text_parameter_is_a_400_naming_it,
    a_bad_sort_or_limit_is_explained_in_the_api_s_words,
);

/// `If-Match` values that are not `*` or a list of entity tags.
const MALFORMED_TAGS: [&str; 6] = ["3", "\"3", "\"3\" \"4\"", "*, \"3\"", "w/\"3\"", "\"a b\""];

fn expect_invalid_header(reply: &Reply, header: &str) -> Problem {
    let problem = reply.expect_problem(400);
    assert_eq!(
        problem.problem_type(),
        "/problems/invalid-header",
        "{reply:?}"
    );
    assert_eq!(
        problem.errors()[0].parameter.as_deref(),
        Some(header),
        "{reply:?}"
    );
    problem
}

async fn created(server: &TestServer) -> (Uuid, String) {
    let reply = writes::create(server, &full_entry("Guarded Entry"), &[]).await;
    let id = reply.expect_json(201)["id"]
        .as_str()
        .expect("an id")
        .parse()
        .expect("a UUID");
    (id, etag(&reply.headers))
}

async fn a_malformed_if_match_is_a_400_naming_it_and_writes_nothing(store: Store) {
    let server = store.start().await;
    let (id, _) = created(&server).await;
    let before = current(&server, id).await;

    for header in MALFORMED_TAGS {
        let headers = [(IF_MATCH, header)];
        let put = writes::put(&server, id, &minimal_entry("Unguarded"), &headers).await;
        expect_invalid_header(&put, "If-Match");
        let patch = writes::patch(&server, id, &json!({"full_name": "Unguarded"}), &headers).await;
        expect_invalid_header(&patch, "If-Match");
        let delete = writes::delete(&server, id, &headers).await;
        expect_invalid_header(&delete, "If-Match");
        assert_eq!(current(&server, id).await, before, "If-Match: {header}");
    }
}

async fn a_non_ascii_precondition_or_key_is_refused_not_ignored(store: Store) {
    let server = store.start().await;
    let (id, _) = created(&server).await;
    let before = current(&server, id).await;
    let non_ascii = HeaderValue::from_bytes("\"caf\u{e9}\"".as_bytes()).expect("obs-text");

    let put = send(
        server
            .http()
            .put(server.url(&writes::entry_path(id)))
            .header(IF_MATCH, non_ascii.clone())
            .json(&minimal_entry("Unguarded")),
    )
    .await;
    expect_invalid_header(&put, "If-Match");
    let delete = send(
        server
            .http()
            .delete(server.url(&writes::entry_path(id)))
            .header(IF_MATCH, non_ascii.clone()),
    )
    .await;
    expect_invalid_header(&delete, "If-Match");
    assert_eq!(current(&server, id).await, before);

    // A key that is not printable ASCII: refused, and nothing created.
    let create = send(
        server
            .http()
            .post(server.url("/addresses"))
            .header(IDEMPOTENCY_KEY, non_ascii)
            .json(&minimal_entry("Unkeyed")),
    )
    .await;
    expect_invalid_header(&create, "Idempotency-Key");
    let listed = send(server.http().get(server.url("/addresses"))).await;
    assert_eq!(
        listed.expect_json(200)["items"].as_array().map(Vec::len),
        Some(1)
    );
}

async fn a_malformed_if_none_match_is_a_400_naming_it(store: Store) {
    let server = store.start().await;
    let (id, tag) = created(&server).await;

    for header in MALFORMED_TAGS {
        let reply = writes::get(&server, id, &[(IF_NONE_MATCH, header)]).await;
        expect_invalid_header(&reply, "If-None-Match");
    }
    // Well-formed, the same tag still gets its 304.
    let reply = writes::get(&server, id, &[(IF_NONE_MATCH, &tag)]).await;
    assert_eq!(reply.status, 304, "{reply:?}");
}

async fn a_patch_that_can_never_apply_is_a_400_even_with_a_stale_if_match(store: Store) {
    let server = store.start().await;
    let (id, stale) = created(&server).await;
    let reply = writes::put(&server, id, &full_entry("Changed Since"), &[]).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    let before = current(&server, id).await;

    // A failure detectable before processing takes precedence over the precondition (RFC 9110,
    // 13.2.1): the patch is refused for what it is, whatever the entry's version.
    let reply = writes::patch(
        &server,
        id,
        &json!({"emails": [null]}),
        &[(IF_MATCH, &stale)],
    )
    .await;
    let problem = reply.expect_problem(400);
    assert_eq!(problem.problem_type(), "/problems/validation-failed");
    problem.expect_pointers(&["/emails/0"]);
    assert_eq!(current(&server, id).await, before);

    // A valid patch with the same stale tag is a 412.
    let reply = writes::patch(&server, id, &json!({"emails": null}), &[(IF_MATCH, &stale)]).await;
    reply.expect_problem(412);
}

async fn a_control_character_in_any_text_parameter_is_a_400_naming_it(store: Store) {
    let server = store.start().await;
    created(&server).await;

    for parameter in ["q", "city", "country", "cursor"] {
        for value in ["a\u{0}b", "\u{0}", "a\u{1f}", "\u{7f}"] {
            let query = serde_urlencoded::to_string([(parameter, value)]).expect("encodes");
            let reply = send(
                server
                    .http()
                    .get(server.url(&format!("/addresses?{query}"))),
            )
            .await;
            let problem = reply.expect_problem(400);
            assert_eq!(
                problem.problem_type(),
                "/problems/invalid-parameter",
                "{reply:?}"
            );
            assert_eq!(
                problem.errors()[0].parameter.as_deref(),
                Some(parameter),
                "{reply:?}"
            );
        }
    }
    let health = send(server.http().get(server.url("/readiness"))).await;
    assert_eq!(health.status, 200, "{health:?}");
}

async fn a_bad_sort_or_limit_is_explained_in_the_api_s_words(store: Store) {
    let server = store.start().await;

    let cases = [
        (
            "sort=name",
            "sort",
            "must be one of: full_name, -full_name, created_at, -created_at, updated_at, -updated_at",
        ),
        ("limit=0", "limit", "must be an integer from 1 to 100"),
    ];
    for (query, parameter, reason) in cases {
        let reply = send(
            server
                .http()
                .get(server.url(&format!("/addresses?{query}"))),
        )
        .await;
        let problem = reply.expect_problem(400);
        let field = &problem.errors()[0];
        assert_eq!(field.parameter.as_deref(), Some(parameter), "{reply:?}");
        // The reason alone: nothing of the framework's parsing (type names, "occurred while").
        assert_eq!(field.reason, reason, "{reply:?}");
        assert_eq!(
            problem.detail(),
            format!("The parameter `{parameter}` {reason}."),
            "{reply:?}"
        );
    }
}
