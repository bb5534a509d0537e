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

/// The message a refused input fails with, before anything is sent.
fn invalid_request<T: std::fmt::Debug>(
    result: Result<T, addressbook_client::Error<types::Problem>>,
) -> String {
    match result {
        Err(addressbook_client::Error::InvalidRequest(message)) => message,
        other => panic!("expected the client to refuse the input, got {other:?}"),
    }
}

/// Says what is wrong in words: the member's name, then the rule; never a Rust type, a
/// regular expression or "conversion failed" without the reason.
fn assert_readable(message: &str, member: &str, rule: &str) {
    assert!(
        message.starts_with(&format!("{member}: ")) && message.contains(rule),
        "{message:?} should name {member:?} and say {rule:?}"
    );
    for jargon in ["pattern", "::", "conversion to", "NonZero", "^[", "\\x"] {
        assert!(!message.contains(jargon), "{message:?} contains {jargon:?}");
    }
}

#[tokio::test]
async fn refused_inputs_say_what_is_wrong_in_words() {
    // Nothing listens here: every request below is refused before it is sent.
    let client = addressbook_client::Client::new("http://127.0.0.1:9");

    let zero = invalid_request(client.list_addresses().limit(0_u32).send().await);
    assert_readable(&zero, "limit", "must be at least 1");

    let long = invalid_request(client.list_addresses().city("x".repeat(1_000)).send().await);
    assert_readable(&long, "city", "longer than");

    let control = invalid_request(client.list_addresses().q("ja\u{7}ne").send().await);
    assert_readable(&control, "q", "control characters");

    let empty = invalid_request(client.list_addresses().cursor("").send().await);
    assert_readable(&empty, "cursor", "must not be empty");

    let id = invalid_request(client.get_address().id("not-a-uuid").send().await);
    assert_readable(&id, "id", "invalid");

    let blank = invalid_request(
        client
            .create_address()
            .body(types::EntryInput::builder().full_name("   "))
            .send()
            .await,
    );
    assert_readable(
        &blank,
        "body",
        "full_name: must contain a character other than white space",
    );
}

#[test]
fn refused_members_say_what_is_wrong_in_words() {
    let phone = types::PhoneNumber::builder()
        .country_code(44)
        .local_number("07946 0000");
    let err = types::PhoneNumber::try_from(phone).expect_err("a space is not a digit");
    assert_readable(&err.to_string(), "local_number", "digits (0-9)");

    let err = "office"
        .parse::<types::AddressKind>()
        .expect_err("not a kind");
    assert!(
        err.to_string().starts_with("must be one of: home, work"),
        "{err}"
    );
}

#[test]
fn every_builder_method_has_a_doc_comment() {
    // rustdoc shows these; the generated source is where a test can see that they are there.
    let generated = include_str!(concat!(env!("OUT_DIR"), "/codegen.rs"));
    let lines: Vec<&str> = generated.lines().map(str::trim).collect();
    let mut undocumented = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(1) {
        let is_method = line.starts_with("pub fn ") || line.starts_with("pub async fn ");
        let previous = lines[i - 1];
        let documented = previous.starts_with("///") || previous.ends_with("*/");
        if is_method && !documented {
            undocumented.push(*line);
        }
    }
    assert!(undocumented.is_empty(), "no doc comment: {undocumented:#?}");
    assert!(generated.contains("Sets the `limit` query parameter. Optional."));
}
