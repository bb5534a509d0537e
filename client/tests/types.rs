//! Offline checks of the generated types: the schema's constraints must hold in Rust, so that the
//! client cannot even build a request the contract forbids.

use addressbook_client::types;
use serde_json::json;

#[test]
fn entry_input_refuses_unknown_fields() {
    // `additionalProperties: false` in the spec must become `deny_unknown_fields`: a typo in a
    // field name should fail loudly instead of being dropped on the way to the server.
    let err = serde_json::from_value::<types::EntryInput>(json!({
        "full_name": "Irene Adler",
        "nick_name": "The Woman",
    }))
    .expect_err("an unknown field must be refused");
    assert!(
        err.to_string().contains("unknown field `nick_name`"),
        "unexpected error: {err}"
    );
}

#[test]
fn entry_input_fills_absent_lists_and_omits_empty_ones() {
    let input: types::EntryInput =
        serde_json::from_value(json!({ "full_name": "Irene Adler" })).expect("valid entry");
    assert_eq!(input.full_name.as_str(), "Irene Adler");
    assert!(input.addresses.is_empty() && input.phone_numbers.is_empty());
    assert!(input.fax_numbers.is_empty() && input.emails.is_empty());
    // Empty lists are left out of the body; the server treats absent lists as empty.
    assert_eq!(
        serde_json::to_value(&input).expect("serializable"),
        json!({ "full_name": "Irene Adler" })
    );
}

#[test]
fn full_name_constraints_hold_on_deserialize() {
    for bad in ["", "   ", "\t\n", &"x".repeat(201)] {
        let result = serde_json::from_value::<types::EntryInput>(json!({ "full_name": bad }));
        assert!(result.is_err(), "full_name {bad:?} must be refused");
    }
    let longest = "x".repeat(200);
    let input: types::EntryInput =
        serde_json::from_value(json!({ "full_name": longest })).expect("200 characters is fine");
    assert_eq!(input.full_name.len(), 200);
}

#[test]
fn builder_refuses_invalid_values() {
    let err = types::EntryInput::try_from(types::EntryInput::builder().full_name(""))
        .expect_err("an empty full name must be refused");
    assert!(
        err.to_string().contains("full_name"),
        "unexpected error: {err}"
    );

    let err = types::EntryInput::try_from(types::EntryInput::builder())
        .expect_err("full_name is required");
    assert!(
        err.to_string().contains("full_name"),
        "unexpected error: {err}"
    );

    // Digits only, as the spec's pattern says; leading zeros must survive.
    let phone = types::PhoneNumber::builder()
        .country_code(44)
        .local_number("07946 0000");
    assert!(types::PhoneNumber::try_from(phone).is_err());
    let phone = types::PhoneNumber::builder()
        .country_code(44)
        .local_number("079460000");
    let phone = types::PhoneNumber::try_from(phone).expect("valid phone number");
    assert_eq!(phone.local_number.as_str(), "079460000");
}

#[test]
fn problem_keeps_optional_lists_and_tolerates_new_members() {
    // Problem is not closed (no additionalProperties: false), so a newer server may add members
    // without breaking older clients.
    let problem: types::Problem = serde_json::from_value(json!({
        "type": "/problems/validation-failed",
        "title": "Validation Failed",
        "status": 400,
        "detail": "The entry has 1 invalid field.",
        "instance": "/addresses",
        "method": "POST",
        "errors": [{ "pointer": "/full_name", "reason": "must not be empty" }],
        "added_in_a_later_release": true,
    }))
    .expect("valid problem");
    assert_eq!(problem.type_, "/problems/validation-failed");
    assert_eq!(problem.errors.len(), 1);
    assert_eq!(problem.errors[0].pointer.as_deref(), Some("/full_name"));
    assert!(problem.error_chain.is_empty());
}
