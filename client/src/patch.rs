//! The body of `patch_address`: a JSON merge patch (RFC 7396) of an entry.
//!
//! It replaces the type typify would generate from the contract's `EntryPatch` schema, whose
//! `Option<T>` members cannot tell "leave this member alone" (absent) from "remove it" (`null`).
//! `build/main.rs` checks that the schema still has the members written out here.

use serde::{Deserialize, Deserializer, Serialize};

use crate::types;

/// Changes to an entry, sent with `patch_address` as `application/merge-patch+json`.
///
/// Each list member has three states, and so does the JSON sent for it:
///
/// | Value | JSON | Effect on the stored entry |
/// |---|---|---|
/// | `None` | member left out | the list stays as it is |
/// | `Some(None)` | `null` | the list becomes empty |
/// | `Some(Some(list))` | the list | the list is replaced whole by `list` |
///
/// `full_name` cannot be removed, so it is a plain `Option`: `None` leaves the name alone.
/// Nothing is merged inside a list: to add one phone number, send the whole new list.
///
/// ```
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use addressbook_client::{EntryPatch, types};
///
/// let email = types::EmailAddress::builder().email("sherlock@example.org");
/// let patch = EntryPatch::new()
///     .full_name("Sherlock Holmes".parse()?)
///     .clear_fax_numbers()
///     .emails(vec![email.try_into()?]);
/// assert_eq!(
///     serde_json::to_string(&patch)?,
///     r#"{"full_name":"Sherlock Holmes","fax_numbers":null,"emails":[{"email":"sherlock@example.org"}]}"#
/// );
/// # Ok(())
/// # }
/// # demo().unwrap();
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EntryPatch {
    /// The new full name; `None` leaves it as it is.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    pub full_name: Option<types::EntryPatchFullName>,
    /// All the postal addresses, replacing the current ones.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_kept"
    )]
    pub addresses: Option<Option<Vec<types::PostalAddress>>>,
    /// All the phone numbers, replacing the current ones.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_kept"
    )]
    pub phone_numbers: Option<Option<Vec<types::PhoneNumber>>>,
    /// All the fax numbers, replacing the current ones.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_kept"
    )]
    pub fax_numbers: Option<Option<Vec<types::PhoneNumber>>>,
    /// All the e-mail addresses, replacing the current ones.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_kept"
    )]
    pub emails: Option<Option<Vec<types::EmailAddress>>>,
    /// All the labels, replacing the current ones.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_kept"
    )]
    pub labels: Option<Option<Vec<types::EntryPatchLabel>>>,
}

impl EntryPatch {
    /// A patch that changes nothing (`{}`); add changes with the methods below.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        let Self {
            full_name,
            addresses,
            phone_numbers,
            fax_numbers,
            emails,
            labels,
        } = self;
        full_name.is_none()
            && addresses.is_none()
            && phone_numbers.is_none()
            && fax_numbers.is_none()
            && emails.is_none()
            && labels.is_none()
    }

    /// Sets the full name. Parse a `&str` into one with `"...".parse()?`, which checks the
    /// contract's constraints (1 to 200 characters, not blank, no control characters).
    pub fn full_name(mut self, full_name: types::EntryPatchFullName) -> Self {
        self.full_name = Some(full_name);
        self
    }

    /// Replaces all the postal addresses (an empty list removes them, as `clear_addresses` does).
    pub fn addresses(mut self, addresses: impl Into<Vec<types::PostalAddress>>) -> Self {
        self.addresses = Some(Some(addresses.into()));
        self
    }

    /// Removes all the postal addresses (sends `null`).
    pub fn clear_addresses(mut self) -> Self {
        self.addresses = Some(None);
        self
    }

    /// Replaces all the phone numbers.
    pub fn phone_numbers(mut self, phone_numbers: impl Into<Vec<types::PhoneNumber>>) -> Self {
        self.phone_numbers = Some(Some(phone_numbers.into()));
        self
    }

    /// Removes all the phone numbers (sends `null`).
    pub fn clear_phone_numbers(mut self) -> Self {
        self.phone_numbers = Some(None);
        self
    }

    /// Replaces all the fax numbers.
    pub fn fax_numbers(mut self, fax_numbers: impl Into<Vec<types::PhoneNumber>>) -> Self {
        self.fax_numbers = Some(Some(fax_numbers.into()));
        self
    }

    /// Removes all the fax numbers (sends `null`).
    pub fn clear_fax_numbers(mut self) -> Self {
        self.fax_numbers = Some(None);
        self
    }

    /// Replaces all the e-mail addresses.
    pub fn emails(mut self, emails: impl Into<Vec<types::EmailAddress>>) -> Self {
        self.emails = Some(Some(emails.into()));
        self
    }

    /// Removes all the e-mail addresses (sends `null`).
    pub fn clear_emails(mut self) -> Self {
        self.emails = Some(None);
        self
    }

    /// Replaces all the labels. Parse each from a `&str` with `"family".parse()?`.
    pub fn labels(mut self, labels: impl Into<Vec<types::EntryPatchLabel>>) -> Self {
        self.labels = Some(Some(labels.into()));
        self
    }

    /// Removes all the labels (sends `null`).
    pub fn clear_labels(mut self) -> Self {
        self.labels = Some(None);
        self
    }
}

/// A member that may be absent (`#[serde(default)]` gives `None`) but not `null`.
fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A member that may be absent (`None`, through `#[serde(default)]`) or `null` (`Some(None)`):
/// serde only calls this for members that are present.
fn null_kept<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The pre-hook `build/main.rs` installs in every generated operation, run on the built request just
/// before it is sent.
///
/// The generator is shown the merge-patch body as `application/json` (it refuses
/// `application/merge-patch+json`), so the generated code sets that; this puts the media type
/// the contract declares back. The hook sees only the request, not the operation, but
/// `build/main.rs` checks that every `PATCH` operation takes a merge patch and nothing else does, so
/// the method identifies them. Any other request keeps the Content-Type it was built with.
pub(crate) fn use_merge_patch_content_type(request: &mut reqwest::Request) {
    if request.method() == reqwest::Method::PATCH {
        request.headers_mut().insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/merge-patch+json"),
        );
    }
}
