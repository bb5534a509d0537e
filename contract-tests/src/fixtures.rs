//! Entries to write and ways to look at what was stored.

use std::collections::{HashMap, HashSet};

use addressbook_client::Client;
use addressbook_client::types::{Entry, EntryInput};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::binary::workspace_root;

/// The list members of an entry, which the server fills with `[]` when a client leaves them out.
pub const LIST_FIELDS: [&str; 5] = [
    "addresses",
    "phone_numbers",
    "fax_numbers",
    "emails",
    "labels",
];

/// An entry using every field the contract has, as JSON.
pub fn full_entry(full_name: &str) -> Value {
    json!({
        "full_name": full_name,
        "addresses": [{
            "kind": "home",
            "building_name": "Baskerville House",
            "unit_number": "4A",
            "street_number": "221B",
            "street_name": "Baker Street",
            "locality": "Marylebone",
            "city": "London",
            "province": "Greater London",
            "pincode": "NW1 6XE",
            "country": "United Kingdom"
        }],
        "phone_numbers": [{"kind": "mobile", "country_code": 44, "area_code": "020", "local_number": "0079460000"}],
        "fax_numbers": [{"kind": "work", "country_code": 44, "local_number": "79460001"}],
        "emails": [{"kind": "work", "email": "sherlock@example.org"}],
        "labels": ["Clients", "Baker Street"]
    })
}

/// The smallest valid entry, as JSON.
pub fn minimal_entry(full_name: &str) -> Value {
    json!({ "full_name": full_name })
}

/// JSON as the typed client's input; panics if the client would refuse it.
pub fn typed(input: &Value) -> EntryInput {
    serde_json::from_value(input.clone())
        .unwrap_or_else(|err| panic!("{input} is not a valid EntryInput: {err}"))
}

/// What the server should store for `input`: the input with absent lists as `[]`.
pub fn as_stored(input: &Value) -> Value {
    let mut stored = input.clone();
    for field in LIST_FIELDS {
        if stored.get(field).is_none() {
            stored[field] = json!([]);
        }
    }
    stored
}

/// An entry without what the server assigns (`id`, `created_at`, `updated_at`), comparable with
/// [`as_stored`].
pub fn content_of(entry: &Entry) -> Value {
    let mut value = serde_json::to_value(entry).expect("an entry serializes");
    let object = value.as_object_mut().expect("an entry is an object");
    for key in ["id", "created_at", "updated_at"] {
        object.remove(key);
    }
    value
}

/// An entry as the server sent it (raw JSON) without what the server assigns, comparable with
/// [`as_stored`] byte for byte: nothing passes through the typed client's types.
pub fn content_of_json(entry: &Value) -> Value {
    let mut content = entry.clone();
    let object = content
        .as_object_mut()
        .unwrap_or_else(|| panic!("{entry}: an entry is an object"));
    for key in ["id", "created_at", "updated_at"] {
        object.remove(key);
    }
    content
}

/// A whole entry as JSON, for comparing two reads of it.
pub fn to_json(entry: &Entry) -> Value {
    serde_json::to_value(entry).expect("an entry serializes")
}

/// Creates `count` minimal entries named `{prefix} {n}`, `concurrency` at a time, and returns
/// them in no particular order.
pub async fn create_many(
    client: &Client,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> Vec<Entry> {
    stream::iter(0..count)
        .map(|n| async move {
            client
                .create_address()
                .body(typed(&minimal_entry(&format!("{prefix} {n}"))))
                .send()
                .await
                .map(|created| created.into_inner())
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await
        .unwrap_or_else(|err| panic!("creating {count} entries failed: {err:?}"))
}

/// Every entry, by walking all pages of 100 with the client's page stream.
pub async fn list_all(client: &Client) -> Vec<Entry> {
    client
        .list_addresses()
        .limit(100_u32)
        .stream()
        .try_collect()
        .await
        .unwrap_or_else(|err| panic!("listing failed: {err:?}"))
}

/// The sample entries shipped in `data/addresses/`, with their file names.
pub fn sample_entries() -> Vec<(String, Value)> {
    json_files("data/addresses")
}

/// The invalid sample entries shipped in `data/invalid/`, with their file names.
pub fn invalid_samples() -> Vec<(String, Value)> {
    json_files("data/invalid")
}

fn json_files(dir: &str) -> Vec<(String, Value)> {
    let dir = workspace_root().join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("{} is not JSON: {err}", path.display()));
            let name = path
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            (name, value)
        })
        .collect()
}

/// The ids a walk over a listing saw, checked against what was written during it: each id at
/// most once; every original that was not deleted during the walk seen; nothing seen that is
/// neither an original nor `added` during the walk (where an entry may or may not be seen).
pub fn assert_walk_saw_each_once(
    seen: &[Uuid],
    originals: &HashSet<Uuid>,
    deleted: &HashSet<Uuid>,
    added: &HashSet<Uuid>,
) {
    let mut times_seen: HashMap<Uuid, usize> = HashMap::new();
    for id in seen {
        *times_seen.entry(*id).or_default() += 1;
    }
    let repeated: Vec<_> = times_seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "entries seen more than once: {repeated:?}"
    );
    let missed: Vec<_> = originals
        .iter()
        .filter(|id| !deleted.contains(id) && !times_seen.contains_key(id))
        .collect();
    assert!(
        missed.is_empty(),
        "entries that existed for the whole walk but were not seen: {missed:?}"
    );
    let strangers: Vec<_> = times_seen
        .keys()
        .filter(|id| !originals.contains(id) && !added.contains(id))
        .collect();
    assert!(
        strangers.is_empty(),
        "entries that neither existed nor were added (or do not match): {strangers:?}"
    );
}
