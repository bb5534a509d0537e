//! Generates the typed client from `openapi/addressbook.yaml` with progenitor.
//!
//! The committed spec is never edited. Progenitor only types response bodies declared as
//! `application/json`, while the service declares its errors as `application/problem+json`
//! (RFC 9457), so the in-memory copy handed to the generator presents those error bodies as
//! `application/json`. That is safe on the wire: progenitor-client decodes every typed body with
//! `serde_json::from_slice` on the raw bytes and never looks at the response's Content-Type.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use openapiv3::{OpenAPI, Operation, ReferenceOr, Response};
use progenitor::{GenerationSettings, Generator, InterfaceStyle, TagStyle};

const PROBLEM_JSON: &str = "application/problem+json";
const JSON: &str = "application/json";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // Plain stderr plus a non-zero exit makes cargo show the message verbatim; a panic
            // would bury it under a backtrace hint.
            eprintln!("error: addressbook-client build script: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?);
    let spec_path = manifest_dir.join("../openapi/addressbook.yaml");
    println!("cargo:rerun-if-changed=../openapi/addressbook.yaml");
    println!("cargo:rerun-if-changed=build.rs");

    let mut spec = load_spec(&spec_path)?;
    present_problem_json_as_json(&mut spec)
        .map_err(|e| format!("cannot adjust {}: {e}", spec_path.display()))?;

    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged);
    let mut generator = Generator::new(&settings);
    let tokens = generator.generate_tokens(&spec).map_err(|e| {
        format!(
            "progenitor cannot generate a client from {}: {e}",
            spec_path.display()
        )
    })?;
    let file: syn::File = syn::parse2(tokens)
        .map_err(|e| format!("progenitor produced code that does not parse: {e}"))?;
    let code = prettyplease::unparse(&file);

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let out_path = out_dir.join("codegen.rs");
    fs::write(&out_path, code).map_err(|e| format!("cannot write {}: {e}", out_path.display()))?;
    Ok(())
}

fn load_spec(path: &Path) -> Result<OpenAPI, String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| {
        format!(
            "{} is not a valid OpenAPI 3.0 document: {e}",
            path.display()
        )
    })
}

/// Renames every `application/problem+json` response media type to `application/json`, both in
/// `components/responses` and in responses written inline in operations.
fn present_problem_json_as_json(spec: &mut OpenAPI) -> Result<(), String> {
    if let Some(components) = spec.components.as_mut() {
        for (name, response) in components.responses.iter_mut() {
            if let ReferenceOr::Item(response) = response {
                rename_media_type(response)
                    .map_err(|e| format!("components/responses/{name}: {e}"))?;
            }
        }
    }
    for (path, item) in spec.paths.paths.iter_mut() {
        // A `$ref`'d path item is left alone: progenitor refuses those anyway, with its own
        // error, and the spec does not use them.
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        let operations: [(&str, Option<&mut Operation>); 8] = [
            ("get", item.get.as_mut()),
            ("put", item.put.as_mut()),
            ("post", item.post.as_mut()),
            ("delete", item.delete.as_mut()),
            ("options", item.options.as_mut()),
            ("head", item.head.as_mut()),
            ("patch", item.patch.as_mut()),
            ("trace", item.trace.as_mut()),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else {
                continue;
            };
            let responses = operation
                .responses
                .default
                .iter_mut()
                .map(|r| ("default".to_owned(), r));
            let responses = responses.chain(
                operation
                    .responses
                    .responses
                    .iter_mut()
                    .map(|(status, r)| (status.to_string(), r)),
            );
            for (status, response) in responses {
                // `$ref` responses point into components/responses, handled above.
                if let ReferenceOr::Item(response) = response {
                    rename_media_type(response)
                        .map_err(|e| format!("{method} {path} response {status}: {e}"))?;
                }
            }
        }
    }
    Ok(())
}

/// Renames `application/problem+json` (keeping any parameters such as `charset`) to
/// `application/json` in one response, keeping the order of its media types.
fn rename_media_type(response: &mut Response) -> Result<(), String> {
    let has_json = response.content.keys().any(|k| essence(k) == JSON);
    let has_problem = response.content.keys().any(|k| essence(k) == PROBLEM_JSON);
    if has_json && has_problem {
        // Two bodies for one status cannot both become `application/json`; silently dropping
        // one would hide a contract change, so the build stops instead.
        return Err(format!(
            "declares both {JSON} and {PROBLEM_JSON}; the client generator can type only one"
        ));
    }
    if !has_problem {
        return Ok(());
    }
    response.content = std::mem::take(&mut response.content)
        .into_iter()
        .map(|(media_type, body)| {
            if essence(&media_type) == PROBLEM_JSON {
                let params = &media_type[media_type.find(';').unwrap_or(media_type.len())..];
                (format!("{JSON}{params}"), body)
            } else {
                (media_type, body)
            }
        })
        .collect();
    Ok(())
}

/// The media type without parameters, lower-cased (media type names are case-insensitive).
fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}
