//! JSON merge patch (RFC 7396): how `PATCH /addresses/{id}` changes an entry. Absent members stay,
//! `null` removes a member, anything else (arrays included) replaces it whole. The result is
//! validated like a full replacement, so a patch can never leave an invalid entry behind.

use serde_json::Value;

use super::entry::EntryContent;
use super::validation::ValidationErrors;

/// Applies `patch` to `target` in place.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let object = target.as_object_mut().expect("made an object above");
    for (name, value) in members {
        if value.is_null() {
            object.remove(name);
        } else {
            merge_patch(object.entry(name.clone()).or_insert(Value::Null), value);
        }
    }
}

impl EntryContent {
    /// This content with `patch` applied, checked by the same rules as a new entry.
    pub fn patched(&self, patch: &Value) -> Result<Self, ValidationErrors> {
        let mut document = serde_json::to_value(self).expect("an entry serializes");
        merge_patch(&mut document, patch);
        Self::from_json(&document)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The examples of RFC 7396, appendix A.
    #[test]
    fn the_rfc_examples_hold() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (mut target, patch, expected) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected, "patch {patch}");
        }
    }

    #[test]
    fn a_patch_sets_leaves_and_clears_members() {
        let original = EntryContent::from_json(&json!({
            "full_name": "Ada Lovelace",
            "emails": [{"email": "ada@example.org"}],
            "phone_numbers": [{"country_code": 44, "local_number": "1234"}]
        }))
        .unwrap();
        let patched = original
            .patched(&json!({"full_name": "Augusta Ada King", "phone_numbers": null}))
            .unwrap();
        assert_eq!(patched.full_name, "Augusta Ada King");
        assert_eq!(patched.emails, original.emails);
        assert!(patched.phone_numbers.is_empty());
    }

    #[test]
    fn a_patch_that_breaks_a_rule_is_refused() {
        let original = EntryContent::from_json(&json!({"full_name": "Ada"})).unwrap();
        let errors = original
            .patched(&json!({"full_name": null, "nickname": "x"}))
            .unwrap_err();
        let pointers: Vec<_> = errors.0.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/nickname", "/full_name"]);
        assert!(original.patched(&json!([1])).is_err());
    }
}
