//! The contract, `openapi/addressbook.yaml`, compiled into the binary: served as written at
//! `/openapi.yaml` (with the deployment's public URL added under `servers` when one is
//! configured), as JSON at `/openapi.json`, behind Swagger UI at `/docs`, and read for the
//! methods each path allows (the `Allow` header of a 405).

use std::sync::{Arc, LazyLock};

use poem::web::Html;
use poem::{Endpoint, IntoResponse};
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
    // A path the contract names literally (`/addresses/batch`) is routed to it alone, never to
    // a template it also matches (`/addresses/{id}`).
    let literal = paths.contains_key(path);
    let declared: Vec<&str> = paths
        .iter()
        .filter(|(template, _)| {
            if literal {
                template.as_str() == path
            } else {
                matches_template(template, path)
            }
        })
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

/// The documents as served: the contract as written, or, with a public URL configured
/// (`server.public_url`), with that URL listed first under `servers` so that "Try it out" calls
/// this deployment. Nothing else differs from the file.
pub struct Documents {
    yaml: Arc<str>,
    json: Arc<str>,
}

impl Documents {
    pub fn new(public_url: Option<&str>) -> Self {
        let Some(url) = public_url else {
            return Self {
                yaml: CONTRACT_YAML.into(),
                json: CONTRACT_JSON.as_str().into(),
            };
        };
        let url = url.trim_end_matches('/');
        let entry = format!(
            "  - url: {}\n    description: This deployment (server.public_url).\n",
            serde_json::Value::from(url)
        );
        let yaml = CONTRACT_YAML.replacen("\nservers:\n", &format!("\nservers:\n{entry}"), 1);
        let mut json = CONTRACT.clone();
        if let Some(servers) = json["servers"].as_array_mut() {
            servers.insert(
                0,
                serde_json::json!({"url": url, "description": "This deployment (server.public_url)."}),
            );
        }
        Self {
            yaml: yaml.into(),
            json: serde_json::to_string_pretty(&json)
                .expect("a JSON value serializes")
                .into(),
        }
    }

    pub fn yaml(&self) -> impl Endpoint + use<> {
        let yaml = self.yaml.clone();
        poem::endpoint::make_sync(move |_| {
            yaml.to_string()
                .with_content_type("application/yaml")
                .into_response()
        })
    }

    pub fn json(&self) -> impl Endpoint + use<> {
        let json = self.json.clone();
        poem::endpoint::make_sync(move |_| {
            json.to_string()
                .with_content_type("application/json")
                .into_response()
        })
    }

    /// Swagger UI showing the contract itself rather than poem-openapi's rendition of it.
    /// poem-openapi only renders its own document, so its page is taken and the document inside
    /// swapped.
    pub fn swagger_ui(&self, generated_spec: &str, page: String) -> impl Endpoint + use<> {
        let html = page.replacen(generated_spec, &self.json, 1);
        poem::endpoint::make_sync(move |_| Html(html.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_url_is_listed_first_and_nothing_else_changes() {
        let plain = Documents::new(None);
        assert_eq!(&*plain.yaml, CONTRACT_YAML);
        let public = Documents::new(Some("https://book.example/api/"));
        let yaml: Value = serde_yaml::from_str(&public.yaml).expect("still YAML");
        assert_eq!(yaml["servers"][0]["url"], "https://book.example/api");
        assert_eq!(yaml["servers"][1], CONTRACT["servers"][0]);
        let json: Value = serde_json::from_str(&public.json).expect("JSON");
        assert_eq!(json, yaml);
        let mut without = yaml.clone();
        without["servers"].as_array_mut().expect("a list").remove(0);
        assert_eq!(without, *CONTRACT);
    }

    #[test]
    fn allowed_methods_come_from_the_contract() {
        assert_eq!(allowed_methods("/addresses"), ["GET", "HEAD", "POST"]);
        assert_eq!(
            allowed_methods("/addresses/123"),
            ["GET", "HEAD", "PUT", "PATCH", "DELETE"]
        );
        assert_eq!(allowed_methods("/addresses/batch"), ["POST"]);
        assert_eq!(allowed_methods("/healthz"), ["GET", "HEAD"]);
        assert!(allowed_methods("/nowhere").is_empty());
    }
}
