//! JSON merge patch (RFC 7396): how `PATCH /addresses/{id}` changes an entry. Absent members stay,
//! `null` removes a member, anything else (lists included) replaces it whole. A patch is checked
//! on its own ([`EntryPatch::from_json`]) before any entry is read, and applying a valid patch to
//! a valid entry can only give a valid entry.

use super::entry::{EmailAddress, EntryContent, PhoneNumber, PostalAddress};

/// A checked merge patch of an entry: `None` leaves a member as it is, `Some` replaces it (an
/// empty list for a `null`). `full_name` cannot be removed, so it is only ever left or replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryPatch {
    pub full_name: Option<String>,
    pub addresses: Option<Vec<PostalAddress>>,
    pub phone_numbers: Option<Vec<PhoneNumber>>,
    pub fax_numbers: Option<Vec<PhoneNumber>>,
    pub emails: Option<Vec<EmailAddress>>,
    pub labels: Option<Vec<String>>,
}

impl EntryContent {
    /// This content with `patch` applied.
    pub fn patched(&self, patch: &EntryPatch) -> Self {
        fn replaced<T: Clone>(current: &T, new: &Option<T>) -> T {
            new.as_ref().unwrap_or(current).clone()
        }
        Self {
            full_name: replaced(&self.full_name, &patch.full_name),
            addresses: replaced(&self.addresses, &patch.addresses),
            phone_numbers: replaced(&self.phone_numbers, &patch.phone_numbers),
            fax_numbers: replaced(&self.fax_numbers, &patch.fax_numbers),
            emails: replaced(&self.emails, &patch.emails),
            labels: replaced(&self.labels, &patch.labels),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn ada() -> EntryContent {
        EntryContent::from_json(&json!({
            "full_name": "Ada Lovelace",
            "emails": [{"email": "ada@example.org"}],
            "phone_numbers": [{"country_code": 44, "local_number": "1234"}]
        }))
        .unwrap()
    }

    fn pointers(patch: Value) -> Vec<String> {
        EntryPatch::from_json(&patch)
            .expect_err("the patch should be refused")
            .0
            .into_iter()
            .map(|e| e.pointer)
            .collect()
    }

    #[test]
    fn a_patch_sets_leaves_and_clears_members() {
        let patch = EntryPatch::from_json(&json!({
            "full_name": "Augusta Ada King",
            "phone_numbers": null,
            "addresses": [{"street_name": "St James's Square", "pincode": "SW1Y", "country": "UK"}]
        }))
        .unwrap();
        let patched = ada().patched(&patch);
        assert_eq!(patched.full_name, "Augusta Ada King");
        assert_eq!(patched.emails, ada().emails, "left out: kept");
        assert!(patched.phone_numbers.is_empty(), "null: removed");
        assert_eq!(patched.addresses.len(), 1, "a list: replaced whole");
        assert_eq!(ada().patched(&EntryPatch::default()), ada());
    }

    #[test]
    fn a_patch_is_checked_before_any_entry_is_read() {
        // Each item of a list is checked as the item it becomes, `null` included.
        assert_eq!(pointers(json!({"emails": [null]})), ["/emails/0"]);
        assert_eq!(
            pointers(json!({"full_name": null, "nickname": "x"})),
            ["/nickname", "/full_name"]
        );
        assert_eq!(
            pointers(json!({"emails": [{"email": "a@example.org", "kind": null}]})),
            ["/emails/0/kind"]
        );
        for not_an_object in [json!([1]), json!("x"), json!(null)] {
            assert_eq!(pointers(not_an_object), [""]);
        }
    }

    #[test]
    fn removing_a_member_no_entry_has_changes_nothing() {
        let patch = EntryPatch::from_json(&json!({"updated_at": null})).unwrap();
        assert_eq!(patch, EntryPatch::default());
    }
}
