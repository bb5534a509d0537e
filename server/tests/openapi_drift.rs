//! The server's own OpenAPI document (what poem-openapi derives from the handlers) says exactly
//! what the contract, `openapi/addressbook.yaml`, says. Wording (titles, descriptions, examples)
//! may differ; operations, parameters, statuses, media types, headers and schemas may not.

#[path = "support/openapi_normalize.rs"]
mod openapi_normalize;

use openapi_normalize::differences;
use serde_json::{Value, json};

fn contract() -> Value {
    serde_yaml::from_str(addressbook_server::api::CONTRACT_YAML)
        .expect("the contract is valid YAML")
}

fn generated() -> Value {
    serde_json::from_str(&addressbook_server::api::generated_document())
        .expect("poem-openapi writes JSON")
}

#[test]
fn the_generated_document_matches_the_contract() {
    let found = differences(&contract(), &generated());
    assert!(
        found.is_empty(),
        "the server and openapi/addressbook.yaml disagree:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn a_change_to_the_contract_is_caught() {
    let mut changed = contract();
    changed["paths"]["/addresses"]["post"]["operationId"] = json!("addAddress");
    let found = differences(&changed, &generated());
    assert!(found.iter().any(|d| d.contains("operationId")), "{found:?}");

    let mut changed = contract();
    let responses = changed["paths"]["/addresses/{id}"]["delete"]["responses"]
        .as_object_mut()
        .unwrap();
    responses.remove("404");
    let found = differences(&changed, &generated());
    assert!(found.iter().any(|d| d.contains("responses")), "{found:?}");
}

#[test]
fn a_change_to_the_server_is_caught() {
    let mut changed = generated();
    changed["components"]["schemas"]["PostalAddress"]["properties"]["pincode"]["maxLength"] =
        json!(21);
    let found = differences(&contract(), &changed);
    assert!(
        found.iter().any(|d| d.contains("pincode.maxLength")),
        "{found:?}"
    );

    let mut changed = generated();
    let location =
        &mut changed["paths"]["/addresses"]["post"]["responses"]["201"]["headers"]["LOCATION"];
    location["required"] = json!(false);
    let found = differences(&contract(), &changed);
    assert!(found.iter().any(|d| d.contains("location")), "{found:?}");
}
