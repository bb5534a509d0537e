//! The orders `sort` asks for, and walking the pages of a sorted search by `Link` header or by
//! cursor; cursors refused with other parameters or when edited.

use addressbook_client::types::Entry;
use contract_tests::fixtures::{minimal_entry, typed};
use contract_tests::{Store, send};
use serde_json::Value;

use crate::book::seed;
use crate::expected::{found_by, ids, names, sorted};
use crate::listing::{
    expect_invalid_parameter, list, next_link, parse_link, walk_cursors, walk_links,
};

contract_tests::engines!(
    each_sort_order_lists_entries_in_that_order_ties_broken_by_id,
    walking_a_sorted_search_page_by_page_yields_each_match_once_in_order,
    the_link_header_names_the_next_page_and_following_it_gets_that_page,
    a_cursor_is_refused_with_another_search_or_sort,
    an_edited_cursor_is_refused,
    search_parameters_empty_or_too_long_are_refused,
);

/// Every sort order the contract declares.
const SORTS: [&str; 6] = [
    "full_name",
    "-full_name",
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
];

async fn each_sort_order_lists_entries_in_that_order_ties_broken_by_id(store: Store) {
    // Arrange
    let server = store.start().await;
    let book = seed(&server).await;

    for sort in SORTS {
        // Act: the whole book in one page, and in pages of 4.
        let one_page = walk_links(&server, &[("sort", sort), ("limit", "100")]).await;
        let pages = walk_links(&server, &[("sort", sort), ("limit", "4")]).await;

        // Assert
        let expected = sorted(&book, sort);
        assert_eq!(
            names(&book, &ids(&one_page)),
            names(&book, &expected),
            "sort={sort}"
        );
        assert_eq!(
            ids(&one_page),
            expected,
            "sort={sort}: ties must be broken by id"
        );
        assert_eq!(ids(&pages), expected, "sort={sort}, 4 a page");
    }

    // The orders this book was built to show: case does not matter, code points do.
    let by_name = names(&book, &sorted(&book, "full_name"));
    let position = |name: &str| by_name.iter().position(|n| n == name).expect("listed");
    let adas = [
        position("ada lovelace"),
        position("Ada Lovelace"),
        position("ADA LOVELACE"),
    ];
    assert_eq!(
        adas.iter().max().expect("three") - adas.iter().min().expect("three"),
        2,
        "names equal but for case sort together: {by_name:?}"
    );
    assert!(position("Zoe Ball") < position("Émile Zola"), "{by_name:?}");
    assert_eq!(
        sorted(&book, "-full_name"),
        sorted(&book, "full_name")
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
    );
    // Without `sort`, oldest first.
    assert_eq!(
        ids(&walk_links(&server, &[("limit", "100")]).await),
        sorted(&book, "created_at")
    );
    assert_ne!(
        sorted(&book, "updated_at"),
        sorted(&book, "created_at"),
        "the book was meant to be updated out of creation order"
    );
}

async fn walking_a_sorted_search_page_by_page_yields_each_match_once_in_order(store: Store) {
    // Arrange
    let server = store.start().await;
    let book = seed(&server).await;
    let client = server.client();

    for (q, sort) in [
        ("a", "full_name"),
        ("a", "-full_name"),
        ("ada", "-full_name"),
        ("example", "created_at"),
        ("example", "-created_at"),
        ("5", "updated_at"),
        ("5", "-updated_at"),
    ] {
        let matching: Vec<Entry> = book.iter().filter(|e| found_by(e, q)).cloned().collect();
        let expected = sorted(&matching, sort);
        assert!(
            expected.len() >= 3,
            "q={q} matches too little to page through"
        );
        for limit in [1_u32, 2, 3] {
            // Act: by Link headers, and by cursors through the typed client.
            let limit_text = limit.to_string();
            let by_links =
                walk_links(&server, &[("q", q), ("sort", sort), ("limit", &limit_text)]).await;
            let by_cursors = walk_cursors(&client, Some(q), sort, limit, None).await;

            // Assert
            assert_eq!(ids(&by_links), expected, "q={q} sort={sort} limit={limit}");
            assert_eq!(
                ids(&by_cursors),
                expected,
                "q={q} sort={sort} limit={limit}"
            );
        }
    }
}

async fn the_link_header_names_the_next_page_and_following_it_gets_that_page(store: Store) {
    // Arrange
    let server = store.start().await;
    seed(&server).await;
    let params = [
        ("q", "ada lo"),
        ("sort", "-full_name"),
        ("limit", "2"),
        ("country", "United Kingdom"),
    ];

    // Act: the first page; the second by its Link and by its cursor.
    let first = list(&server, &params[..3]).await;
    let first_page = first.expect_json(200);
    let target = next_link(&first, &first_page, &params[..3]).expect("three Adas: a second page");
    let by_link = send(server.http().get(server.url(&target))).await;
    let cursor = first_page["next_cursor"].as_str().expect("a cursor");
    let mut with_cursor = params[..3].to_vec();
    with_cursor.push(("cursor", cursor));
    let by_cursor = list(&server, &with_cursor).await;

    // Assert: the same second page, which is the last.
    let second_page = by_link.expect_json(200);
    assert_eq!(second_page, by_cursor.expect_json(200));
    assert_eq!(second_page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(next_link(&by_link, &second_page, &params[..3]), None);
    assert_eq!(by_link.header("link"), None);

    // Text that must be escaped in a URL (`+`, spaces, `&`, non-ASCII) comes back through the
    // Link as it was sent.
    for q in ["+44 20 7946", "ada & co", "émile"] {
        let by_links = walk_links(&server, &[("q", q), ("limit", "1")]).await;
        let whole = walk_links(&server, &[("q", q), ("limit", "100")]).await;
        assert_eq!(ids(&by_links), ids(&whole), "q={q}");
    }

    // A page that is the only one has neither a cursor nor a Link; nor has an empty one.
    for params in [&params[..], &[("q", "nobody-at-all")][..]] {
        let reply = list(&server, params).await;
        let page = reply.expect_json(200);
        assert_eq!(page.get("next_cursor"), Some(&Value::Null), "{reply:?}");
        assert_eq!(reply.header("link"), None, "{reply:?}");
    }

    // The typed client sees the header too.
    let page = server
        .client()
        .list_addresses()
        .q("ada lo")
        .sort("-full_name")
        .limit(2_u32)
        .send()
        .await
        .expect("a page");
    let link = page
        .headers()
        .get(reqwest::header::LINK)
        .and_then(|v| v.to_str().ok())
        .expect("a Link header");
    let (_, query) = parse_link(link);
    assert_eq!(query.get("cursor"), page.next_cursor.as_ref(), "{link}");
}

async fn a_cursor_is_refused_with_another_search_or_sort(store: Store) {
    // Arrange: a cursor for the second page of q=holm, sort=full_name, city=London.
    let server = store.start().await;
    seed(&server).await;
    let issued_for = [("q", "holm"), ("sort", "full_name"), ("city", "London")];
    let mut first_request = issued_for.to_vec();
    first_request.push(("limit", "1"));
    let first = list(&server, &first_request).await.expect_json(200);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let with = |params: &[(&'static str, &'static str)]| {
        let mut params = params.to_vec();
        params.push(("cursor", cursor.as_str()));
        params
    };

    // Act and assert: the same search and sort (with any limit) are fine...
    for limit in ["1", "50"] {
        let mut same = with(&issued_for);
        same.push(("limit", limit));
        list(&server, &same).await.expect_json(200);
    }
    // ...any other search or sort is not.
    for params in [
        &[("q", "holmes"), ("sort", "full_name"), ("city", "London")][..],
        &[("q", "sher"), ("sort", "full_name"), ("city", "London")],
        &[("sort", "full_name"), ("city", "London")],
        &[("q", "holm"), ("sort", "-full_name"), ("city", "London")],
        &[("q", "holm"), ("sort", "created_at"), ("city", "London")],
        &[("q", "holm"), ("city", "London")],
        &[("q", "holm"), ("sort", "full_name"), ("city", "Paris")],
        &[("q", "holm"), ("sort", "full_name")],
        &[
            ("q", "holm"),
            ("sort", "full_name"),
            ("city", "London"),
            ("country", "United Kingdom"),
        ],
        &[],
    ] {
        let reply = list(&server, &with(params)).await;
        expect_invalid_parameter(&reply, "cursor");
    }
}

async fn an_edited_cursor_is_refused(store: Store) {
    // Arrange
    let server = store.start().await;
    seed(&server).await;
    let params = [("q", "a"), ("sort", "-updated_at"), ("limit", "2")];
    let first = list(&server, &params).await.expect_json(200);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();

    // Act and assert: one character changed anywhere, one cut off or added.
    let mut edited = Vec::new();
    let chars: Vec<char> = cursor.chars().collect();
    for at in [
        0,
        chars.len() / 4,
        chars.len() / 2,
        chars.len() * 3 / 4,
        chars.len() - 1,
    ] {
        let mut changed = chars.clone();
        changed[at] = if changed[at] == 'A' { 'B' } else { 'A' };
        edited.push(changed.into_iter().collect::<String>());
    }
    edited.push(cursor[..cursor.len() - 1].to_owned());
    edited.push(format!("{cursor}A"));
    edited.push(cursor.replace('.', ""));
    for edited in edited {
        assert_ne!(edited, cursor);
        let mut with = params.to_vec();
        with.push(("cursor", &edited));
        let reply = list(&server, &with).await;
        expect_invalid_parameter(&reply, "cursor");
    }
    let mut unedited = params.to_vec();
    unedited.push(("cursor", &cursor));
    list(&server, &unedited).await.expect_json(200);
}

async fn search_parameters_empty_or_too_long_are_refused(store: Store) {
    let server = store.start().await;
    server
        .client()
        .create_address()
        .body(typed(&minimal_entry("Only Entry")))
        .send()
        .await
        .expect("create");

    for (name, max) in [("q", 200), ("city", 100), ("country", 100)] {
        // At the limit, counted in characters: fine.
        for longest in ["a".repeat(max), "é".repeat(max)] {
            list(&server, &[(name, &longest)]).await.expect_json(200);
        }
        // Empty or past it: refused, naming the parameter.
        for value in [String::new(), "a".repeat(max + 1), "é".repeat(max + 1)] {
            let reply = list(&server, &[(name, &value)]).await;
            expect_invalid_parameter(&reply, name);
        }
    }
    for sort in [
        "name",
        "FULL_NAME",
        "+full_name",
        "full_name,-created_at",
        "",
    ] {
        let reply = list(&server, &[("sort", sort)]).await;
        expect_invalid_parameter(&reply, "sort");
    }
}
