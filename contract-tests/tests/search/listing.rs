//! Listing through raw HTTP, following and checking every page's `Link` header, and through the
//! typed client, passing every `next_cursor` back.

use std::collections::HashMap;
use std::time::Duration;

use addressbook_client::Client;
use addressbook_client::types::Entry;
use contract_tests::{Reply, TestServer, send};
use reqwest::Url;
use serde_json::Value;
use tokio::sync::watch;

/// No walk in these tests is longer than this many pages.
pub const MAX_PAGES: usize = 1_000;

/// `/addresses?…` with `params` encoded as a browser would.
pub fn list_url(server: &TestServer, params: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&server.url("/addresses")).expect("a valid URL");
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    url.to_string()
}

pub async fn list(server: &TestServer, params: &[(&str, &str)]) -> Reply {
    send(server.http().get(list_url(server, params))).await
}

/// The relative URL in a page's `Link: <…>; rel="next"`, checked against the page: it carries
/// the page's `next_cursor` and every search, sort and limit parameter of the request.
pub fn next_link(reply: &Reply, page: &Value, params: &[(&str, &str)]) -> Option<String> {
    let link = reply.header("link");
    let Some(cursor) = page["next_cursor"].as_str() else {
        assert_eq!(page["next_cursor"], Value::Null, "{reply:?}");
        assert_eq!(link, None, "{reply:?}: the last page has no Link");
        return None;
    };
    let link = link.unwrap_or_else(|| panic!("{reply:?}: a page with a next one has a Link"));
    let (target, query) = parse_link(link);
    assert_eq!(
        query.get("cursor").map(String::as_str),
        Some(cursor),
        "{link:?}"
    );
    for (name, value) in params.iter().filter(|(name, _)| *name != "cursor") {
        assert_eq!(
            query.get(*name).map(String::as_str),
            Some(*value),
            "{link:?}: the next page must repeat `{name}`"
        );
    }
    Some(target)
}

/// The relative URL in `<…>; rel="next"` and its query parameters, decoded.
pub fn parse_link(link: &str) -> (String, HashMap<String, String>) {
    let target = link
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("{link:?} is not `<…>; rel=\"next\"`"));
    assert!(
        target.starts_with("/addresses?"),
        "{link:?}: the next page is relative to the server, under /addresses"
    );
    let url = Url::parse(&format!("http://server{target}")).expect("a valid URL");
    (target.to_owned(), url.query_pairs().into_owned().collect())
}

/// Every page of the listing `params`, following `Link` headers; the entries in page order.
pub async fn walk_links(server: &TestServer, params: &[(&str, &str)]) -> Vec<Entry> {
    let mut url = list_url(server, params);
    let mut seen = Vec::new();
    for _ in 0..MAX_PAGES {
        let reply = send(server.http().get(&url)).await;
        let page = reply.expect_json(200);
        let items: Vec<Entry> =
            serde_json::from_value(page["items"].clone()).expect("a page of entries");
        if let Some(limit) = params.iter().find(|(name, _)| *name == "limit") {
            let limit: usize = limit.1.parse().expect("a numeric limit");
            assert!(items.len() <= limit, "{reply:?}");
        }
        let next = next_link(&reply, &page, params);
        assert!(
            !items.is_empty() || next.is_none(),
            "{reply:?}: an empty page that is not the last"
        );
        seen.extend(items);
        match next {
            Some(target) => url = server.url(&target),
            None => return seen,
        }
    }
    panic!("more than {MAX_PAGES} pages for {params:?}")
}

/// Every page of a search through the typed client, passing `next_cursor` back as `cursor`.
pub async fn walk_cursors(
    client: &Client,
    q: Option<&str>,
    sort: &str,
    limit: u32,
    mut progress: Option<watch::Receiver<u64>>,
) -> Vec<Entry> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut request = client.list_addresses().limit(limit).sort(sort);
        if let Some(q) = q {
            request = request.q(q);
        }
        if let Some(cursor) = &cursor {
            request = request.cursor(cursor.as_str());
        }
        let page = request.send().await.expect("a page").into_inner();
        assert!(page.items.len() <= limit as usize, "{page:?}");
        seen.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return seen,
        }
        if let Some(progress) = progress.as_mut() {
            // A writer that has stopped no longer holds the walk back.
            let _ = tokio::time::timeout(Duration::from_secs(2), progress.changed()).await;
        }
    }
    panic!("more than {MAX_PAGES} pages for q={q:?} sort={sort}")
}

/// Asserts `reply` is a 400 naming the parameter `name`.
pub fn expect_invalid_parameter(reply: &Reply, name: &str) {
    let problem = reply.expect_problem(400);
    assert_eq!(
        problem.problem_type(),
        "/problems/invalid-parameter",
        "{reply:?}"
    );
    assert_eq!(
        problem
            .errors()
            .first()
            .and_then(|e| e.parameter.as_deref()),
        Some(name),
        "{reply:?}"
    );
}
