//! Every status a handler answers is one its operation declares, whatever storage does.
//!
//! The application runs in-process on a storage double that can be made to fail in each way the
//! trait allows (unreachable, broken, every write conflicting, every entry missing, idempotency
//! claims held, completed or taken over). Every operation is sent requests with and without its
//! headers and bodies under each behaviour, and each answer's status is looked up among those the
//! generated document declares for the operation. A new error path that maps to an undeclared
//! status fails here, not in production.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use poem::http::{Method, StatusCode};
use poem::{Endpoint, Request};
use serde_json::{Value, json};
use uuid::Uuid;

use addressbook_server::api::{self, ApiOptions};
use addressbook_server::auth::{self, Authenticator};
use addressbook_server::config::{ApiKeySettings, AuthMode, AuthSettings};
use addressbook_server::domain::{
    ApiKey, Change, Cursors, Entry, EntryContent, EntryDocument, FeedPosition, PageRequest, Scope,
    Tenant, Timestamp,
};
use addressbook_server::service::{AddressBook, Policy};
use addressbook_server::storage::{
    Claim, ClaimRequest, Insert, KeyClaim, NewEntry, Storage, StorageError, Write,
};

/// How the storage double answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Every call fails as if the database were unreachable.
    Unavailable,
    /// Every call fails as if the database were broken.
    Broken,
    /// Every call fails as if the disk were full.
    Full,
    /// Entries exist, and every write finds another version than it expects.
    Conflicting,
    /// No entry exists.
    Missing,
    /// Every idempotency key is held by a request still running.
    KeyInFlight,
    /// Every idempotency key completed a create of another entry.
    KeyCompleted,
    /// Every claim is taken over before its create completes.
    ClaimLost,
    /// The change feed's history was trimmed past every token handed out.
    HistoryDropped,
}

const BEHAVIOURS: [Behaviour; 9] = [
    Behaviour::Unavailable,
    Behaviour::Broken,
    Behaviour::Full,
    Behaviour::Conflicting,
    Behaviour::Missing,
    Behaviour::KeyInFlight,
    Behaviour::KeyCompleted,
    Behaviour::ClaimLost,
    Behaviour::HistoryDropped,
];

struct Double(Behaviour);

fn entry() -> Entry {
    Entry::create(EntryContent::from_json(&json!({"full_name": "Double Entry"})).unwrap())
}

impl Double {
    fn fail(&self) -> Result<(), StorageError> {
        match self.0 {
            Behaviour::Unavailable => Err(StorageError::Unavailable("unreachable".into())),
            Behaviour::Broken => Err(StorageError::Internal("broken".into())),
            Behaviour::Full => Err(StorageError::Full("full".into())),
            _ => Ok(()),
        }
    }

    fn write<T>(&self, done: T) -> Result<Write<T>, StorageError> {
        self.fail()?;
        Ok(match self.0 {
            Behaviour::Conflicting => Write::Conflict,
            Behaviour::Missing => Write::NotFound,
            _ => Write::Done(done),
        })
    }
}

#[async_trait]
impl Storage for Double {
    async fn insert_many(
        &self,
        _: &Tenant,
        entries: &[NewEntry<'_>],
    ) -> Result<Vec<Insert>, StorageError> {
        self.fail()?;
        Ok(entries
            .iter()
            .map(|new| match (self.0, new.claim) {
                (Behaviour::ClaimLost, Some(_)) => Insert::ClaimLost,
                _ => Insert::Stored,
            })
            .collect())
    }

    async fn get(&self, _: &Tenant, _: Uuid) -> Result<Option<EntryDocument>, StorageError> {
        self.fail()?;
        Ok((self.0 != Behaviour::Missing).then(|| EntryDocument::of(&entry())))
    }

    async fn replace(
        &self,
        _: &Tenant,
        _: Uuid,
        _: &EntryContent,
        _: Timestamp,
        _: Option<i64>,
    ) -> Result<Write<Entry>, StorageError> {
        self.write(entry())
    }

    async fn relabel(
        &self,
        _: &Tenant,
        _: &str,
        _: Option<&str>,
        _: Timestamp,
    ) -> Result<u64, StorageError> {
        self.fail()?;
        Ok(3)
    }

    async fn delete(
        &self,
        _: &Tenant,
        _: Uuid,
        _: Option<i64>,
        _: Timestamp,
    ) -> Result<Write<()>, StorageError> {
        self.write(())
    }

    async fn changes(
        &self,
        _: &Tenant,
        after: FeedPosition,
        limit: usize,
    ) -> Result<Vec<Change>, StorageError> {
        self.fail()?;
        let entry = entry();
        Ok((1..=limit)
            .map(|n| Change {
                position: FeedPosition {
                    txn: after.txn,
                    seq: after.seq + i64::try_from(n).unwrap(),
                },
                id: entry.id,
                at: entry.updated_at,
                entry: (n % 2 == 0).then(|| EntryDocument::of(&entry)),
            })
            .collect())
    }

    async fn feed_horizon(&self, _: &Tenant) -> Result<FeedPosition, StorageError> {
        self.fail()?;
        Ok(match self.0 {
            Behaviour::HistoryDropped => FeedPosition {
                txn: i64::MAX,
                seq: 0,
            },
            _ => FeedPosition::default(),
        })
    }

    async fn purge_changes(&self, _: Timestamp) -> Result<u64, StorageError> {
        self.fail()?;
        Ok(0)
    }

    async fn list(
        &self,
        _: &Tenant,
        request: &PageRequest,
    ) -> Result<Vec<EntryDocument>, StorageError> {
        self.fail()?;
        Ok((0..request.limit)
            .map(|_| EntryDocument::of(&entry()))
            .collect())
    }

    async fn claim_key(&self, claim: &ClaimRequest<'_>) -> Result<KeyClaim, StorageError> {
        self.fail()?;
        Ok(match self.0 {
            Behaviour::KeyInFlight => KeyClaim::InFlight,
            Behaviour::KeyCompleted => KeyClaim::Completed(entry()),
            _ => KeyClaim::Claimed(Claim {
                tenant: claim.tenant.clone(),
                key: claim.key.to_owned(),
                claimed_at: claim.now,
            }),
        })
    }

    async fn release_key(&self, _: &Claim) -> Result<(), StorageError> {
        self.fail()
    }

    async fn purge_keys(&self, _: Timestamp) -> Result<u64, StorageError> {
        self.fail()?;
        Ok(0)
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.fail()
    }

    async fn find_api_key(&self, _: &str) -> Result<Option<ApiKey>, StorageError> {
        self.fail()?;
        Ok(None)
    }

    async fn create_api_key(&self, _: &ApiKey) -> Result<(), StorageError> {
        self.fail()
    }

    async fn revoke_api_key(&self, _: &str, _: Timestamp) -> Result<bool, StorageError> {
        self.fail()?;
        Ok(false)
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StorageError> {
        self.fail()?;
        Ok(Vec::new())
    }

    fn engine(&self) -> &'static str {
        "double"
    }
}

/// One request: method, path (as the contract's template names it), headers and body.
struct Case {
    method: Method,
    template: &'static str,
    path: String,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<(&'static str, Vec<u8>)>,
}

fn cases() -> Vec<Case> {
    let id = format!("/addresses/{}", Uuid::now_v7());
    let changes_after_a_token = format!(
        "/changes?limit=3&sync_token={}",
        Cursors::new(CURSOR_KEY)
            .encode_token(FeedPosition { txn: 1, seq: 2 }, &Tenant::default_tenant())
    );
    let entry = || Some(("application/json", br#"{"full_name": "A"}"#.to_vec()));
    let invalid = || Some(("application/json", br#"{"full_name": ""}"#.to_vec()));
    let rename = |body: &str| Some(("application/json", body.as_bytes().to_vec()));
    let patch = || {
        Some((
            "application/merge-patch+json",
            br#"{"full_name": "B"}"#.to_vec(),
        ))
    };
    let case = |method: Method, template, path: &str, headers, body| Case {
        method,
        template,
        path: path.to_owned(),
        headers,
        body,
    };
    let mut cases = vec![
        case(Method::GET, "/addresses", "/addresses", vec![], None),
        case(
            Method::GET,
            "/addresses",
            "/addresses?q=a%00b",
            vec![],
            None,
        ),
        case(
            Method::GET,
            "/addresses",
            "/addresses?cursor=x",
            vec![],
            None,
        ),
        case(Method::POST, "/addresses", "/addresses", vec![], entry()),
        case(Method::POST, "/addresses", "/addresses", vec![], invalid()),
        case(
            Method::POST,
            "/addresses",
            "/addresses",
            vec![("idempotency-key", "k")],
            entry(),
        ),
        case(
            Method::POST,
            "/addresses",
            "/addresses",
            vec![("idempotency-key", "k")],
            invalid(),
        ),
        case(
            Method::POST,
            "/labels/{label}/rename",
            "/labels/clients/rename",
            vec![],
            rename(r#"{"to": "Customers"}"#),
        ),
        case(
            Method::POST,
            "/labels/{label}/rename",
            "/labels/clients/rename",
            vec![],
            rename(r#"{"to": ""}"#),
        ),
        case(
            Method::POST,
            "/labels/{label}/rename",
            "/labels/a%00b/rename",
            vec![],
            rename(r#"{"to": "Customers"}"#),
        ),
        case(
            Method::DELETE,
            "/labels/{label}",
            "/labels/clients",
            vec![],
            None,
        ),
        case(
            Method::DELETE,
            "/labels/{label}",
            "/labels/a%00b",
            vec![],
            None,
        ),
        case(Method::GET, "/changes", "/changes", vec![], None),
        case(Method::GET, "/changes", "/changes?limit=0", vec![], None),
        case(
            Method::GET,
            "/changes",
            "/changes?sync_token=x",
            vec![],
            None,
        ),
        case(
            Method::GET,
            "/changes",
            &changes_after_a_token,
            vec![],
            None,
        ),
        case(
            Method::POST,
            BATCH,
            BATCH,
            vec![],
            Some(("application/json", batch_body().into_bytes())),
        ),
        case(
            Method::POST,
            BATCH,
            BATCH,
            vec![],
            Some((
                "application/json",
                br#"{"operations": [{"op": "x"}]}"#.to_vec(),
            )),
        ),
        case(Method::GET, "/healthz", "/healthz", vec![], None),
        case(Method::GET, "/readiness", "/readiness", vec![], None),
    ];
    for headers in [
        vec![],
        vec![("if-match", "\"1\"")],
        vec![("if-match", "\"1\", \"2\"")],
        vec![("if-match", "*")],
        vec![("if-match", "1")],
    ] {
        let none_match: Vec<_> = headers
            .iter()
            .map(|(_, value)| ("if-none-match", *value))
            .collect();
        cases.push(case(Method::GET, "/addresses/{id}", &id, none_match, None));
        cases.push(case(
            Method::PUT,
            "/addresses/{id}",
            &id,
            headers.clone(),
            entry(),
        ));
        cases.push(case(
            Method::PUT,
            "/addresses/{id}",
            &id,
            headers.clone(),
            invalid(),
        ));
        cases.push(case(
            Method::PATCH,
            "/addresses/{id}",
            &id,
            headers.clone(),
            patch(),
        ));
        cases.push(case(Method::DELETE, "/addresses/{id}", &id, headers, None));
    }
    cases
}

const BATCH: &str = "/addresses/batch";

/// The single-entry operation each operation of [`batch_body`] is, in order: a result of a
/// batch must have a status its own request declares.
const BATCH_OPERATIONS: [(&str, Method); 6] = [
    ("/addresses", Method::POST),
    ("/addresses", Method::POST),
    ("/addresses", Method::POST),
    ("/addresses/{id}", Method::PUT),
    ("/addresses/{id}", Method::PATCH),
    ("/addresses/{id}", Method::DELETE),
];

fn batch_body() -> String {
    let id = || Uuid::now_v7().to_string();
    serde_json::to_string(&json!({"operations": [
        {"op": "create", "entry": {"full_name": "A"}},
        {"op": "create", "entry": {"full_name": "A"}, "idempotency_key": "k"},
        {"op": "create", "entry": {"full_name": ""}},
        {"op": "replace", "id": id(), "entry": {"full_name": "B"}, "if_match": "\"1\""},
        {"op": "patch", "id": id(), "patch": {"full_name": "C"}},
        {"op": "delete", "id": id(), "if_match": "*"},
    ]}))
    .expect("JSON")
}

/// The statuses the generated document declares for each (template, method).
fn declared(template: &str, method: &Method) -> BTreeSet<u16> {
    let document: Value =
        serde_json::from_str(&api::generated_document()).expect("the document is JSON");
    let responses = &document["paths"][template][method.as_str().to_lowercase()]["responses"];
    responses
        .as_object()
        .unwrap_or_else(|| panic!("{method} {template} is not in the document"))
        .keys()
        .map(|status| status.parse().expect("statuses are numbers"))
        .collect()
}

const CURSOR_KEY: &[u8] = b"test";

fn app(behaviour: Behaviour, policy: Policy) -> impl Endpoint {
    app_with(behaviour, policy, &AuthSettings::default())
}

fn app_with(behaviour: Behaviour, policy: Policy, auth: &AuthSettings) -> impl Endpoint + use<> {
    let book = AddressBook::new(Arc::new(Double(behaviour)), policy);
    let options = ApiOptions {
        max_body_bytes: 1024,
        body_timeout: std::time::Duration::from_secs(5),
        max_in_flight: 64,
        request_timeout: std::time::Duration::from_secs(5),
        rate_limits: Arc::new(api::RateLimits::new(0, 0)),
        trusted_proxies: Vec::new(),
        debug: false,
        cursors: Cursors::new(CURSOR_KEY),
        authenticator: Arc::new(Authenticator::new(auth, book.clone()).expect("valid settings")),
        metrics: addressbook_server::metrics::Metrics::new(),
        metrics_served: api::MetricsServed::Here,
        cors: None,
        public_url: None,
    };
    api::build(book, options, Instant::now())
}

#[tokio::test]
async fn every_answer_under_every_storage_failure_is_declared() {
    let strict = Policy {
        require_if_match: true,
        ..Policy::default()
    };
    let mut seen = BTreeSet::new();
    let mut undeclared = Vec::new();
    for behaviour in BEHAVIOURS {
        for policy in [Policy::default(), strict] {
            let app = app(behaviour, policy);
            for case in cases() {
                let mut request = Request::builder()
                    .header("host", "test")
                    .method(case.method.clone())
                    .uri(case.path.parse().expect("a valid URI"));
                for (name, value) in &case.headers {
                    request = request.header(*name, *value);
                }
                let request = match &case.body {
                    Some((content_type, body)) => request
                        .header("content-type", *content_type)
                        .body(body.clone()),
                    None => request.finish(),
                };
                let response = app.get_response(request).await;
                let status = response.status();
                let what = format!(
                    "{} {} {:?} under {behaviour:?}: {status}",
                    case.method, case.path, case.headers
                );
                if case.template == BATCH && status == StatusCode::OK {
                    let body = response.into_body().into_bytes().await.expect("a body");
                    let answer: Value = serde_json::from_slice(&body).expect("JSON");
                    let results = answer["results"].as_array().expect("results");
                    assert_eq!(results.len(), BATCH_OPERATIONS.len(), "{what}");
                    for (i, (result, (template, method))) in
                        results.iter().zip(&BATCH_OPERATIONS).enumerate()
                    {
                        let item = result["status"].as_u64().expect("a status") as u16;
                        if let Some(problem) = result["problem"]["type"].as_str() {
                            seen.insert(problem.to_owned());
                        }
                        let replaced = item == 500 && behaviour != Behaviour::Broken;
                        if replaced || !declared(template, method).contains(&item) {
                            undeclared.push(format!("{what}: operation {i} answered {item}"));
                        }
                    }
                    continue;
                }
                if status.is_client_error() || status.is_server_error() {
                    let body = response.into_body().into_bytes().await.expect("a body");
                    let problem: Value = serde_json::from_slice(&body)
                        .unwrap_or_else(|_| panic!("{what}: the body is not a problem"));
                    seen.insert(problem["type"].as_str().unwrap_or_default().to_owned());
                }
                // A handler's undeclared status is replaced by a 500 on its way out; only broken
                // storage may explain a 500 here.
                let replaced =
                    status == StatusCode::INTERNAL_SERVER_ERROR && behaviour != Behaviour::Broken;
                if replaced || !declared(case.template, &case.method).contains(&status.as_u16()) {
                    undeclared.push(what);
                }
            }
        }
    }
    assert!(
        undeclared.is_empty(),
        "answers the document does not declare:\n{}",
        undeclared.join("\n")
    );
    // The behaviours reach the problems they are here for.
    for problem in [
        "/problems/service-unavailable",
        "/problems/internal-error",
        "/problems/insufficient-storage",
        "/problems/edit-conflict",
        "/problems/precondition-failed",
        "/problems/precondition-required",
        "/problems/not-found",
        "/problems/idempotency-key-in-flight",
        "/problems/idempotency-key-reused",
        "/problems/idempotency-claim-lost",
        "/problems/invalid-header",
        "/problems/invalid-parameter",
        "/problems/validation-failed",
        "/problems/not-ready",
        "/problems/sync-token-expired",
    ] {
        assert!(
            seen.contains(problem),
            "no case drew out {problem}: {seen:?}"
        );
    }
}

#[tokio::test]
async fn a_patch_that_keeps_losing_its_race_is_an_edit_conflict_not_an_outage() {
    let app = app(Behaviour::Conflicting, Policy::default());
    let request = Request::builder()
        .header("host", "test")
        .method(Method::PATCH)
        .uri(format!("/addresses/{}", Uuid::now_v7()).parse().unwrap())
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"full_name": "B"}"#);
    let response = app.get_response(request).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = response.into_body().into_bytes().await.unwrap();
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["type"], "/problems/edit-conflict");
}

/// An API key in the configuration, granting `scopes`: the settings and the key to send.
fn key_granting(scopes: &[Scope]) -> (ApiKeySettings, String) {
    let (kept, key) = auth::new_api_key(Tenant::parse("t").unwrap(), scopes.to_vec(), "t".into());
    let settings = ApiKeySettings {
        id: kept.id,
        secret_sha256: auth::secret_sha256(&key).unwrap(),
        tenant: "t".into(),
        scopes: scopes.iter().map(|scope| scope.name().to_owned()).collect(),
    };
    (settings, key)
}

/// The scope the contract says an operation needs, from "Requires the `…` scope".
fn stated_scope(operation: &Value) -> Option<Scope> {
    let description = operation["description"].as_str()?;
    let (_, rest) = description.split_once("Requires the `")?;
    let (name, _) = rest.split_once('`')?;
    Scope::named(name)
}

#[tokio::test]
async fn every_operation_needs_exactly_the_scope_the_contract_says() {
    let contract: Value = serde_yaml::from_str(api::CONTRACT_YAML).unwrap();
    let all = [Scope::Read, Scope::Write, Scope::Admin];
    // Only requests that are well-formed: a malformed one is refused (400) for what it is,
    // whoever sends it.
    let well_formed = |case: &Case| {
        !case.path.contains("%00")
            && !case.path.contains("cursor=")
            && !case.path.contains("sync_token=")
            && !case.path.contains("limit=0")
            && !case.headers.iter().any(|(_, value)| *value == "1")
            && case.body.as_ref().is_none_or(|(_, body)| {
                !body.starts_with(br#"{"full_name": """#)
                    && body != br#"{"to": ""}"#
                    && !body.starts_with(br#"{"operations": [{"op": "x"}]}"#)
            })
    };
    for case in cases().into_iter().filter(well_formed) {
        let operation = &contract["paths"][case.template][case.method.as_str().to_lowercase()];
        let Some(needed) = stated_scope(operation) else {
            // `security: []` is how the contract says an operation takes no credential.
            let open = operation.get("security").is_none_or(|s| s == &json!([]));
            assert!(
                open,
                "{} {} is secured but names no scope",
                case.method, case.template
            );
            continue;
        };
        let without: Vec<Scope> = all.into_iter().filter(|scope| *scope != needed).collect();
        let (lacking, lacking_key) = key_granting(&without);
        let (granted, granted_key) = key_granting(&[needed]);
        let auth = AuthSettings {
            mode: AuthMode::Required,
            api_keys: vec![lacking, granted],
            ..AuthSettings::default()
        };
        let app = app_with(Behaviour::Missing, Policy::default(), &auth);
        for (key, refused) in [(lacking_key, true), (granted_key, false)] {
            let mut request = Request::builder()
                .header("host", "test")
                .method(case.method.clone())
                .uri(case.path.parse().unwrap())
                .header("x-api-key", key);
            for (name, value) in &case.headers {
                request = request.header(*name, *value);
            }
            let request = match &case.body {
                Some((content_type, body)) => request
                    .header("content-type", *content_type)
                    .body(body.clone()),
                None => request.finish(),
            };
            let response = app.get_response(request).await;
            let what = format!(
                "{} {} with {needed:?} refused={refused}",
                case.method, case.path
            );
            assert_eq!(
                response.status() == StatusCode::FORBIDDEN,
                refused,
                "{what}: {}",
                response.status()
            );
            if refused {
                let challenge = response.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                assert!(
                    challenge.contains(&format!("scope=\"{}\"", needed.name())),
                    "{what}: {challenge}"
                );
            }
        }
        // Without a credential: 401 with a challenge.
        let response = app
            .get_response(
                Request::builder()
                    .header("host", "test")
                    .method(case.method.clone())
                    .uri(case.path.parse().unwrap())
                    .finish(),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{} {}",
            case.method,
            case.path
        );
        assert!(response.headers().contains_key("www-authenticate"));
    }
}
