//! Semantic comparison of two OpenAPI 3.0 documents held as `serde_json::Value`.
//!
//! The hand-written contract (`openapi/addressbook.yaml`) and the document poem-openapi generates
//! from the handlers say the same things in different ways: shared `$ref`s against inlined copies,
//! `charset` parameters, upper-cased header names, `100.0` for `100`, spelled-out defaults, prose.
//! [`normalize`] removes those differences of form; [`differences`] then lists every difference
//! of substance, each with the JSON path where it sits.
// Each test binary that pulls in `support` uses only part of this module.
#![allow(dead_code)]

use serde_json::{Map, Number, Value, json};
use std::collections::BTreeSet;

/// The keys of a path item that hold operations.
const METHODS: &str = "get put post delete options head patch trace";
/// Prose and samples: they document, they do not constrain.
const PROSE: &str = "title description summary example examples";
/// Keywords whose `false` is the specification's default, so spelling it out changes nothing.
const FALSE_DEFAULTS: &str = "deprecated nullable readOnly writeOnly allowEmptyValue required \
    uniqueItems exclusiveMinimum exclusiveMaximum";
/// Keys whose value maps *names* (properties, status codes, header names, media types, paths) to
/// keyword objects: a property called `title` is data there, not the `title` keyword.
const NAME_MAPS: &str = "properties paths responses content headers schemas securitySchemes \
    links encoding";
/// Keys whose value is plain data (enum members, defaults, scope lists), compared as is.
const DATA: &str = "default enum security scopes mapping";
/// Keys where missing and empty mean the same, and poem-openapi writes either.
const EMPTY_IS_MISSING: &str = "content headers properties parameters required tags";
/// Component sections whose refs get inlined, so dropped afterwards; only schemas stay shared.
const INLINED: &str = "responses parameters requestBodies headers examples";

fn listed(list: &str, key: &str) -> bool {
    list.split_whitespace().any(|k| k == key)
}

/// Returns `doc` in canonical form: documents that mean the same normalise to equal values. It
/// applies every rule that holds for both sides; [`differences`] adds one for the contract only.
pub fn normalize(doc: &Value) -> Value {
    normalize_side(doc, false)
}

/// Normalises both documents and lists how they differ, as `json.path: contract X, generated Y`.
/// An empty list means the generated document says exactly what the contract says.
///
/// One rule is asymmetric: `additionalProperties: false` is dropped from the contract only.
/// poem-openapi cannot express it (its schema model has no boolean form) while the server refuses
/// unknown properties in its own validation, so the contract's `false` is honoured by code the
/// document cannot show. Any `additionalProperties` the generated side does emit still shows up.
pub fn differences(contract: &Value, generated: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let contract = normalize_side(contract, true);
    diff(Some(&contract), Some(&normalize(generated)), "", &mut out);
    out
}

fn normalize_side(doc: &Value, contract: bool) -> Value {
    let mut out = doc.clone();
    inline_refs(&mut out, doc, 0);
    if let Some(root) = out.as_object_mut() {
        if let Some(Value::Object(components)) = root.get_mut("components") {
            components.retain(|section, _| !listed(INLINED, section));
        }
        root.retain(|key, value| !(key == "components" && is_empty(value)));
        // Deployment details and grouping for documentation viewers, not part of the interface.
        root.remove("servers");
        root.remove("tags");
        if let Some(info) = root.get_mut("info") {
            *info = json!({ "version": info.get_mut("version").map(Value::take) });
        }
        // poem-openapi says 3.0.0 whatever it supports; 3.0 patch releases differ only in prose.
        if let Some(Value::String(version)) = root.get_mut("openapi") {
            *version = version.split('.').take(2).collect::<Vec<_>>().join(".");
        }
        // Without top-level requirements, an operation's `security: []` ("no credential") says
        // what leaving it out says; poem-openapi can only leave it out.
        let open_by_default = root.get("security").is_none_or(is_empty);
        if let Some(Value::Object(paths)) = root.get_mut("paths") {
            let items = paths.values_mut().filter_map(Value::as_object_mut);
            for item in items {
                merge_path_parameters(item);
                if open_by_default {
                    drop_empty_security(item);
                }
            }
        }
    }
    clean(&mut out, Ctx::Keywords, contract);
    out
}

/// Replaces every local `$ref` that does not name a schema by a copy of its target. Schema refs
/// stay refs because both sides use them and `components.schemas` is compared on its own.
/// Unresolvable refs (and cycles, cut off by `depth`) are left alone to surface as differences.
fn inline_refs(value: &mut Value, doc: &Value, depth: usize) {
    let reference = value
        .get("$ref")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let target = match reference.strip_prefix('#') {
        Some(pointer) if !pointer.starts_with("/components/schemas/") && depth < 32 => {
            doc.pointer(pointer)
        }
        _ => None,
    };
    match (target, value) {
        (Some(target), value) => {
            *value = target.clone();
            inline_refs(value, doc, depth + 1);
        }
        (None, Value::Object(map)) => map.values_mut().for_each(|v| inline_refs(v, doc, depth)),
        (None, Value::Array(items)) => items.iter_mut().for_each(|v| inline_refs(v, doc, depth)),
        _ => {}
    }
}

/// Copies path-level parameters into each operation (an operation's own parameter with the same
/// name and location wins, as OpenAPI says); poem-openapi repeats them in every operation.
fn merge_path_parameters(item: &mut Map<String, Value>) {
    let Some(Value::Array(shared)) = item.remove("parameters") else {
        return;
    };
    for method in METHODS.split_whitespace() {
        let Some(Value::Object(op)) = item.get_mut(method) else {
            continue;
        };
        let params = op.entry("parameters").or_insert_with(|| json!([]));
        let Value::Array(params) = params else {
            continue;
        };
        for param in &shared {
            if !params.iter().any(|p| param_key(p) == param_key(param)) {
                params.push(param.clone());
            }
        }
    }
}

fn drop_empty_security(item: &mut Map<String, Value>) {
    for method in METHODS.split_whitespace() {
        if let Some(Value::Object(op)) = item.get_mut(method)
            && op.get("security").is_some_and(is_empty)
        {
            op.remove("security");
        }
    }
}

fn param_key(param: &Value) -> (String, String) {
    let field = |k: &str| param[k].as_str().unwrap_or_default().to_owned();
    (field("in"), field("name"))
}

#[derive(Clone, Copy)]
enum Ctx {
    /// An OpenAPI or JSON Schema object: its keys are keywords.
    Keywords,
    /// A map from names to keyword objects.
    Names,
    /// Literal data: only numbers are canonicalised.
    Data,
}

fn clean(value: &mut Value, ctx: Ctx, contract: bool) {
    match (value, ctx) {
        // 100 and 100.0 are the same bound; f64 is the one form every JSON number fits.
        (Value::Number(n), _) => *n = n.as_f64().and_then(Number::from_f64).unwrap_or(n.clone()),
        (Value::Array(items), _) => items.iter_mut().for_each(|v| clean(v, ctx, contract)),
        (Value::Object(map), Ctx::Keywords) => clean_keywords(map, contract),
        (Value::Object(map), Ctx::Names) => {
            map.values_mut()
                .for_each(|v| clean(v, Ctx::Keywords, contract));
        }
        (Value::Object(map), Ctx::Data) => {
            map.values_mut().for_each(|v| clean(v, Ctx::Data, contract));
        }
        _ => {}
    }
}

fn clean_keywords(map: &mut Map<String, Value>, contract: bool) {
    // A path parameter must say `required: true`; a `false` there is an error worth seeing.
    let in_path = map.get("in").and_then(Value::as_str) == Some("path");
    map.retain(|key, value| {
        let is_false = value.as_bool() == Some(false);
        let noise = listed(PROSE, key)
            || (is_false && listed(FALSE_DEFAULTS, key) && !(in_path && key == "required"))
            || (is_false && contract && key == "additionalProperties");
        !noise
    });
    for (key, value) in map.iter_mut() {
        let ctx = match key.as_str() {
            k if listed(NAME_MAPS, k) => Ctx::Names,
            k if listed(DATA, k) || k.starts_with("x-") => Ctx::Data,
            _ => Ctx::Keywords,
        };
        clean(value, ctx, contract);
        match (key.as_str(), value) {
            // Media types are case-insensitive and `; charset=utf-8` adds nothing to JSON.
            ("content", Value::Object(media)) => rekey(media, |k| {
                k.split(';').next().unwrap_or(k).trim().to_ascii_lowercase()
            }),
            // HTTP header names are case-insensitive; poem-openapi upper-cases them.
            ("headers", Value::Object(headers)) => rekey(headers, str::to_ascii_lowercase),
            ("required" | "tags", Value::Array(names)) => names.sort_by_key(ToString::to_string),
            ("parameters", Value::Array(params)) => params.sort_by_key(param_key),
            _ => {}
        }
    }
    map.retain(|key, value| !(listed(EMPTY_IS_MISSING, key) && is_empty(value)));
    if let Some(location) = map.get("in").and_then(Value::as_str) {
        let default = match location {
            "query" | "cookie" => "form",
            _ => "simple",
        };
        drop_default_style(map, default);
    }
    collapse_all_of(map);
}

fn rekey(map: &mut Map<String, Value>, key: impl Fn(&str) -> String) {
    *map = std::mem::take(map)
        .into_iter()
        .map(|(k, v)| (key(&k), v))
        .collect();
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Drops a parameter's `style` and `explode` where they say what its location implies anyway.
/// `simple` style writes scalars and arrays the same with or without `explode`, so the
/// `explode: true` poem-openapi puts on every path and header parameter goes too.
fn drop_default_style(param: &mut Map<String, Value>, default: &str) {
    let style = param
        .get("style")
        .and_then(Value::as_str)
        .unwrap_or(default);
    let (simple, form) = (style == "simple", style == "form");
    if style == default {
        param.remove("style");
    }
    if let Some(explode) = param.get("explode").and_then(Value::as_bool)
        && (simple || explode == form)
    {
        param.remove("explode");
    }
}

/// poem-openapi wraps a documented `$ref` as `allOf: [{$ref}, {description}]`; once prose is
/// gone the empty members constrain nothing and a lone member is the schema itself.
fn collapse_all_of(map: &mut Map<String, Value>) {
    let alone = map.len() == 1;
    let Some(Value::Array(members)) = map.get_mut("allOf") else {
        return;
    };
    members.retain(|m| !is_empty(m));
    if alone && let [Value::Object(only)] = members.as_mut_slice() {
        *map = std::mem::take(only);
    }
}

fn diff(contract: Option<&Value>, generated: Option<&Value>, path: &str, out: &mut Vec<String>) {
    let dot = if path.is_empty() { "" } else { "." };
    match (contract, generated) {
        (Some(Value::Object(c)), Some(Value::Object(g))) => {
            for key in c.keys().chain(g.keys()).collect::<BTreeSet<_>>() {
                diff(c.get(key), g.get(key), &format!("{path}{dot}{key}"), out);
            }
        }
        // Parameters are matched by location and name, so one missing shifts nothing else.
        (Some(Value::Array(c)), Some(Value::Array(g))) if is_param_list(c) && is_param_list(g) => {
            for (at, name) in c.iter().chain(g).map(param_key).collect::<BTreeSet<_>>() {
                let here = format!("{path}[{at} {name}]");
                let key = (at, name);
                let find = |list: &[Value]| list.iter().find(|p| param_key(p) == key).cloned();
                diff(find(c).as_ref(), find(g).as_ref(), &here, out);
            }
        }
        // Other lists of objects (`allOf`, ...) are compared member by member.
        (Some(Value::Array(c)), Some(Value::Array(g)))
            if c.len() == g.len() && c.iter().any(Value::is_object) =>
        {
            for (i, (c, g)) in c.iter().zip(g).enumerate() {
                diff(Some(c), Some(g), &format!("{path}[{i}]"), out);
            }
        }
        (c, g) if c != g => out.push(format!(
            "{path}: contract {}, generated {}",
            show(c),
            show(g)
        )),
        _ => {}
    }
}

fn is_param_list(items: &[Value]) -> bool {
    let is_param = |p: &Value| p.get("in").is_some() && p.get("name").is_some();
    !items.is_empty() && items.iter().all(is_param)
}

fn show(value: Option<&Value>) -> String {
    let text = value.map_or_else(|| "missing".to_owned(), Value::to_string);
    match text.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Change = fn(&mut Value);

    fn schema(name: &str) -> Value {
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    /// A slice of the contract in its own style: shared components, prose, defaults left out.
    fn contract() -> Value {
        let problem = json!({"application/problem+json": {"schema": schema("Problem")}});
        json!({
            "openapi": "3.0.3", "info": {"title": "Address Book API", "version": "1.0.0"},
            "servers": [{"url": "http://127.0.0.1:8080"}], "tags": [{"name": "addresses"}],
            "paths": {
                "/addresses": {"post": {
                    "tags": ["addresses"], "operationId": "createAddress", "summary": "Create",
                    "requestBody": {"$ref": "#/components/requestBodies/EntryInput"},
                    "responses": {
                        "201": {"description": "Stored.",
                            "headers": {"Location": {"$ref": "#/components/headers/Location"}},
                            "content": {"application/json": {"schema": schema("EntryInput")}}},
                        "400": {"$ref": "#/components/responses/Invalid"}}}},
                "/addresses/{id}": {
                    "parameters": [{"$ref": "#/components/parameters/EntryId"}],
                    "get": {"operationId": "getAddress",
                        "parameters": [{"name": "limit", "in": "query", "required": false,
                            "schema": {"type": "integer", "maximum": 100}}],
                        "responses": {"204": {"description": "Done."},
                            "404": {"$ref": "#/components/responses/Invalid"}}}}},
            "components": {
                "parameters": {"EntryId": {"name": "id", "in": "path", "required": true,
                    "description": "The id.", "schema": {"type": "string", "format": "uuid"}}},
                "headers": {"Location": {"required": true, "schema": {"type": "string"},
                    "example": "/addresses/1"}},
                "requestBodies": {"EntryInput": {"required": true,
                    "content": {"application/json": {"schema": schema("EntryInput")}}}},
                "responses": {"Invalid": {"description": "Refused.", "content": problem}},
                "schemas": {
                    "EntryInput": {"type": "object", "additionalProperties": false,
                        "required": ["full_name", "emails"], "properties": {
                            "full_name": {"type": "string", "maxLength": 200, "example": "Holmes"},
                            "kind": schema("Kind"),
                            "emails": {"type": "array",
                                "items": {"type": "string", "format": "email"}}}},
                    "Kind": {"type": "string", "enum": ["home", "work"]},
                    "Problem": {"type": "object", "description": "RFC 9457.",
                        "required": ["type", "title"], "properties": {
                            "type": {"type": "string"}, "title": {"type": "string"}}}}}
        })
    }

    /// The same API as poem-openapi 5.1 writes it.
    fn generated() -> Value {
        let problem =
            json!({"application/problem+json; charset=utf-8": {"schema": schema("Problem")}});
        let input = json!({"application/json; charset=utf-8": {"schema": schema("EntryInput")}});
        json!({
            "openapi": "3.0.0", "info": {"title": "server", "version": "1.0.0"}, "servers": [],
            "tags": [{"name": "addresses"}, {"name": "health"}],
            "paths": {
                "/addresses": {"post": {
                    "tags": ["addresses"], "operationId": "createAddress",
                    "requestBody": {"required": true, "content": input.clone()},
                    "responses": {
                        "201": {"description": "Stored.", "content": input,
                            "headers": {"LOCATION": {"required": true, "deprecated": false,
                                "schema": {"type": "string"}}}},
                        "400": {"description": "Refused.", "content": problem.clone()}}}},
                "/addresses/{id}": {"get": {
                    "operationId": "getAddress",
                    "parameters": [
                        {"name": "id", "in": "path", "required": true, "deprecated": false,
                            "explode": true, "schema": {"type": "string", "format": "uuid"}},
                        {"name": "limit", "in": "query", "required": false, "deprecated": false,
                            "explode": true, "schema": {"type": "integer", "maximum": 100.0}}],
                    "responses": {"204": {"description": "Done.", "content": {}},
                        "404": {"description": "Refused.", "content": problem}}}}},
            "components": {"schemas": {
                "EntryInput": {"type": "object", "title": "EntryInput",
                    "required": ["emails", "full_name"], "properties": {
                        "full_name": {"type": "string", "maxLength": 200},
                        "kind": {"allOf": [schema("Kind"), {"description": "Use."}],
                            "description": "Use."},
                        "emails": {"type": "array",
                            "items": {"type": "string", "format": "email"}}}},
                "Kind": {"type": "string", "title": "Kind", "enum": ["home", "work"]},
                "Problem": {"type": "object", "title": "Problem", "required": ["title", "type"],
                    "properties": {"title": {"type": "string"}, "type": {"type": "string"}}}}}
        })
    }

    fn at<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Value {
        let found = doc.pointer_mut(pointer);
        found.unwrap_or_else(|| panic!("fixture has no {pointer}"))
    }

    fn object<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Map<String, Value> {
        at(doc, pointer).as_object_mut().expect("fixture object")
    }

    fn rename(doc: &mut Value, pointer: &str, from: &str, to: &str) {
        let map = object(doc, pointer);
        let value = map.remove(from).expect("fixture key");
        map.insert(to.to_owned(), value);
    }

    /// Every difference found once `change` is applied to the generated document.
    fn found_after(change: impl FnOnce(&mut Value)) -> Vec<String> {
        let mut generated = generated();
        change(&mut generated);
        differences(&contract(), &generated)
    }

    #[test]
    fn same_api_in_both_styles_is_equal() {
        assert_eq!(differences(&contract(), &generated()), Vec::<String>::new());
        assert_eq!(normalize(&generated()), normalize(&normalize(&generated())));
    }

    #[test]
    fn deliberate_changes_are_caught_with_their_path() {
        const POST: &str = "/paths/~1addresses/post";
        const ID_GET: &str = "/paths/~1addresses~1{id}/get";
        const INPUT: &str = "/components/schemas/EntryInput";
        const LOCATION: &str = "/paths/~1addresses/post/responses/201/headers/LOCATION";
        let cases: [(&str, Change); 9] = [
            (
                r#"paths./addresses.post.operationId: contract "createAddress", generated "add""#,
                |d| *at(d, &format!("{POST}/operationId")) = json!("add"),
            ),
            ("paths./addresses/{id}.get.responses.404: contract {", |d| {
                object(d, &format!("{ID_GET}/responses")).remove("404");
            }),
            (
                "paths./addresses.post.responses.201.headers.location.required: contract true, \
                 generated missing",
                |d| *at(d, &format!("{LOCATION}/required")) = json!(false),
            ),
            (
                "paths./addresses.post.responses.201.content.application/json: contract {",
                |d| {
                    let content = format!("{POST}/responses/201/content");
                    let json = "application/json; charset=utf-8";
                    rename(d, &content, json, "application/problem+json");
                },
            ),
            (
                r#"components.schemas.EntryInput.properties.emails.items.format: contract "email""#,
                |d| *at(d, &format!("{INPUT}/properties/emails/items/format")) = "idn-email".into(),
            ),
            (
                "components.schemas.EntryInput.properties.full_name.maxLength: contract 200.0, \
                 generated 201.0",
                |d| *at(d, &format!("{INPUT}/properties/full_name/maxLength")) = json!(201),
            ),
            (
                "components.schemas.EntryInput.properties.full_name: contract {",
                |d| rename(d, &format!("{INPUT}/properties"), "full_name", "fullName"),
            ),
            (
                r#"components.schemas.EntryInput.required: contract ["emails","full_name"], "#,
                |d| *at(d, &format!("{INPUT}/required")) = json!(["emails", "full_name", "kind"]),
            ),
            (
                // Parameters are told apart by location and name, not by position.
                "paths./addresses/{id}.get.parameters[query limit].schema.maximum: contract 100.0",
                |d| *at(d, &format!("{ID_GET}/parameters/1/schema/maximum")) = json!(99),
            ),
        ];
        for (expected, change) in cases {
            let found = found_after(change);
            let hit = found.iter().any(|d| d.starts_with(expected));
            assert!(hit, "no `{expected}` in {found:#?}");
        }
    }

    #[test]
    fn no_credential_is_the_default_only_without_top_level_security() {
        let mut open = contract();
        object(&mut open, "/paths/~1addresses/post").insert("security".into(), json!([]));
        assert_eq!(differences(&open, &generated()), Vec::<String>::new());

        let mut closed = open.clone();
        closed["security"] = json!([{"apiKeyAuth": []}]);
        let mut generated = generated();
        generated["security"] = closed["security"].clone();
        let found = differences(&closed, &generated);
        let expected = "paths./addresses.post.security: contract [], generated missing";
        assert_eq!(found, [expected]);
    }

    #[test]
    fn closed_objects_are_opened_on_the_contract_side_only() {
        // The contract's `additionalProperties: false` on EntryInput was dropped to get equality;
        // the same keyword on the generated side must still be reported.
        let found = found_after(|d| {
            object(d, "/components/schemas/EntryInput")
                .insert("additionalProperties".into(), false.into());
        });
        let expected =
            "components.schemas.EntryInput.additionalProperties: contract missing, generated false";
        assert_eq!(found, [expected]);
    }

    #[test]
    fn property_names_are_data_not_keywords() {
        let schema = json!({"title": "Problem", "type": "object", "description": "A problem.",
            "properties": {"title": {"type": "string", "title": "T"}, "description": {},
                "type": {}}});
        let expected = json!({"type": "object",
            "properties": {"title": {"type": "string"}, "description": {}, "type": {}}});
        assert_eq!(normalize(&schema), expected);
        let (problem, ty) = (
            "/components/schemas/Problem/properties",
            r#"{"type":"string"}"#,
        );
        let found = found_after(|d| rename(d, problem, "title", "x"));
        let expected = [
            format!(
                "components.schemas.Problem.properties.title: contract {ty}, generated missing"
            ),
            format!("components.schemas.Problem.properties.x: contract missing, generated {ty}"),
        ];
        assert_eq!(found, expected);
    }
}
