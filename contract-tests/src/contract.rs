//! The contract itself, `openapi/addressbook.yaml`, read the way a client author would read it:
//! which operations exist and which statuses each one declares.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::LazyLock;

use serde_json::Value;

use crate::binary::workspace_root;

/// The operation keys of an OpenAPI path item.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One response an operation declares: `("/addresses/{id}", "PUT", 204)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeclaredResponse {
    /// The path template as the contract writes it.
    pub path: String,
    /// Upper case, as on the wire.
    pub method: String,
    pub status: u16,
}

impl std::fmt::Display for DeclaredResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} → {}", self.method, self.path, self.status)
    }
}

pub fn path() -> PathBuf {
    workspace_root().join("openapi/addressbook.yaml")
}

/// The contract file's bytes.
pub fn bytes() -> Vec<u8> {
    std::fs::read(path()).expect("openapi/addressbook.yaml is readable")
}

/// The contract as a JSON value.
pub fn document() -> &'static Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
        serde_yaml::from_slice(&bytes()).expect("openapi/addressbook.yaml is valid YAML")
    });
    &DOCUMENT
}

/// `info.title`.
pub fn title() -> &'static str {
    document()["info"]["title"]
        .as_str()
        .expect("the contract has info.title")
}

/// Every (path, method, status) the contract declares.
pub fn declared_responses() -> BTreeSet<DeclaredResponse> {
    let paths = document()["paths"]
        .as_object()
        .expect("the contract has paths");
    let mut declared = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(responses) = item[method]["responses"].as_object() else {
                continue;
            };
            for status in responses.keys() {
                let status = status.parse().unwrap_or_else(|_| {
                    panic!(
                        "{method} {path} declares a response {status:?} that is not a status code"
                    )
                });
                declared.insert(DeclaredResponse {
                    path: path.clone(),
                    method: method.to_uppercase(),
                    status,
                });
            }
        }
    }
    declared
}

/// The template of `paths` that a concrete request path matches, e.g. `/addresses/{id}` for
/// `/addresses/123`.
pub fn template_of(path: &str) -> Option<String> {
    let paths = document()["paths"].as_object()?;
    paths
        .keys()
        .find(|template| matches_template(template, path))
        .cloned()
}

fn matches_template(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) if ts.starts_with('{') && ts.ends_with('}') => {
                if ps.is_empty() {
                    return false;
                }
            }
            (Some(ts), Some(ps)) if ts == ps => {}
            _ => return false,
        }
    }
}
