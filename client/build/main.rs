//! Generates the typed client from `openapi/addressbook.yaml` with progenitor.
//!
//! The committed spec is never edited; only the in-memory copy handed to the generator is
//! adjusted:
//!
//! * Progenitor only types response bodies declared as `application/json`, while the service
//!   declares its errors as `application/problem+json` (RFC 9457), so those error bodies are
//!   presented as `application/json`. That is safe on the wire: progenitor-client decodes every
//!   typed body with `serde_json::from_slice` on the raw bytes and never looks at the response's
//!   Content-Type.
//! * Progenitor refuses request bodies declared as `application/merge-patch+json` (RFC 7396), so
//!   they are presented as `application/json` too. The generated code then sends
//!   `Content-Type: application/json`; a pre-hook (`crate::patch::use_merge_patch_content_type`)
//!   puts the real media type back on every `PATCH` request. That is exact only while every
//!   `PATCH` operation, and nothing else, takes a merge patch, so the build checks it.
//! * Progenitor gives a header parameter whose schema has a `pattern` a type of its own in every
//!   operation (`ReplaceAddressIfMatch`, `PatchAddressIfMatch`, ...): callers could not pass the
//!   `ETag` they hold as a `&String`, and a failed conversion would say only "conversion to
//!   `ReplaceAddressIfMatch` failed". The patterns are dropped from header parameters, so the
//!   builders take plain strings; the server checks the syntax and answers a malformed header
//!   with a 400 problem naming it.
//! * typify turns the nullable members of `EntryPatch` into plain `Option<T>`, which cannot tell
//!   "leave as is" (absent) from "remove" (`null`). The generated type is replaced by the
//!   hand-written `crate::EntryPatch` (`src/patch.rs`), and the build checks that the schema
//!   still has exactly the shape that type was written for. Its `full_name` schema is lifted
//!   into a component of its own, `EntryPatchFullName`, so that typify still generates the
//!   constrained string type the hand-written struct uses.
//!
//! The generated doc comments carry one usage snippet per operation, fenced as ```` ```ignore ````
//! because they do not compile on their own; they are fenced as ```` ```text ```` instead so that
//! `cargo test --doc` does not report them as ignored tests.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use openapiv3::{
    AdditionalProperties, OpenAPI, Operation, Parameter, ParameterSchemaOrContent, ReferenceOr,
    RequestBody, Response, SchemaKind, Type,
};
use progenitor::{GenerationSettings, Generator, InterfaceStyle, TagStyle, TypeImpl};
use syn::visit_mut::VisitMut;

mod cli;
mod readable;

const PROBLEM_JSON: &str = "application/problem+json";
const MERGE_PATCH_JSON: &str = "application/merge-patch+json";
const JSON: &str = "application/json";

/// The schema replaced by the hand-written `crate::SortOrder` (src/sort.rs), and the values that
/// type was written for, in order.
const SORT_SCHEMA: &str = "SortOrder";
const SORT_VALUES: [&str; 6] = [
    "full_name",
    "-full_name",
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
];

/// The schema replaced by the hand-written `crate::EntryPatch`.
const PATCH_SCHEMA: &str = "EntryPatch";
/// The component `EntryPatch.full_name` is lifted into, so typify generates a type for it.
const PATCH_FULL_NAME_SCHEMA: &str = "EntryPatchFullName";
/// The nullable list of strings `EntryPatch.labels`, whose item schema is lifted into a component
/// for the same reason.
const PATCH_LABELS: &str = "labels";
const PATCH_LABEL_SCHEMA: &str = "EntryPatchLabel";
/// The nullable list members of `EntryPatch` and the component their items refer to; this is
/// what `src/patch.rs` was written for.
const PATCH_LISTS: [(&str, &str); 4] = [
    ("addresses", "PostalAddress"),
    ("phone_numbers", "PhoneNumber"),
    ("fax_numbers", "PhoneNumber"),
    ("emails", "EmailAddress"),
];

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
    println!("cargo:rerun-if-changed=build");

    let mut spec = load_spec(&spec_path)?;
    let adjust = |spec: &mut OpenAPI| -> Result<(), String> {
        present_problem_json_as_json(spec)?;
        present_merge_patch_as_json(spec)?;
        header_parameters_as_plain_strings(spec);
        check_sort_schema(spec)?;
        prepare_patch_schema_for_replacement(spec)
    };
    adjust(&mut spec).map_err(|e| format!("cannot adjust {}: {e}", spec_path.display()))?;

    // Called as `(hook)(&mut request)` right after each request is built, before it is sent
    // (progenitor-impl 0.15.1, `method.rs`), so it can change the request's headers.
    let pre_hook = "crate::patch::use_merge_patch_content_type"
        .parse()
        .map_err(|e| format!("the pre-hook path does not lex: {e}"))?;
    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_pre_hook(pre_hook)
        .with_replacement(
            PATCH_SCHEMA,
            "crate::EntryPatch",
            [TypeImpl::Default].into_iter(),
        )
        .with_replacement(
            SORT_SCHEMA,
            "crate::SortOrder",
            [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
        );
    // The generated CLI prints and bounds its values by `schemars::JsonSchema`.
    let cli = env::var_os("CARGO_FEATURE_CLI").is_some();
    if cli {
        settings.with_derive("schemars::JsonSchema");
    }
    let mut generator = Generator::new(&settings);
    let tokens = generator.generate_tokens(&spec).map_err(|e| {
        format!(
            "progenitor cannot generate a client from {}: {e}",
            spec_path.display()
        )
    })?;
    let mut file: syn::File = syn::parse2(tokens)
        .map_err(|e| format!("progenitor produced code that does not parse: {e}"))?;
    let mut as_text = IgnoredExamplesAsText::default();
    as_text.visit_file_mut(&mut file);
    if as_text.failed {
        return Err("a generated doc comment is not a plain string literal".to_owned());
    }
    readable::apply(&mut file, &spec)?;
    let code = check_base_url_on_construction(prettyplease::unparse(&file))?;

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let out_path = out_dir.join("codegen.rs");
    fs::write(&out_path, code).map_err(|e| format!("cannot write {}: {e}", out_path.display()))?;
    if cli {
        let out_path = out_dir.join("cli.rs");
        fs::write(&out_path, cli::generate(&spec, &settings)?)
            .map_err(|e| format!("cannot write {}: {e}", out_path.display()))?;
    }
    Ok(())
}

/// Both generated constructors end in `new_with_client`, which stores the base URL as given; it
/// is made to store it checked and without a trailing slash (`crate::base_url::normalized`).
fn check_base_url_on_construction(code: String) -> Result<String, String> {
    const STORED: &str = "baseurl: baseurl.to_string(),";
    if code.matches(STORED).count() != 1 {
        return Err(format!(
            "expected `{STORED}` once in the generated code (progenitor's new_with_client); \
             a new progenitor may store the base URL differently"
        ));
    }
    Ok(code.replacen(STORED, "baseurl: crate::base_url::normalized(baseurl),", 1))
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

/// The operations of a path item, with their HTTP method in lower case.
fn operations_mut(item: &mut openapiv3::PathItem) -> [(&'static str, Option<&mut Operation>); 8] {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("options", item.options.as_mut()),
        ("head", item.head.as_mut()),
        ("patch", item.patch.as_mut()),
        ("trace", item.trace.as_mut()),
    ]
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
        for (method, operation) in operations_mut(item) {
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

/// Presents every `application/merge-patch+json` request body as `application/json`, after
/// checking that exactly the `PATCH` operations take one (the pre-hook that restores the real
/// Content-Type goes by the method alone).
fn present_merge_patch_as_json(spec: &mut OpenAPI) -> Result<(), String> {
    let shared_bodies = spec
        .components
        .as_ref()
        .map(|c| c.request_bodies.clone())
        .unwrap_or_default();
    for (path, item) in spec.paths.paths.iter_mut() {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        for (method, operation) in operations_mut(item) {
            let Some(operation) = operation else {
                continue;
            };
            let body = match &operation.request_body {
                None => None,
                Some(ReferenceOr::Item(body)) => Some(body),
                Some(ReferenceOr::Reference { reference }) => {
                    let name = reference
                        .strip_prefix("#/components/requestBodies/")
                        .ok_or_else(|| format!("{method} {path}: unsupported $ref {reference}"))?;
                    match shared_bodies.get(name) {
                        Some(ReferenceOr::Item(body)) => Some(body),
                        _ => return Err(format!("{method} {path}: cannot resolve {reference}")),
                    }
                }
            };
            let takes_merge_patch = body.is_some_and(is_merge_patch);
            if takes_merge_patch != (method == "patch") {
                return Err(format!(
                    "{method} {path}: the client sets `Content-Type: {MERGE_PATCH_JSON}` on \
                     every PATCH request and on nothing else (src/patch.rs), but this operation \
                     {}; adjust the pre-hook",
                    if takes_merge_patch {
                        "takes a merge patch without being a PATCH"
                    } else {
                        "is a PATCH that does not take a merge patch"
                    }
                ));
            }
            if let Some(ReferenceOr::Item(body)) = operation.request_body.as_mut() {
                rename_request_media_type(body);
            }
        }
    }
    if let Some(components) = spec.components.as_mut() {
        for body in components.request_bodies.values_mut() {
            if let ReferenceOr::Item(body) = body {
                rename_request_media_type(body);
            }
        }
    }
    Ok(())
}

/// Whether a request body is a merge patch. Progenitor requires exactly one media type per
/// request body and reports any other shape itself.
fn is_merge_patch(body: &RequestBody) -> bool {
    body.content.keys().any(|k| essence(k) == MERGE_PATCH_JSON)
}

fn rename_request_media_type(body: &mut RequestBody) {
    if !is_merge_patch(body) {
        return;
    }
    body.content = std::mem::take(&mut body.content)
        .into_iter()
        .map(|(media_type, content)| {
            if essence(&media_type) == MERGE_PATCH_JSON {
                (JSON.to_owned(), content)
            } else {
                (media_type, content)
            }
        })
        .collect();
}

/// Drops `pattern` from the schema of every header parameter, shared or written inline.
fn header_parameters_as_plain_strings(spec: &mut OpenAPI) {
    fn plain(parameter: &mut ReferenceOr<Parameter>) {
        let ReferenceOr::Item(Parameter::Header { parameter_data, .. }) = parameter else {
            return;
        };
        if let ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) =
            &mut parameter_data.format
            && let SchemaKind::Type(Type::String(string)) = &mut schema.schema_kind
        {
            string.pattern = None;
        }
    }
    if let Some(components) = spec.components.as_mut() {
        components.parameters.values_mut().for_each(plain);
    }
    for item in spec.paths.paths.values_mut() {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        item.parameters.iter_mut().for_each(plain);
        for (_, operation) in operations_mut(item) {
            if let Some(operation) = operation {
                operation.parameters.iter_mut().for_each(plain);
            }
        }
    }
}

/// Checks that the contract's `SortOrder` still has exactly the values `crate::SortOrder` knows.
fn check_sort_schema(spec: &OpenAPI) -> Result<(), String> {
    let schema = spec
        .components
        .as_ref()
        .and_then(|c| c.schemas.get(SORT_SCHEMA));
    let values: Option<Vec<&str>> = match schema {
        Some(ReferenceOr::Item(schema)) => match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) => {
                string.enumeration.iter().map(|v| v.as_deref()).collect()
            }
            _ => None,
        },
        _ => None,
    };
    if values.as_deref() == Some(&SORT_VALUES[..]) {
        Ok(())
    } else {
        Err(format!(
            "components/schemas/{SORT_SCHEMA} is not the string enum {SORT_VALUES:?} that \
             src/sort.rs replaces it with; update both together"
        ))
    }
}

/// Checks that `EntryPatch` still has the shape the hand-written `crate::EntryPatch` was written
/// for, and lifts its `full_name` schema into the component `EntryPatchFullName`.
fn prepare_patch_schema_for_replacement(spec: &mut OpenAPI) -> Result<(), String> {
    let schemas = &mut spec
        .components
        .as_mut()
        .ok_or("the spec has no components")?
        .schemas;
    for lifted in [PATCH_FULL_NAME_SCHEMA, PATCH_LABEL_SCHEMA] {
        if schemas.contains_key(lifted) {
            return Err(format!(
                "components/schemas/{lifted} already exists; the build script needs that name \
                 for a member of {PATCH_SCHEMA}"
            ));
        }
    }
    let Some(ReferenceOr::Item(patch)) = schemas.get_mut(PATCH_SCHEMA) else {
        return Err(format!(
            "components/schemas/{PATCH_SCHEMA} is missing or a $ref; src/patch.rs replaces it"
        ));
    };
    let mismatch = |what: String| {
        format!(
            "components/schemas/{PATCH_SCHEMA} changed ({what}); update the hand-written \
             EntryPatch in src/patch.rs and the check in build/main.rs"
        )
    };
    let SchemaKind::Type(Type::Object(object)) = &mut patch.schema_kind else {
        return Err(mismatch("not an object".to_owned()));
    };
    if object.additional_properties != Some(AdditionalProperties::Any(false)) {
        return Err(mismatch("additionalProperties is not false".to_owned()));
    }
    if !object.required.is_empty() {
        return Err(mismatch("some members are required".to_owned()));
    }
    let expected: Vec<&str> = ["full_name", PATCH_LABELS]
        .into_iter()
        .chain(PATCH_LISTS.iter().map(|(name, _)| *name))
        .collect();
    let mut actual: Vec<&str> = object.properties.keys().map(String::as_str).collect();
    actual.sort_unstable();
    let mut sorted = expected.clone();
    sorted.sort_unstable();
    if actual != sorted {
        return Err(mismatch(format!(
            "members are {actual:?}, src/patch.rs has {sorted:?}"
        )));
    }
    for (name, item_schema) in PATCH_LISTS {
        let Some(ReferenceOr::Item(list)) = object.properties.get(name) else {
            return Err(mismatch(format!("{name} is a $ref")));
        };
        let SchemaKind::Type(Type::Array(array)) = &list.schema_kind else {
            return Err(mismatch(format!("{name} is not an array")));
        };
        if !list.schema_data.nullable {
            return Err(mismatch(format!("{name} is not nullable")));
        }
        let item_ref = format!("#/components/schemas/{item_schema}");
        let items_ok = matches!(
            &array.items,
            Some(ReferenceOr::Reference { reference }) if *reference == item_ref
        );
        if !items_ok {
            return Err(mismatch(format!("{name} items are not {item_ref}")));
        }
    }
    let label = {
        let Some(ReferenceOr::Item(list)) = object.properties.get_mut(PATCH_LABELS) else {
            return Err(mismatch(format!("{PATCH_LABELS} is a $ref")));
        };
        if !list.schema_data.nullable {
            return Err(mismatch(format!("{PATCH_LABELS} is not nullable")));
        }
        let SchemaKind::Type(Type::Array(array)) = &mut list.schema_kind else {
            return Err(mismatch(format!("{PATCH_LABELS} is not an array")));
        };
        let lifted = ReferenceOr::Reference {
            reference: format!("#/components/schemas/{PATCH_LABEL_SCHEMA}"),
        };
        match array.items.replace(lifted) {
            Some(ReferenceOr::Item(item))
                if matches!(item.schema_kind, SchemaKind::Type(Type::String(_))) =>
            {
                *item
            }
            _ => return Err(mismatch(format!("{PATCH_LABELS} items are not strings"))),
        }
    };
    schemas.insert(PATCH_LABEL_SCHEMA.to_owned(), ReferenceOr::Item(label));
    let Some(ReferenceOr::Item(patch)) = schemas.get_mut(PATCH_SCHEMA) else {
        return Err(mismatch("vanished".to_owned()));
    };
    let SchemaKind::Type(Type::Object(object)) = &mut patch.schema_kind else {
        return Err(mismatch("not an object".to_owned()));
    };
    let full_name_ref = ReferenceOr::Reference {
        reference: format!("#/components/schemas/{PATCH_FULL_NAME_SCHEMA}"),
    };
    let full_name = match object
        .properties
        .insert("full_name".to_owned(), full_name_ref)
    {
        Some(ReferenceOr::Item(schema)) => *schema,
        _ => return Err(mismatch("full_name is a $ref".to_owned())),
    };
    if full_name.schema_data.nullable
        || !matches!(full_name.schema_kind, SchemaKind::Type(Type::String(_)))
    {
        return Err(mismatch(
            "full_name is not a non-nullable string".to_owned(),
        ));
    }
    schemas.insert(
        PATCH_FULL_NAME_SCHEMA.to_owned(),
        ReferenceOr::Item(full_name),
    );
    Ok(())
}

/// Fences progenitor's ```` ```ignore ```` usage snippets as ```` ```text ````: they are
/// fragments (`client` and the parameters are not defined), so they could never run as doctests,
/// and `ignore` only makes every `cargo test --doc` report them as ignored.
#[derive(Default)]
struct IgnoredExamplesAsText {
    failed: bool,
}

impl VisitMut for IgnoredExamplesAsText {
    fn visit_attribute_mut(&mut self, attribute: &mut syn::Attribute) {
        let syn::Meta::NameValue(doc) = &mut attribute.meta else {
            return;
        };
        if !doc.path.is_ident("doc") {
            return;
        }
        match &mut doc.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => {
                let value = text.value();
                if value.contains("```ignore") {
                    *text = syn::LitStr::new(&value.replace("```ignore", "```text"), text.span());
                }
            }
            _ => self.failed = true,
        }
    }
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
