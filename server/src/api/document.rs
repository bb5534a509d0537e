//! Response bodies whose JSON is already written: an entry as storage keeps it
//! ([`EntryDocument::to_json`]) and pages of such entries, sent without being parsed and written
//! again. Declared with the schema type they conform to, so the generated document is the same
//! as for a typed body; `schema.rs` tests that the two write the same JSON.

use std::marker::PhantomData;

use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;

use super::headers::entity_tag;
use crate::domain::{Change, Entry, EntryDocument, write_rfc3339};

/// A JSON body conforming to the schema of `T`.
pub struct JsonDocument<T> {
    json: String,
    schema: PhantomData<T>,
}

impl<T> JsonDocument<T> {
    fn new(json: String) -> Self {
        Self {
            json,
            schema: PhantomData,
        }
    }
}

impl JsonDocument<super::schema::Entry> {
    pub fn entry(entry: &EntryDocument) -> Self {
        Self::new(entry.to_json())
    }

    pub fn new_entry(entry: &Entry) -> Self {
        Self::entry(&EntryDocument::of(entry))
    }
}

impl JsonDocument<super::schema::EntryPage> {
    /// `{"items": [...], "next_cursor": ...}`.
    pub fn page(items: &[EntryDocument], next_cursor: Option<&str>) -> Self {
        let mut json =
            String::with_capacity(64 + items.iter().map(|i| i.content.len() + 160).sum::<usize>());
        json.push_str("{\"items\":[");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            item.write_json(&mut json);
        }
        json.push_str("],\"next_cursor\":");
        match next_cursor {
            Some(cursor) => {
                json.push_str(&serde_json::to_string(cursor).expect("a string always serializes"))
            }
            None => json.push_str("null"),
        }
        json.push('}');
        Self::new(json)
    }
}

impl JsonDocument<super::schema::ChangePage> {
    /// `{"changes": [...], "next_sync_token": ..., "more": ...}`, each entry as storage keeps it.
    pub fn changes(changes: &[Change], next_sync_token: &str, more: bool) -> Self {
        let mut json = String::with_capacity(
            64 + changes
                .iter()
                .map(|c| 120 + c.entry.as_ref().map_or(0, |e| e.content.len() + 160))
                .sum::<usize>(),
        );
        json.push_str("{\"changes\":[");
        for (i, change) in changes.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            let kind = if change.entry.is_some() {
                "changed"
            } else {
                "deleted"
            };
            json.push_str("{\"kind\":\"");
            json.push_str(kind);
            json.push_str("\",\"id\":\"");
            json.push_str(
                change
                    .id
                    .as_hyphenated()
                    .encode_lower(&mut uuid::Uuid::encode_buffer()),
            );
            json.push_str("\",\"at\":\"");
            write_rfc3339(&mut json, change.at);
            json.push('"');
            if let Some(entry) = &change.entry {
                json.push_str(",\"etag\":");
                json.push_str(
                    &serde_json::to_string(&entity_tag(entry.version))
                        .expect("a string always serializes"),
                );
                json.push_str(",\"entry\":");
                entry.write_json(&mut json);
            }
            json.push('}');
        }
        json.push_str("],\"next_sync_token\":");
        json.push_str(&serde_json::to_string(next_sync_token).expect("a string always serializes"));
        json.push_str(",\"more\":");
        json.push_str(if more { "true" } else { "false" });
        json.push('}');
        Self::new(json)
    }
}

/// What poem-openapi's own `Json` payload sends.
const JSON: &str = "application/json; charset=utf-8";

impl<T: Type> Payload for JsonDocument<T> {
    const CONTENT_TYPE: &'static str = JSON;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for JsonDocument<T> {
    fn into_response(self) -> Response {
        Response::builder().content_type(JSON).body(self.json)
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;
    use serde_json::Value;

    use super::*;
    use crate::api::schema;
    use crate::domain::{EntryContent, FeedPosition};

    /// The page written around stored JSON is what the typed schema would write.
    #[test]
    fn a_change_page_is_written_as_its_schema_says() {
        let content = EntryContent::from_json(&serde_json::json!({
            "full_name": "Ada \"Countess\" Lovelace",
            "labels": ["friends"],
        }))
        .unwrap();
        let mut entry = Entry::create(content);
        entry.version = 3;
        let changes = [
            Change {
                position: FeedPosition { txn: 1, seq: 2 },
                id: entry.id,
                at: entry.updated_at,
                entry: Some(EntryDocument::of(&entry)),
            },
            Change {
                position: FeedPosition { txn: 1, seq: 3 },
                id: uuid::Uuid::now_v7(),
                at: crate::domain::now(),
                entry: None,
            },
        ];
        let written: Value =
            serde_json::from_str(&JsonDocument::changes(&changes, "tok\"en", true).json).unwrap();
        let typed = schema::ChangePage {
            changes: vec![
                schema::Change {
                    kind: schema::ChangeKind::Changed,
                    id: changes[0].id,
                    at: changes[0].at,
                    etag: Some("\"3\"".to_owned()),
                    entry: Some(schema::Entry::from(&entry)),
                },
                schema::Change {
                    kind: schema::ChangeKind::Deleted,
                    id: changes[1].id,
                    at: changes[1].at,
                    etag: None,
                    entry: None,
                },
            ],
            next_sync_token: "tok\"en".to_owned(),
            more: true,
        };
        assert_eq!(written, typed.to_json().unwrap());
    }
}
