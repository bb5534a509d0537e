//! `/addresses/batch`: up to 200 creates, replaces, patches and deletes in one request, each
//! answered on its own.
//!
//! A body that is not a well-formed batch is refused whole, with every fault's pointer, before
//! anything is written. In a well-formed batch each operation is what its single-entry request
//! would be: an entry that breaks the rules, a failed `If-Match` or a full disk fails that
//! operation alone, with the problem document the single request would have had.

use std::collections::HashMap;
use std::sync::Arc;

use poem::http::Method;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::ApiTags;
use super::auth::Authenticated;
use super::body::BatchBody;
use super::declared::{ApiResult, error_set};
use super::headers::{EntityTags, HeaderValue, IdempotencyKey, entity_tag};
use super::problem::{ApiError, RequestInfo};
use super::schema::{self, BatchResult, BatchResults};
use crate::domain::{
    Edit, EntryContent, EntryPatch, FieldError, MAX_OPERATIONS, Operation, ValidationErrors,
    child_pointer,
};
use crate::metrics::Metrics;
use crate::service::{AddressBook, Done};

pub struct BatchApi {
    pub book: AddressBook,
    pub metrics: Arc<Metrics>,
}

#[derive(ApiResponse)]
pub enum BatchResponse {
    /// What each operation did, in the order they were sent.
    #[oai(status = 200)]
    Done(Json<BatchResults>),
}

error_set!(BatchErrors:
    400 => "The body is not a well-formed batch: nothing was written.",
    401 => "No credential, or one that is not accepted.",
    403 => "The credential lacks the scope this operation needs.",
    408 => "The body did not arrive in time.",
    413 => "The body is too large.",
    415 => "The body is not JSON.",
    429 => "This credential has used up its rate.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached to check the credential.");

const PATH: &str = "/addresses/batch";

#[OpenApi(tag = "ApiTags::Addresses")]
impl BatchApi {
    /// Create, replace, patch and delete many entries
    #[oai(
        path = "/addresses/batch",
        method = "post",
        operation_id = "batchAddresses"
    )]
    async fn batch(
        &self,
        auth: Authenticated,
        body: BatchBody,
    ) -> ApiResult<BatchResponse, BatchErrors> {
        let parsed = body.operations().await?;
        let request = RequestInfo {
            method: Method::POST,
            path: PATH.to_owned(),
        };
        let mut results: Vec<Option<BatchResult>> = Vec::with_capacity(parsed.len());
        let mut operations = Vec::new();
        let mut sent = Vec::new();
        for (index, Parsed { id, operation }) in parsed.into_iter().enumerate() {
            match operation {
                Ok(operation) => {
                    operations.push(operation);
                    sent.push((index, id));
                    results.push(None);
                }
                Err(errors) => results.push(Some(failed(id, errors.into(), &request))),
            }
        }
        let done = self.book.batch(&auth.0, operations).await?;
        for ((index, id), done) in sent.into_iter().zip(done) {
            results[index] = Some(match done {
                Ok(done) => self.succeeded(done),
                Err(err) => failed(id, err.into(), &request),
            });
        }
        let results = results
            .into_iter()
            .map(|result| result.ok_or_else(|| ApiError::internal("an operation was not answered")))
            .collect::<Result<_, _>>()?;
        Ok(BatchResponse::Done(Json(BatchResults { results })))
    }
}

impl BatchApi {
    fn succeeded(&self, done: Done) -> BatchResult {
        let (status, entry, with_body) = match done {
            Done::Created(created) => {
                if created.replayed {
                    self.metrics.idempotent_replay();
                }
                (201, created.entry, true)
            }
            Done::Replaced(entry) => (204, entry, false),
            Done::Patched(entry) => (200, entry, true),
            Done::Deleted(id) => {
                return BatchResult {
                    status: 204,
                    id: Some(id),
                    etag: None,
                    entry: None,
                    problem: None,
                };
            }
        };
        BatchResult {
            status,
            id: Some(entry.id),
            etag: Some(entity_tag(entry.version)),
            entry: with_body.then(|| schema::Entry::from(&entry)),
            problem: None,
        }
    }
}

fn failed(id: Option<Uuid>, err: ApiError, request: &RequestInfo) -> BatchResult {
    BatchResult {
        status: i32::from(err.status().as_u16()),
        id,
        etag: None,
        entry: None,
        problem: Some(err.into_problem(request)),
    }
}

/// One operation of a well-formed batch: the entry it names, and the operation, or why its
/// entry or patch breaks the rules.
pub struct Parsed {
    pub id: Option<Uuid>,
    pub operation: Result<Operation, ValidationErrors>,
}

/// Which members each kind of operation takes, besides `op`, and which of them it needs.
const CREATE: [(&str, bool); 2] = [("entry", true), ("idempotency_key", false)];
const REPLACE: [(&str, bool); 3] = [("id", true), ("if_match", false), ("entry", true)];
const PATCH: [(&str, bool); 3] = [("id", true), ("if_match", false), ("patch", true)];
const DELETE: [(&str, bool); 2] = [("id", true), ("if_match", false)];

/// Reads a batch. Faults of its shape (not an object, no operations or too many, an unknown
/// `op`, a member the operation does not take or lacks, a malformed id, `if_match` or
/// `idempotency_key`, an entry or a key named twice) refuse it whole; an entry or patch that
/// breaks the rules of entries is that operation's own failure.
pub fn operations(body: &Value) -> Result<Vec<Parsed>, ValidationErrors> {
    let mut faults = Faults::default();
    let Some(batch) = body.as_object() else {
        faults.add("", "must be an object with `operations`");
        return Err(faults.into_errors());
    };
    for key in batch.keys().filter(|key| *key != "operations") {
        faults.add(child_pointer("", key), "is not a known property");
    }
    let items = match batch.get("operations") {
        None => {
            faults.add("/operations", "is required");
            return Err(faults.into_errors());
        }
        Some(Value::Array(items)) if (1..=MAX_OPERATIONS).contains(&items.len()) => items,
        Some(Value::Array(items)) => {
            faults.add(
                "/operations",
                format!(
                    "must hold 1 to {MAX_OPERATIONS} operations, not {}",
                    items.len()
                ),
            );
            return Err(faults.into_errors());
        }
        Some(_) => {
            faults.add("/operations", "must be an array of operations");
            return Err(faults.into_errors());
        }
    };
    let mut ids: HashMap<Uuid, usize> = HashMap::new();
    let mut keys: HashMap<String, usize> = HashMap::new();
    let mut parsed = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at = format!("/operations/{index}");
        let Some(operation) = faults.operation(item, &at) else {
            continue;
        };
        if let Some(id) = operation.parsed.id
            && let Some(first) = ids.insert(id, index)
        {
            faults.add(
                format!("{at}/id"),
                format!("names the entry /operations/{first} names: one operation per entry"),
            );
        }
        if let Some(key) = &operation.key
            && let Some(first) = keys.insert(key.clone(), index)
        {
            faults.add(
                format!("{at}/idempotency_key"),
                format!("is the key of /operations/{first}: one create per key"),
            );
        }
        parsed.push(operation.parsed);
    }
    if faults.0.is_empty() {
        Ok(parsed)
    } else {
        Err(faults.into_errors())
    }
}

/// What is wrong with a batch's shape, in document order.
#[derive(Default)]
struct Faults(Vec<FieldError>);

/// An operation whose shape is right, and its idempotency key.
struct Shaped {
    key: Option<String>,
    parsed: Parsed,
}

impl Faults {
    fn add(&mut self, pointer: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError {
            pointer: pointer.into(),
            reason: reason.into(),
        });
    }

    fn into_errors(self) -> ValidationErrors {
        ValidationErrors(self.0)
    }

    fn operation(&mut self, item: &Value, at: &str) -> Option<Shaped> {
        let Some(item) = item.as_object() else {
            self.add(at, "must be an object with `op`");
            return None;
        };
        let op = match item.get("op") {
            Some(Value::String(op)) => op.as_str(),
            Some(_) => {
                self.add(format!("{at}/op"), "must be a string");
                return None;
            }
            None => {
                self.add(format!("{at}/op"), "is required");
                return None;
            }
        };
        let members: &[(&str, bool)] = match op {
            "create" => &CREATE,
            "replace" => &REPLACE,
            "patch" => &PATCH,
            "delete" => &DELETE,
            _ => {
                self.add(
                    format!("{at}/op"),
                    "must be one of `create`, `replace`, `patch`, `delete`",
                );
                return None;
            }
        };
        let before = self.0.len();
        for key in item.keys() {
            if key != "op" && !members.iter().any(|(member, _)| member == key) {
                self.add(
                    child_pointer(at, key),
                    format!("is not a property of a `{op}`"),
                );
            }
        }
        for (member, needed) in members {
            if *needed && !item.contains_key(*member) {
                self.add(
                    format!("{at}/{member}"),
                    format!("is required for a `{op}`"),
                );
            }
        }
        let id = self.id(item, at);
        let precondition = self.header::<EntityTags>(item, at, "if_match");
        let key = self.header::<IdempotencyKey>(item, at, "idempotency_key");
        if self.0.len() > before {
            return None;
        }
        let precondition = precondition.map(|tags| tags.0);
        let key = key.map(|key| key.0);
        let entry = || content(item, at, "entry", EntryContent::from_json);
        let operation = match (op, id) {
            ("create", _) => entry().map(|content| Operation::Create {
                content,
                key: key.clone(),
            }),
            (op, Some(id)) => match op {
                "replace" => entry().map(Edit::Replace),
                "patch" => content(item, at, "patch", EntryPatch::from_json).map(Edit::Patch),
                _ => Ok(Edit::Delete),
            }
            .map(|edit| Operation::Edit {
                id,
                precondition,
                edit,
            }),
            // Every other operation needs its id, which was checked above.
            (_, None) => return None,
        };
        Some(Shaped {
            key,
            parsed: Parsed { id, operation },
        })
    }

    fn id(&mut self, item: &Map<String, Value>, at: &str) -> Option<Uuid> {
        let value = item.get("id")?;
        match value.as_str().and_then(|id| Uuid::try_parse(id).ok()) {
            Some(id) => Some(id),
            None => {
                self.add(format!("{at}/id"), "must be an entry's id (a UUID)");
                None
            }
        }
    }

    /// Member `name`, which holds what a header of type `H` would.
    fn header<H: HeaderValue>(
        &mut self,
        item: &Map<String, Value>,
        at: &str,
        name: &str,
    ) -> Option<H> {
        let value = item.get(name)?;
        let parsed = match value.as_str() {
            Some(text) => H::parse(&[text.as_bytes()]),
            None => Err("must be a string".to_owned()),
        };
        parsed
            .map_err(|reason| self.add(format!("{at}/{name}"), reason))
            .ok()
    }
}

/// The entry or patch in member `name` of the operation at `at`, checked, its faults pointing
/// into the batch.
fn content<T>(
    item: &Map<String, Value>,
    at: &str,
    name: &str,
    check: fn(&Value) -> Result<T, ValidationErrors>,
) -> Result<T, ValidationErrors> {
    let value = item.get(name).unwrap_or(&Value::Null);
    check(value).map_err(|errors| errors.under(&format!("{at}/{name}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn faults(body: Value) -> Vec<(String, String)> {
        match operations(&body) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .0
                .into_iter()
                .map(|e| (e.pointer, e.reason))
                .collect(),
        }
    }

    fn pointers(body: Value) -> Vec<String> {
        faults(body)
            .into_iter()
            .map(|(pointer, _)| pointer)
            .collect()
    }

    #[test]
    fn every_fault_of_the_shape_is_named_by_its_pointer() {
        let id = Uuid::now_v7().to_string();
        assert_eq!(pointers(json!([])), [""]);
        assert_eq!(pointers(json!({})), ["/operations"]);
        assert_eq!(pointers(json!({"operations": []})), ["/operations"]);
        assert_eq!(
            pointers(
                json!({"operations": [{"op": "create", "entry": {"full_name": "A"}}], "x": 1})
            ),
            ["/x"]
        );
        assert_eq!(
            pointers(json!({"operations": [
                {"op": "upsert"},
                {"op": "delete"},
                {"op": "delete", "id": "not-a-uuid"},
                {"op": "create", "entry": {"full_name": "A"}, "id": id},
                {"op": "patch", "id": id, "if_match": "3", "patch": {}},
                {"op": "create", "entry": {"full_name": "A"}, "idempotency_key": "k\u{e9}"},
                {"op": "replace", "id": id},
                7,
            ]})),
            [
                "/operations/0/op",
                "/operations/1/id",
                "/operations/2/id",
                "/operations/3/id",
                "/operations/4/if_match",
                "/operations/5/idempotency_key",
                "/operations/6/entry",
                "/operations/7",
            ]
        );
    }

    #[test]
    fn an_entry_or_a_key_named_twice_refuses_the_batch() {
        let id = Uuid::now_v7().to_string();
        let found = faults(json!({"operations": [
            {"op": "delete", "id": id},
            {"op": "patch", "id": id, "patch": {"full_name": "B"}},
            {"op": "create", "entry": {"full_name": "A"}, "idempotency_key": "k"},
            {"op": "create", "entry": {"full_name": "A"}, "idempotency_key": "k"},
        ]}));
        assert_eq!(
            found,
            [
                (
                    "/operations/1/id".to_owned(),
                    "names the entry /operations/0 names: one operation per entry".to_owned()
                ),
                (
                    "/operations/3/idempotency_key".to_owned(),
                    "is the key of /operations/2: one create per key".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn more_than_the_limit_is_refused_and_the_limit_itself_is_taken() {
        let create = json!({"op": "create", "entry": {"full_name": "A"}});
        let batch = |n: usize| json!({"operations": vec![create.clone(); n]});
        assert_eq!(
            faults(batch(MAX_OPERATIONS + 1)),
            [(
                "/operations".to_owned(),
                format!(
                    "must hold 1 to {MAX_OPERATIONS} operations, not {}",
                    MAX_OPERATIONS + 1
                )
            )]
        );
        assert_eq!(
            operations(&batch(MAX_OPERATIONS)).unwrap().len(),
            MAX_OPERATIONS
        );
    }

    #[test]
    fn a_bad_entry_fails_its_operation_alone_with_pointers_into_the_batch() {
        let id = Uuid::now_v7();
        let parsed = operations(&json!({"operations": [
            {"op": "create", "entry": {"full_name": ""}},
            {"op": "patch", "id": id, "if_match": "\"2\"", "patch": {"emails": [{"email": "x"}]}},
            {"op": "replace", "id": id.to_string().to_uppercase(), "entry": {"full_name": "Ok"}},
        ]}));
        // The last names the same entry in capitals: a UUID is the same whatever its case.
        assert!(parsed.is_err());
        let parsed = operations(&json!({"operations": [
            {"op": "create", "entry": {"full_name": ""}},
            {"op": "patch", "id": id, "if_match": "\"2\"", "patch": {"emails": [{"email": "x"}]}},
            {"op": "delete", "id": Uuid::now_v7(), "if_match": "*"},
        ]}))
        .unwrap();
        let pointers = |parsed: &Parsed| match &parsed.operation {
            Ok(_) => Vec::new(),
            Err(errors) => errors.0.iter().map(|e| e.pointer.clone()).collect(),
        };
        assert_eq!(pointers(&parsed[0]), ["/operations/0/entry/full_name"]);
        assert_eq!(pointers(&parsed[1]), ["/operations/1/patch/emails/0/email"]);
        assert_eq!(parsed[1].id, Some(id));
        assert!(matches!(
            parsed[2].operation,
            Ok(Operation::Edit {
                edit: Edit::Delete,
                precondition: Some(crate::domain::Precondition::Any),
                ..
            })
        ));
    }
}
