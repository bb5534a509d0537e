//! Walks through every operation of the address-book API with the generated client.
//!
//! ```text
//! cargo run -p addressbook-client --example walkthrough -- http://127.0.0.1:8080
//! ```
//!
//! It creates one entry and deletes it again; other entries on the server are only listed.
//! Along the way it shows an idempotent create sent twice, conditional reads and writes with
//! `ETag`, `If-None-Match` and `If-Match` (including the 412 a stale tag gets), a merge patch,
//! and a search.

use addressbook_client::reqwest::header::{ETAG, HeaderMap, LINK, LOCATION};
use addressbook_client::{Client, EntryPatch, Error, SortOrder, is_not_modified, types};

type BoxError = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let base_url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let client = Client::new(&base_url);
    println!("server: {base_url}");

    // Liveness, then readiness: a server that is up but cannot reach its storage answers 503
    // with a typed `NotReady` problem, which is worth showing rather than failing on.
    let health = client.get_health().send().await?;
    println!("alive, up for {:.1} s", health.uptime);
    match client.get_readiness().send().await {
        Ok(ready) => println!("ready: {}", ready.ready),
        Err(Error::ErrorResponse(not_ready)) => {
            return Err(format!("server not ready: {}", not_ready.detail).into());
        }
        Err(other) => return Err(other.into()),
    }

    // Create. Fields are checked against the schema when `send()` runs, before any request.
    let address = types::PostalAddress::builder()
        .kind(types::AddressKind::Home)
        .street_number(Some("221B".parse()?))
        .street_name("Baker Street")
        .city(Some("London".parse()?))
        .pincode("NW1 6XE")
        .country("United Kingdom");
    let phone = types::PhoneNumber::builder()
        .kind(types::PhoneKind::Mobile)
        .country_code(44)
        .area_code(Some("020".parse()?))
        .local_number("79460000");
    let email = types::EmailAddress::builder()
        .kind(types::AddressKind::Work)
        .email("sherlock@example.org");
    let input = types::EntryInput::builder()
        .full_name("Sherlock Holmes")
        .addresses(vec![address.try_into()?])
        .phone_numbers(vec![phone.try_into()?])
        .emails(vec![email.try_into()?]);
    // One key per entry, reused for every attempt: a repeat (after a timeout, say) returns the
    // original 201 instead of creating a second entry.
    let key = uuid::Uuid::new_v4().to_string();
    let created = client
        .create_address()
        .idempotency_key(key.as_str())
        .body(input.clone())
        .send()
        .await?;
    // Response headers are not part of the typed value; they are read from the ResponseValue.
    println!(
        "created {} (status {}, Location: {}, ETag: {}, request id: {})",
        created.id,
        created.status(),
        header(created.headers(), LOCATION.as_str()),
        header(created.headers(), ETAG.as_str()),
        header(created.headers(), "x-request-id"),
    );
    let id = created.id;
    let repeated = client
        .create_address()
        .idempotency_key(key.as_str())
        .body(input)
        .send()
        .await?;
    if repeated.id != id {
        return Err(format!("the repeated create made a second entry, {}", repeated.id).into());
    }
    println!(
        "repeated create with the same Idempotency-Key: status {}, same id",
        repeated.status()
    );

    let entry = client.get_address().id(id).send().await?;
    let etag = header(entry.headers(), ETAG.as_str()).to_owned();
    println!(
        "read {}: {} with {} address(es), created {}, ETag {etag}",
        entry.id,
        entry.full_name.as_str(),
        entry.addresses.len(),
        entry.created_at
    );

    // A re-read naming the current tag costs no body: 304, which arrives as an
    // `Error::UnexpectedResponse` (the generator types only 2xx and 4xx/5xx answers).
    match client
        .get_address()
        .id(id)
        .if_none_match(&etag)
        .send()
        .await
    {
        Err(e) if is_not_modified(&e) => println!("re-read with If-None-Match {etag}: 304"),
        Ok(fresh) => println!("changed meanwhile: now {}", fresh.full_name.as_str()),
        Err(other) => return Err(other.into()),
    }

    // Merge patch: the name changes, the fax numbers are removed (`null`), the rest stays.
    let patch = EntryPatch::new()
        .full_name("Sherlock Holmes, Consulting Detective".parse()?)
        .clear_fax_numbers();
    let patched = client
        .patch_address()
        .id(id)
        .if_match(&etag)
        .body(patch)
        .send()
        .await?;
    let stale = etag;
    let etag = header(patched.headers(), ETAG.as_str()).to_owned();
    println!(
        "patched: {} with {} phone number(s), ETag {stale} -> {etag}",
        patched.full_name.as_str(),
        patched.phone_numbers.len(),
    );

    // The old tag no longer matches: the server refuses with 412 and changes nothing.
    match client
        .patch_address()
        .id(id)
        .if_match(&stale)
        .body(EntryPatch::new().clear_emails())
        .send()
        .await
    {
        Err(Error::ErrorResponse(problem)) if problem.status() == 412 => println!(
            "patch with the stale ETag {stale}: {} {}",
            problem.status().as_u16(),
            problem.title
        ),
        Ok(_) => return Err("a patch with a stale ETag was applied".into()),
        Err(other) => return Err(other.into()),
    }

    // Replace: lists left out of the body become empty, so this drops the phone and e-mail.
    let replacement = types::EntryInput::builder()
        .full_name("Sherlock Holmes")
        .addresses(patched.addresses.clone());
    let replaced = client
        .replace_address()
        .id(id)
        .if_match(&etag)
        .body(replacement)
        .send()
        .await?;
    let etag = header(replaced.headers(), ETAG.as_str()).to_owned();
    println!("replaced (status {}, ETag {etag})", replaced.status());
    let entry = client.get_address().id(id).send().await?;
    println!(
        "now: {} with {} phone number(s), updated {}",
        entry.full_name.as_str(),
        entry.phone_numbers.len(),
        entry.updated_at
    );

    // Search: the same query and sort must go with every cursor of one walk.
    let found = client
        .list_addresses()
        .q("holmes")
        .city("London")
        .sort(SortOrder::UpdatedAtDescending) // `-updated_at`; `.sort("-updated_at")` works too
        .send()
        .await?;
    println!(
        "search for \"holmes\" in London, last changed first: {} on the first page, Link: {}",
        found.items.len(),
        header(found.headers(), LINK.as_str()),
    );

    // List two at a time, following `next_cursor` until the last page.
    let mut cursor: Option<String> = None;
    let mut pages = 0_usize;
    let mut seen = 0_usize;
    loop {
        let mut request = client.list_addresses().limit(2_u32);
        if let Some(cursor) = &cursor {
            request = request.cursor(cursor.as_str());
        }
        let page = request.send().await?.into_inner();
        pages += 1;
        seen += page.items.len();
        for item in &page.items {
            println!("  page {pages}: {} {}", item.id, item.full_name.as_str());
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    println!("listed {seen} entr(y/ies) in {pages} page(s)");

    // Sync the whole book through the change feed and keep its last token: a mirror's first sync.
    let mut token: Option<String> = None;
    loop {
        let mut request = client.list_changes().limit(100_u32);
        if let Some(token) = &token {
            request = request.sync_token(token.as_str());
        }
        let page = request.send().await?.into_inner();
        token = Some(page.next_sync_token);
        if !page.more {
            break;
        }
    }
    let token = token.expect("every answer has a token");

    let deleted = client
        .delete_address()
        .id(id)
        .if_match(&etag)
        .send()
        .await?;
    println!("deleted (status {})", deleted.status());

    // What changed since the sync: the deletion, as a tombstone.
    let since = client
        .list_changes()
        .sync_token(token.as_str())
        .send()
        .await?
        .into_inner();
    for change in &since.changes {
        println!(
            "  changed since the sync: {} {} at {}",
            change.kind, change.id, change.at
        );
    }

    // The entry is gone: the 404 is a declared response, so it arrives as a typed Problem.
    match client.get_address().id(id).send().await {
        Ok(entry) => Err(format!("entry {} still exists after delete", entry.id).into()),
        Err(Error::ErrorResponse(problem)) if problem.status() == 404 => {
            println!(
                "second get: {} {} ({}): {} [request id {}]",
                problem.status().as_u16(),
                problem.title,
                problem.type_,
                problem.detail,
                header(problem.headers(), "x-request-id"),
            );
            Ok(())
        }
        Err(other) => Err(other.into()),
    }
}

/// A response header as text, or `-` when it is missing or not visible ASCII.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-")
}
