//! The JSON of `EntryPatch`, the merge-patch body of `patch_address` (RFC 7396): a member left
//! alone is absent, a cleared list is `null`, a set member carries its new value.

use addressbook_client::{EntryPatch, types};
use serde_json::json;

fn phone(local_number: &str) -> types::PhoneNumber {
    types::PhoneNumber::builder()
        .country_code(44)
        .local_number(local_number)
        .try_into()
        .expect("valid phone number")
}

fn to_json(patch: &EntryPatch) -> serde_json::Value {
    serde_json::to_value(patch).expect("serializable")
}

#[test]
fn empty_patch_is_an_empty_object() {
    let patch = EntryPatch::new();
    assert!(patch.is_empty());
    assert_eq!(serde_json::to_string(&patch).expect("serializable"), "{}");
}

#[test]
fn set_members_carry_their_values() {
    let address = types::PostalAddress::builder()
        .street_name("Baker Street")
        .pincode("NW1 6XE")
        .country("United Kingdom");
    let email = types::EmailAddress::builder()
        .kind(types::AddressKind::Work)
        .email("sherlock@example.org");
    let patch = EntryPatch::new()
        .full_name("Sherlock Holmes".parse().expect("valid name"))
        .addresses(vec![address.try_into().expect("valid address")])
        .phone_numbers([phone("79460000")])
        .fax_numbers(vec![phone("79460001"), phone("79460002")])
        .emails(vec![email.try_into().expect("valid e-mail")]);
    assert!(!patch.is_empty());
    assert_eq!(
        to_json(&patch),
        json!({
            "full_name": "Sherlock Holmes",
            "addresses": [{
                "street_name": "Baker Street",
                "pincode": "NW1 6XE",
                "country": "United Kingdom",
            }],
            "phone_numbers": [{ "country_code": 44, "local_number": "79460000" }],
            "fax_numbers": [
                { "country_code": 44, "local_number": "79460001" },
                { "country_code": 44, "local_number": "79460002" },
            ],
            "emails": [{ "kind": "work", "email": "sherlock@example.org" }],
        })
    );
}

#[test]
fn an_empty_list_is_sent_as_an_empty_list() {
    // `[]` and `null` have the same effect on the server, but the patch says what was asked.
    let patch = EntryPatch::new().emails(Vec::new());
    assert_eq!(to_json(&patch), json!({ "emails": [] }));
}

#[test]
fn cleared_lists_are_null_and_untouched_members_absent() {
    let patch = EntryPatch::new()
        .clear_addresses()
        .clear_phone_numbers()
        .clear_fax_numbers()
        .clear_emails();
    assert!(!patch.is_empty());
    assert_eq!(
        to_json(&patch),
        json!({
            "addresses": null,
            "phone_numbers": null,
            "fax_numbers": null,
            "emails": null,
        })
    );

    let patch = EntryPatch::new().clear_fax_numbers();
    assert_eq!(
        serde_json::to_string(&patch).expect("serializable"),
        r#"{"fax_numbers":null}"#
    );
}

#[test]
fn the_last_call_for_a_member_wins() {
    let patch = EntryPatch::new()
        .phone_numbers(vec![phone("79460000")])
        .clear_phone_numbers();
    assert_eq!(to_json(&patch), json!({ "phone_numbers": null }));
    let patch = EntryPatch::new()
        .clear_phone_numbers()
        .phone_numbers(vec![phone("79460000")]);
    assert_eq!(
        to_json(&patch),
        json!({ "phone_numbers": [{ "country_code": 44, "local_number": "79460000" }] })
    );
}

#[test]
fn deserializing_keeps_absent_and_null_apart() {
    let patch: EntryPatch = serde_json::from_value(json!({
        "fax_numbers": null,
        "phone_numbers": [{ "country_code": 1, "local_number": "5550100" }],
    }))
    .expect("valid patch");
    assert!(patch.full_name.is_none());
    assert!(patch.addresses.is_none(), "absent must stay absent");
    assert!(patch.emails.is_none(), "absent must stay absent");
    assert!(
        matches!(patch.fax_numbers, Some(None)),
        "null must stay null"
    );
    let Some(Some(phones)) = &patch.phone_numbers else {
        panic!("phone numbers must be set: {patch:?}");
    };
    assert_eq!(phones[0].local_number.as_str(), "5550100");

    // And back again unchanged.
    assert_eq!(
        to_json(&patch),
        json!({
            "fax_numbers": null,
            "phone_numbers": [{ "country_code": 1, "local_number": "5550100" }],
        })
    );
}

#[test]
fn full_name_cannot_be_null_or_invalid() {
    // The contract says the name cannot be removed: `null` is refused rather than read as
    // "leave it alone".
    let err = serde_json::from_value::<EntryPatch>(json!({ "full_name": null }))
        .expect_err("a null full name must be refused");
    assert!(err.to_string().contains("invalid type: null"), "{err}");

    for bad in ["", "   ", "tab\tinside", &"x".repeat(201)] {
        assert!(
            serde_json::from_value::<EntryPatch>(json!({ "full_name": bad })).is_err(),
            "full_name {bad:?} must be refused"
        );
        assert!(
            bad.parse::<types::EntryPatchFullName>().is_err(),
            "full_name {bad:?} must not parse"
        );
    }
}

#[test]
fn unknown_members_are_refused() {
    let err = serde_json::from_value::<EntryPatch>(json!({ "nick_name": "The Woman" }))
        .expect_err("an unknown member must be refused");
    assert!(
        err.to_string().contains("unknown field `nick_name`"),
        "{err}"
    );
}
