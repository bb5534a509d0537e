//! The hand-written conveniences around the generated client: problem kinds that cover what the
//! contract lists, one-line problems, entries that become their own replacement input.

use std::collections::BTreeSet;

use addressbook_client::{ClientInfo as _, ProblemKind, types};
use serde_json::json;

/// The kinds the contract lists in `Problem.type`'s description, as `` `slug` `` words.
fn kinds_in_the_contract() -> BTreeSet<String> {
    let contract = include_str!("../../openapi/addressbook.yaml");
    let start = contract
        .find("The kinds:")
        .expect("Problem.type lists its kinds");
    let end = start
        + contract[start..]
            .find("/problems/`")
            .expect("the list ends");
    contract[start..end]
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_kind_the_contract_lists_is_a_known_kind_and_no_other() {
    let known: BTreeSet<String> = ProblemKind::KNOWN
        .iter()
        .map(|(slug, _)| (*slug).to_owned())
        .collect();
    assert_eq!(known, kinds_in_the_contract());
    for (slug, kind) in ProblemKind::KNOWN {
        assert_eq!(&ProblemKind::of(&format!("/problems/{slug}")), kind);
    }
    assert_eq!(
        ProblemKind::of("/problems/from-a-newer-server"),
        ProblemKind::Other("/problems/from-a-newer-server".to_owned())
    );
}

#[test]
fn a_problem_reads_as_one_line_with_every_invalid_field() {
    let problem: types::Problem = serde_json::from_value(json!({
        "type": "/problems/validation-failed",
        "title": "Validation Failed",
        "status": 400,
        "detail": "The entry is not valid.",
        "instance": "/addresses",
        "method": "POST",
        "errors": [
            {"pointer": "/full_name", "reason": "must not be blank"},
            {"parameter": "limit", "reason": "must be an integer from 1 to 100"}
        ]
    }))
    .expect("a problem");

    assert_eq!(problem.kind(), ProblemKind::ValidationFailed);
    assert_eq!(
        problem.to_string(),
        "400 Validation Failed (/problems/validation-failed): The entry is not valid. \
         [POST /addresses]; /full_name: must not be blank; limit: must be an integer from 1 to 100"
    );
}

#[test]
fn a_read_entry_becomes_the_input_that_keeps_it() {
    let sample: serde_json::Value =
        serde_json::from_str(include_str!("../../data/addresses/01-sherlock-holmes.json"))
            .expect("a sample entry");
    let mut entry = sample.clone();
    let object = entry.as_object_mut().expect("an object");
    object.insert("id".into(), json!("0192f0c1-7c1d-7b4e-9a57-3f1d2c3b4a5e"));
    object.insert("fax_numbers".into(), json!([]));
    object.insert("created_at".into(), json!("2026-12-02T10:00:00Z"));
    object.insert("updated_at".into(), json!("2026-12-02T10:00:00Z"));
    let entry: types::Entry = serde_json::from_value(entry).expect("an entry");

    let input = types::EntryInput::from(entry);

    // The sample, as written, is the input: nothing added, nothing lost.
    assert_eq!(serde_json::to_value(&input).expect("serializable"), sample);
}

#[test]
fn a_base_url_with_a_trailing_slash_is_the_same_service() {
    let with = addressbook_client::Client::new("http://127.0.0.1:8080/");
    let without = addressbook_client::Client::new("http://127.0.0.1:8080");
    assert_eq!(with.baseurl(), without.baseurl());
}

#[test]
#[should_panic(expected = "must start with http:// or https://")]
fn a_base_url_without_a_scheme_fails_at_construction() {
    addressbook_client::Client::new("localhost:8080");
}
