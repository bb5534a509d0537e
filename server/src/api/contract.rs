//! The contract, `openapi/addressbook.yaml`, compiled into the binary: served as written at
//! `/openapi.yaml`, as JSON at `/openapi.json`, behind Swagger UI at `/docs`, and read for the
//! methods each path allows (the `Allow` header of a 405).

use std::sync::LazyLock;

use poem::web::Html;
use poem::{Endpoint, IntoResponse, Response, handler};
use serde_json::Value;

/// The contract, byte for byte.
pub const CONTRACT_YAML: &str = include_str!("../../../openapi/addressbook.yaml");

static CONTRACT: LazyLock<Value> = LazyLock::new(|| {
    serde_yaml::from_str(CONTRACT_YAML)
        .expect("openapi/addressbook.yaml is valid YAML (checked in CI)")
});

static CONTRACT_JSON: LazyLock<String> =
    LazyLock::new(|| serde_json::to_string_pretty(&*CONTRACT).expect("a JSON value serializes"));

/// Paths served beside the contract's, all read-only.
const DOCUMENT_PATHS: [&str; 3] = ["/openapi.yaml", "/openapi.json", "/docs"];

/// The methods `path` supports, for the `Allow` header.
pub fn allowed_methods(path: &str) -> Vec<String> {
    if DOCUMENT_PATHS.contains(&path) {
        return vec!["GET".to_owned(), "HEAD".to_owned()];
    }
    let Some(paths) = CONTRACT["paths"].as_object() else {
        return Vec::new();
    };
    // The operation keys of an OpenAPI path item, in the order `Allow` lists them.
    const OPERATIONS: [&str; 8] = [
        "get", "head", "post", "put", "patch", "delete", "options", "trace",
    ];
    let declared: Vec<&str> = paths
        .iter()
        .filter(|(template, _)| matches_template(template, path))
        .flat_map(|(_, item)| item.as_object().into_iter().flat_map(|ops| ops.keys()))
        .map(String::as_str)
        .collect();
    OPERATIONS
        .iter()
        // poem answers HEAD wherever it answers GET.
        .filter(|op| declared.contains(op) || (**op == "head" && declared.contains(&"get")))
        .map(|op| op.to_uppercase())
        .collect()
}

/// Whether `path` matches an OpenAPI path template such as `/addresses/{id}`.
fn matches_template(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) if ts.starts_with('{') && ts.ends_with('}') && !ps.is_empty() => {}
            (Some(ts), Some(ps)) if ts == ps => {}
            _ => return false,
        }
    }
}

#[handler]
pub fn openapi_yaml() -> Response {
    CONTRACT_YAML
        .with_content_type("application/yaml")
        .into_response()
}

#[handler]
pub fn openapi_json() -> Response {
    CONTRACT_JSON
        .as_str()
        .with_content_type("application/json")
        .into_response()
}

/// Swagger UI showing the contract itself rather than poem-openapi's rendition of it. poem-openapi
/// only renders its own document, so its page is taken and the document inside swapped.
pub fn swagger_ui(generated_spec: &str, page: String) -> impl Endpoint + use<> {
    let html = page.replacen(generated_spec, &CONTRACT_JSON, 1);
    poem::endpoint::make_sync(move |_| Html(html.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_methods_come_from_the_contract() {
        assert_eq!(allowed_methods("/addresses"), ["GET", "HEAD", "POST"]);
        assert_eq!(
            allowed_methods("/addresses/123"),
            ["GET", "HEAD", "PUT", "PATCH", "DELETE"]
        );
        assert_eq!(allowed_methods("/healthz"), ["GET", "HEAD"]);
        assert!(allowed_methods("/nowhere").is_empty());
    }
}
