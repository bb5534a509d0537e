//! Response bodies whose JSON is already written: an entry as storage keeps it
//! ([`EntryDocument::to_json`]) and pages of such entries, sent without being parsed and written
//! again. Declared with the schema type they conform to, so the generated document is the same
//! as for a typed body; `schema.rs` tests that the two write the same JSON.

use std::marker::PhantomData;

use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;

use crate::domain::{Entry, EntryDocument};

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
