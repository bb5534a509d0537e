//! Raw HTTP exchanges for what the typed client refuses to send, and the checks every response
//! must pass: an `X-Request-Id` always, and for errors a complete RFC 9457 problem document that
//! describes the request it answers.

use std::fmt;

use addressbook_client::types::Problem as TypedProblem;
use addressbook_client::{Error, ResponseValue};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::Value;

pub const REQUEST_ID: &str = "x-request-id";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A response read to the end, with the request it answers.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The request's method, upper case.
    pub method: String,
    /// The request's path, without the query.
    pub path: String,
}

/// Sends `request` and reads the whole response. Panics on a transport error, and on a response
/// without `X-Request-Id` (the contract promises one on every response).
pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let (client, request) = request.build_split();
    let request = request.expect("the test builds a valid request");
    let method = request.method().to_string();
    let path = request.url().path().to_owned();
    let response = client
        .execute(request)
        .await
        .unwrap_or_else(|err| panic!("{method} {path}: no response: {err:?}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .unwrap_or_else(|err| panic!("{method} {path}: cannot read the body: {err:?}"))
        .to_vec();
    let reply = Reply {
        status,
        headers,
        body,
        method,
        path,
    };
    assert!(
        reply.header(REQUEST_ID).is_some_and(|id| !id.is_empty()),
        "{reply:?}: every response must carry X-Request-Id"
    );
    reply
}

impl Reply {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| {
            value
                .to_str()
                .unwrap_or_else(|_| panic!("{self:?}: header {name} is not text"))
        })
    }

    /// The media type of the body, without parameters, lower case: `application/json`.
    pub fn media_type(&self) -> Option<String> {
        self.header(CONTENT_TYPE.as_str()).map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("{self:?}: the body is not JSON: {err}"))
    }

    /// Asserts the status and that the body is JSON sent as `application/json`.
    pub fn expect_json(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.media_type().as_deref(),
            Some("application/json"),
            "{self:?}: a success body is application/json"
        );
        self.json()
    }

    /// Asserts that this is a complete problem document for status `status` about this request.
    pub fn expect_problem(&self, status: u16) -> Problem {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.media_type().as_deref(),
            Some(PROBLEM_JSON),
            "{self:?}: an error body is a problem document"
        );
        let problem = Problem(self.json());
        problem.check(status, &self.method, &self.path);
        problem
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 2_000;
        let text = self.text();
        let shown: String = text.chars().take(SHOWN).collect();
        let more = if text.chars().count() > SHOWN {
            "…"
        } else {
            ""
        };
        write!(
            f,
            "{} {} → {} {:?} {shown}{more}",
            self.method, self.path, self.status, self.headers
        )
    }
}

/// An RFC 9457 problem document as the server sent it.
#[derive(Debug, Clone)]
pub struct Problem(pub Value);

/// One entry of a problem's `errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField {
    pub pointer: Option<String>,
    pub parameter: Option<String>,
    pub reason: String,
}

impl Problem {
    /// `type`, e.g. `/problems/validation-failed`.
    pub fn problem_type(&self) -> &str {
        self.0["type"].as_str().unwrap_or_default()
    }

    pub fn title(&self) -> &str {
        self.0["title"].as_str().unwrap_or_default()
    }

    pub fn detail(&self) -> &str {
        self.0["detail"].as_str().unwrap_or_default()
    }

    /// `errors`, empty when absent.
    pub fn errors(&self) -> Vec<InvalidField> {
        let Some(errors) = self.0.get("errors") else {
            return Vec::new();
        };
        errors
            .as_array()
            .unwrap_or_else(|| panic!("{self:?}: errors is an array"))
            .iter()
            .map(|e| InvalidField {
                pointer: e["pointer"].as_str().map(str::to_owned),
                parameter: e["parameter"].as_str().map(str::to_owned),
                reason: e["reason"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    }

    /// The `pointer` of every error, in order.
    pub fn pointers(&self) -> Vec<String> {
        self.errors()
            .into_iter()
            .filter_map(|e| e.pointer)
            .collect()
    }

    /// Asserts the problem is a validation failure naming exactly `pointers`, in any order.
    pub fn expect_pointers(&self, pointers: &[&str]) {
        let mut found = self.pointers();
        found.sort();
        let mut expected: Vec<String> = pointers.iter().map(|p| (*p).to_owned()).collect();
        expected.sort();
        assert_eq!(found, expected, "{self:?}");
    }

    /// Every member the contract requires, consistent with the response and the request.
    fn check(&self, status: u16, method: &str, path: &str) {
        let doc = &self.0;
        let text = |key: &str| {
            doc[key]
                .as_str()
                .unwrap_or_else(|| panic!("{doc}: problem `{key}` must be a string"))
        };
        assert!(
            text("type").starts_with('/'),
            "{doc}: `type` is a relative URI reference"
        );
        assert!(!text("title").is_empty(), "{doc}: `title` is empty");
        assert!(!text("detail").is_empty(), "{doc}: `detail` is empty");
        assert_eq!(
            doc["status"].as_u64(),
            Some(u64::from(status)),
            "{doc}: `status` must equal the HTTP status"
        );
        assert_eq!(
            text("instance"),
            path,
            "{doc}: `instance` is the request path"
        );
        assert_eq!(
            text("method"),
            method,
            "{doc}: `method` is the request method"
        );
        for error in self.errors() {
            assert!(!error.reason.is_empty(), "{doc}: every error has a reason");
            assert!(
                error.pointer.is_some() || error.parameter.is_some(),
                "{doc}: every error names a pointer or a parameter"
            );
        }
        if status < 500 {
            assert!(
                doc.get("error_chain").is_none(),
                "{doc}: internal error chains are for 5xx in debug mode only"
            );
        }
    }
}

/// Unwraps the typed client's answer to a request that must fail with a declared error status,
/// checking that the problem is complete and sent as `application/problem+json`.
pub fn expect_typed_problem<T: fmt::Debug>(
    result: Result<ResponseValue<T>, Error<TypedProblem>>,
    status: u16,
    method: &str,
    path: &str,
) -> TypedProblem {
    let problem = match result {
        Err(Error::ErrorResponse(problem)) => problem,
        other => panic!("{method} {path}: expected a {status} problem, got {other:?}"),
    };
    assert_eq!(problem.status().as_u16(), status, "{method} {path}");
    let media_type = problem
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        media_type.starts_with(PROBLEM_JSON),
        "{method} {path}: problem sent as {media_type:?}"
    );
    assert!(
        problem.headers().contains_key(REQUEST_ID),
        "{method} {path}: no X-Request-Id"
    );
    let problem = problem.into_inner();
    assert_eq!(problem.status, i32::from(status), "{problem:?}");
    assert_eq!(problem.instance, path, "{problem:?}");
    assert_eq!(problem.method, method, "{problem:?}");
    assert!(
        !problem.title.is_empty() && !problem.detail.is_empty(),
        "{problem:?}"
    );
    problem
}
