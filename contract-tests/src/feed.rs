//! Following the change feed the way a mirroring client does.
//!
//! On PostgreSQL a change shows in the feed once every write transaction older than it has
//! ended, anywhere on the database server: the parallel tests of this suite share one, so a
//! change may show a few milliseconds after its write was acknowledged. Tests that expect changes
//! therefore ask until they have them ([`sync_expecting`]); the order and content they then
//! assert are exact.

use std::time::{Duration, Instant};

use addressbook_client::{Client, types};

/// How long [`sync_expecting`] waits for changes it was told to expect.
const SETTLE: Duration = Duration::from_secs(10);

/// Follows the feed from `token` (from the start without one) until it has caught up: every
/// change in order and the token to ask with next time. Each page is checked to hold at most
/// `limit`.
pub async fn sync(
    client: &Client,
    token: Option<&str>,
    limit: u32,
) -> (Vec<types::Change>, String) {
    let mut changes = Vec::new();
    let mut token = token.map(str::to_owned);
    loop {
        let mut request = client.list_changes().limit(limit);
        if let Some(token) = &token {
            request = request.sync_token(token.as_str());
        }
        let page = request
            .send()
            .await
            .expect("a page of changes")
            .into_inner();
        assert!(
            page.changes.len() <= limit as usize,
            "a page holds at most its limit"
        );
        changes.extend(page.changes);
        let next = page.next_sync_token;
        if !page.more {
            return (changes, next);
        }
        token = Some(next);
    }
}

/// [`sync`] from `token`, again from the same token until at least `count` changes arrived (or
/// ten seconds passed: what arrived by then is returned, for the caller's assertion to show).
pub async fn sync_expecting(
    client: &Client,
    token: Option<&str>,
    limit: u32,
    count: usize,
) -> (Vec<types::Change>, String) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let (changes, next) = sync(client, token, limit).await;
        if changes.len() >= count || Instant::now() > deadline {
            return (changes, next);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
