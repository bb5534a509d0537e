//! Turning untrusted JSON into an [`EntryContent`] or an [`EntryPatch`], reporting every broken
//! rule at once.
//!
//! The limits are those of [`super::limits`], which the API also declares in its schema types.
//! Validation walks a `serde_json::Value` by hand rather than deriving `Deserialize`, because
//! serde stops at the first error and cannot tell a client *all* the fields it has to fix.

use std::fmt;

use serde_json::{Map, Value};

use super::entry::{
    AddressKind, EmailAddress, EntryContent, PhoneKind, PhoneNumber, PostalAddress,
};
use super::limits::{COUNTRY_CODE_MAX, COUNTRY_CODE_MIN, MAX_ITEMS, chars, digits, is_control};
use super::patch::EntryPatch;

/// The members of an entry a client writes.
const ENTRY_FIELDS: &[&str] = &[
    "full_name",
    "addresses",
    "phone_numbers",
    "fax_numbers",
    "emails",
    "labels",
];

/// One rule broken by one member of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSON pointer (RFC 6901) to the member; `""` is the whole document.
    pub pointer: String,
    pub reason: String,
}

/// Every rule the input broke, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// The same errors, of a value found at `pointer` inside a larger document.
    pub fn under(self, pointer: &str) -> Self {
        Self(
            self.0
                .into_iter()
                .map(|error| FieldError {
                    pointer: format!("{pointer}{}", error.pointer),
                    reason: error.reason,
                })
                .collect(),
        )
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            1 => write!(f, "The entry has 1 invalid field"),
            n => write!(f, "The entry has {n} invalid fields"),
        }
    }
}

impl std::error::Error for ValidationErrors {}

impl EntryContent {
    /// Checks `value` against the entry's rules and builds the entry from it.
    pub fn from_json(value: &Value) -> Result<Self, ValidationErrors> {
        Checker::run(value, Checker::entry)
    }
}

/// The body of a label rename, `{"to": "<label>"}`: the new label, checked as a label of an
/// entry is.
pub fn rename_target(value: &Value) -> Result<String, ValidationErrors> {
    Checker::run(value, |checker, value| {
        let obj = checker.object(value, "", &["to"])?;
        checker.text(obj, "", "to", required(chars::LABEL))
    })
}

impl EntryPatch {
    /// Checks a JSON merge patch (RFC 7396) on its own, before any entry is read: every member
    /// it sets must be valid as it stands, so that applying it to a valid entry always gives a
    /// valid entry. A member set to `null` removes it: allowed for the lists (they become
    /// empty), refused for `full_name`, and a no-op for a member no entry has.
    pub fn from_json(value: &Value) -> Result<Self, ValidationErrors> {
        Checker::run(value, Checker::patch)
    }
}

#[derive(Default)]
struct Checker {
    errors: Vec<FieldError>,
}

/// A text field's rule: how long it may be and whether it must be present.
#[derive(Clone, Copy)]
struct Text {
    max_chars: usize,
    required: bool,
}

const fn required(max_chars: usize) -> Text {
    Text {
        max_chars,
        required: true,
    }
}

const fn optional(max_chars: usize) -> Text {
    Text {
        max_chars,
        required: false,
    }
}

impl Checker {
    fn run<T>(
        value: &Value,
        check: fn(&mut Self, &Value) -> Option<T>,
    ) -> Result<T, ValidationErrors> {
        let mut checker = Checker::default();
        match check(&mut checker, value) {
            Some(valid) if checker.errors.is_empty() => Ok(valid),
            _ => Err(ValidationErrors(checker.errors)),
        }
    }

    fn fail(&mut self, pointer: String, reason: impl Into<String>) {
        self.errors.push(FieldError {
            pointer,
            reason: reason.into(),
        });
    }

    fn entry(&mut self, value: &Value) -> Option<EntryContent> {
        let obj = self.object(value, "", ENTRY_FIELDS)?;
        let full_name = self.text(obj, "", "full_name", required(chars::FULL_NAME));
        let addresses = self.list(obj, "", "addresses", Self::address);
        let phone_numbers = self.list(obj, "", "phone_numbers", Self::phone);
        let fax_numbers = self.list(obj, "", "fax_numbers", Self::phone);
        let emails = self.list(obj, "", "emails", Self::email);
        let labels = self.labels(obj);
        Some(EntryContent {
            full_name: full_name?,
            addresses,
            phone_numbers,
            fax_numbers,
            emails,
            labels,
        })
    }

    fn patch(&mut self, value: &Value) -> Option<EntryPatch> {
        let Some(obj) = value.as_object() else {
            self.fail(
                String::new(),
                format!("must be an object, not {}", type_name(value)),
            );
            return None;
        };
        // Removing a member no entry has changes nothing (RFC 7396), so only a value is refused.
        for (key, _) in obj
            .iter()
            .filter(|(key, value)| !ENTRY_FIELDS.contains(&key.as_str()) && !value.is_null())
        {
            self.fail(child("", key), "is not a known property");
        }
        let full_name = match obj.get("full_name") {
            None => None,
            Some(Value::Null) => {
                self.fail(child("", "full_name"), "is required; it cannot be removed");
                None
            }
            Some(_) => self.text(obj, "", "full_name", required(chars::FULL_NAME)),
        };
        Some(EntryPatch {
            full_name,
            addresses: self.patched_list(obj, "addresses", Self::address),
            phone_numbers: self.patched_list(obj, "phone_numbers", Self::phone),
            fax_numbers: self.patched_list(obj, "fax_numbers", Self::phone),
            emails: self.patched_list(obj, "emails", Self::email),
            labels: match obj.get("labels") {
                None => None,
                Some(Value::Null) => Some(Vec::new()),
                Some(_) => Some(self.labels(obj)),
            },
        })
    }

    /// The `labels` member: each a text like any other, and no two the same once folded (the
    /// `label` filter compares them folded, so two such labels would be one).
    fn labels(&mut self, obj: &Map<String, Value>) -> Vec<String> {
        let errors_before = self.errors.len();
        let labels = self.list(obj, "", "labels", Self::label);
        if self.errors.len() > errors_before {
            return labels;
        }
        let mut seen: Vec<String> = Vec::with_capacity(labels.len());
        for (i, label) in labels.iter().enumerate() {
            let folded = super::search::fold(label);
            if let Some(first) = seen.iter().position(|other| *other == folded) {
                self.fail(
                    format!("/labels/{i}"),
                    format!("repeats /labels/{first} (labels compare case-insensitively)"),
                );
            }
            seen.push(folded);
        }
        labels
    }

    fn label(&mut self, value: &Value, at: &str) -> Option<String> {
        self.text_value(Some(value), at.to_owned(), required(chars::LABEL))
    }

    /// A list member of a patch: left as it is when absent, emptied by `null`, else replaced.
    fn patched_list<T>(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        item: fn(&mut Self, &Value, &str) -> Option<T>,
    ) -> Option<Vec<T>> {
        match obj.get(key)? {
            Value::Null => Some(Vec::new()),
            _ => Some(self.list(obj, "", key, item)),
        }
    }

    fn address(&mut self, value: &Value, at: &str) -> Option<PostalAddress> {
        const FIELDS: &[&str] = &[
            "kind",
            "building_name",
            "unit_number",
            "street_number",
            "street_name",
            "locality",
            "city",
            "province",
            "pincode",
            "country",
        ];
        let obj = self.object(value, at, FIELDS)?;
        let kind = self.kind(obj, at, &AddressKind::ALL);
        let building_name = self.text(obj, at, "building_name", optional(chars::BUILDING_NAME));
        let unit_number = self.text(obj, at, "unit_number", optional(chars::UNIT_NUMBER));
        let street_number = self.text(obj, at, "street_number", optional(chars::STREET_NUMBER));
        let street_name = self.text(obj, at, "street_name", required(chars::STREET_NAME));
        let locality = self.text(obj, at, "locality", optional(chars::LOCALITY));
        let city = self.text(obj, at, "city", optional(chars::CITY));
        let province = self.text(obj, at, "province", optional(chars::PROVINCE));
        let pincode = self.text(obj, at, "pincode", required(chars::PINCODE));
        let country = self.text(obj, at, "country", required(chars::COUNTRY));
        Some(PostalAddress {
            kind,
            building_name,
            unit_number,
            street_number,
            street_name: street_name?,
            locality,
            city,
            province,
            pincode: pincode?,
            country: country?,
        })
    }

    fn phone(&mut self, value: &Value, at: &str) -> Option<PhoneNumber> {
        const FIELDS: &[&str] = &["kind", "country_code", "area_code", "local_number"];
        let obj = self.object(value, at, FIELDS)?;
        let kind = self.kind(obj, at, &PhoneKind::ALL);
        let country_code = self.country_code(obj, at);
        let area_code = self.digits(obj, at, "area_code", optional(digits::AREA_CODE));
        let local_number = self.digits(obj, at, "local_number", required(digits::LOCAL_NUMBER));
        Some(PhoneNumber {
            kind,
            country_code: country_code?,
            area_code,
            local_number: local_number?,
        })
    }

    fn email(&mut self, value: &Value, at: &str) -> Option<EmailAddress> {
        const FIELDS: &[&str] = &["kind", "email"];
        let obj = self.object(value, at, FIELDS)?;
        let kind = self.kind(obj, at, &AddressKind::ALL);
        let pointer = child(at, "email");
        let email = match obj.get("email") {
            None => {
                self.fail(pointer, "is required");
                None
            }
            Some(Value::String(s)) if s.chars().count() > chars::EMAIL => {
                self.fail(
                    pointer,
                    format!("must be at most {} characters long", chars::EMAIL),
                );
                None
            }
            Some(Value::String(s)) if !email_address::EmailAddress::is_valid(s) => {
                self.fail(pointer, "is not a valid e-mail address");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.fail(
                    pointer,
                    format!("must be a string, not {}", type_name(other)),
                );
                None
            }
        };
        Some(EmailAddress {
            kind,
            email: email?,
        })
    }

    /// `value` as an object, reporting it if it is not one and reporting every member it has
    /// beyond `allowed` (the contract refuses unknown properties: a typo must not be dropped
    /// silently).
    fn object<'v>(
        &mut self,
        value: &'v Value,
        at: &str,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(obj) = value.as_object() else {
            self.fail(
                at.to_owned(),
                format!("must be an object, not {}", type_name(value)),
            );
            return None;
        };
        for key in obj.keys().filter(|key| !allowed.contains(&key.as_str())) {
            self.fail(child(at, key), "is not a known property");
        }
        Some(obj)
    }

    fn text(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        key: &str,
        rule: Text,
    ) -> Option<String> {
        self.text_value(obj.get(key), child(at, key), rule)
    }

    /// A text member's value (`None` when absent), checked against `rule`.
    fn text_value(&mut self, value: Option<&Value>, pointer: String, rule: Text) -> Option<String> {
        let s = match value {
            None if rule.required => {
                self.fail(pointer, "is required");
                return None;
            }
            None => return None,
            Some(Value::String(s)) => s,
            Some(other) => {
                self.fail(
                    pointer,
                    format!("must be a string, not {}", type_name(other)),
                );
                return None;
            }
        };
        let reason = if s.is_empty() {
            "must not be empty".to_owned()
        } else if s.chars().count() > rule.max_chars {
            format!("must be at most {} characters long", rule.max_chars)
        } else if s.chars().any(is_control) {
            "must not contain control characters".to_owned()
        } else if s.chars().all(is_pattern_space) {
            "must contain a non-space character".to_owned()
        } else {
            return Some(s.clone());
        };
        self.fail(pointer, reason);
        None
    }

    fn digits(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        key: &str,
        rule: Text,
    ) -> Option<String> {
        let pointer = child(at, key);
        match obj.get(key) {
            None if rule.required => self.fail(pointer, "is required"),
            None => {}
            Some(Value::String(s))
                if (1..=rule.max_chars).contains(&s.len())
                    && s.bytes().all(|b| b.is_ascii_digit()) =>
            {
                return Some(s.clone());
            }
            Some(Value::String(_)) => self.fail(
                pointer,
                format!("must be 1 to {} digits (0-9)", rule.max_chars),
            ),
            Some(other) => self.fail(
                pointer,
                format!("must be a string, not {}", type_name(other)),
            ),
        }
        None
    }

    fn country_code(&mut self, obj: &Map<String, Value>, at: &str) -> Option<u16> {
        let pointer = child(at, "country_code");
        match obj.get("country_code") {
            None => self.fail(pointer, "is required"),
            Some(Value::Number(n)) => match n.as_u64().and_then(|n| u16::try_from(n).ok()) {
                Some(code @ COUNTRY_CODE_MIN..=COUNTRY_CODE_MAX) => return Some(code),
                _ => self.fail(
                    pointer,
                    format!("must be an integer from {COUNTRY_CODE_MIN} to {COUNTRY_CODE_MAX}"),
                ),
            },
            Some(other) => self.fail(
                pointer,
                format!("must be an integer, not {}", type_name(other)),
            ),
        }
        None
    }

    fn kind<K: Copy>(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        all: &[(&str, K)],
    ) -> Option<K> {
        let value = obj.get("kind")?;
        let found = value.as_str().and_then(|s| {
            all.iter()
                .find(|(name, _)| *name == s)
                .map(|(_, kind)| *kind)
        });
        if found.is_none() {
            let names: Vec<&str> = all.iter().map(|(name, _)| *name).collect();
            self.fail(
                child(at, "kind"),
                format!("must be one of: {}", names.join(", ")),
            );
        }
        found
    }

    /// The items of the optional array `key`, each checked by `item`.
    fn list<T>(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        key: &str,
        item: fn(&mut Self, &Value, &str) -> Option<T>,
    ) -> Vec<T> {
        let pointer = child(at, key);
        match obj.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) if items.len() > MAX_ITEMS => {
                self.fail(pointer, format!("must have at most {MAX_ITEMS} items"));
                Vec::new()
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, value)| item(self, value, &child(&pointer, &i.to_string())))
                .collect(),
            Some(other) => {
                self.fail(
                    pointer,
                    format!("must be an array, not {}", type_name(other)),
                );
                Vec::new()
            }
        }
    }
}

/// White space as the contract's pattern (`\s`, ECMAScript's definition) means it, which is not
/// Rust's: ECMAScript counts U+FEFF and not U+0085. The server must refuse exactly what the
/// contract refuses.
fn is_pattern_space(c: char) -> bool {
    c == '\u{feff}' || (c.is_whitespace() && c != '\u{85}')
}

/// The pointer to member `key` of the value at `parent`, escaped as RFC 6901 requires.
pub fn child(parent: &str, key: &str) -> String {
    format!("{parent}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn errors(value: Value) -> Vec<(String, String)> {
        EntryContent::from_json(&value)
            .expect_err("input should be refused")
            .0
            .into_iter()
            .map(|e| (e.pointer, e.reason))
            .collect()
    }

    #[test]
    fn labels_are_texts_and_none_repeats_another_in_any_case() {
        let found = errors(json!({"full_name": "A", "labels": ["Family", "x", "FAMILY", ""]}));
        assert_eq!(
            found,
            vec![("/labels/3".into(), "must not be empty".into())]
        );
        let found = errors(json!({"full_name": "A", "labels": ["Family", "x", "FAMILY"]}));
        assert_eq!(
            found,
            vec![(
                "/labels/2".into(),
                "repeats /labels/0 (labels compare case-insensitively)".into()
            )]
        );
        let found = errors(json!({"full_name": "A", "labels": "family"}));
        assert_eq!(
            found,
            vec![("/labels".into(), "must be an array, not a string".into())]
        );
    }

    #[test]
    fn a_complete_entry_is_accepted_as_written() {
        let input = json!({
            "full_name": "Sherlock Holmes",
            "addresses": [{"kind": "home", "street_number": "221B", "street_name": "Baker Street",
                           "city": "London", "pincode": "NW1 6XE", "country": "United Kingdom"}],
            "phone_numbers": [{"kind": "mobile", "country_code": 44, "area_code": "020", "local_number": "0079460000"}],
            "emails": [{"kind": "work", "email": "sherlock@example.org"}],
            "labels": ["Consulting", "Baker Street"]
        });
        let entry = EntryContent::from_json(&input).expect("valid entry");
        assert_eq!(entry.addresses[0].street_number.as_deref(), Some("221B"));
        assert_eq!(entry.phone_numbers[0].area_code.as_deref(), Some("020"));
        assert_eq!(entry.phone_numbers[0].local_number, "0079460000");
        assert!(entry.fax_numbers.is_empty());
        assert_eq!(serde_json::to_value(&entry).unwrap(), {
            let mut expected = input.clone();
            expected["fax_numbers"] = json!([]);
            expected
        });
    }

    #[test]
    fn every_invalid_field_is_reported_with_its_pointer() {
        let found = errors(json!({
            "full_name": "   ",
            "nickname": "x",
            "addresses": [{"street_name": "", "pincode": 560001, "country": "India", "kind": "holiday"}],
            "phone_numbers": [{"country_code": 1000, "local_number": "555-1234"}],
            "emails": [{"email": "not-an-address"}]
        }));
        assert_eq!(
            found,
            vec![
                ("/nickname".into(), "is not a known property".into()),
                (
                    "/full_name".into(),
                    "must contain a non-space character".into()
                ),
                (
                    "/addresses/0/kind".into(),
                    "must be one of: home, work".into()
                ),
                (
                    "/addresses/0/street_name".into(),
                    "must not be empty".into()
                ),
                (
                    "/addresses/0/pincode".into(),
                    "must be a string, not a number".into()
                ),
                (
                    "/phone_numbers/0/country_code".into(),
                    "must be an integer from 1 to 999".into()
                ),
                (
                    "/phone_numbers/0/local_number".into(),
                    "must be 1 to 15 digits (0-9)".into()
                ),
                (
                    "/emails/0/email".into(),
                    "is not a valid e-mail address".into()
                ),
            ]
        );
    }

    #[test]
    fn strings_are_not_coerced_from_other_types() {
        let found = errors(json!({"full_name": 5}));
        assert_eq!(
            found,
            vec![("/full_name".into(), "must be a string, not a number".into())]
        );
        let found = errors(
            json!({"full_name": "A", "phone_numbers": [{"country_code": "44", "local_number": 123}]}),
        );
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        let two_hundred_cjk = "名".repeat(200);
        assert!(EntryContent::from_json(&json!({"full_name": two_hundred_cjk})).is_ok());
        let found = errors(json!({"full_name": "名".repeat(201)}));
        assert_eq!(found[0].1, "must be at most 200 characters long");
    }

    #[test]
    fn space_is_what_the_contract_pattern_says_it_is() {
        let found = errors(json!({"full_name": "\u{feff}\u{a0}"}));
        assert_eq!(found[0].1, "must contain a non-space character");
        assert!(EntryContent::from_json(&json!({"full_name": "\u{85}"})).is_ok());
    }

    #[test]
    fn control_characters_are_refused_everywhere() {
        let found = errors(json!({"full_name": "Ada\u{0}Lovelace"}));
        assert_eq!(found[0].1, "must not contain control characters");
    }

    #[test]
    fn missing_required_members_and_wrong_shapes_are_named() {
        assert_eq!(
            errors(json!([])),
            vec![("".into(), "must be an object, not an array".into())]
        );
        assert_eq!(
            errors(json!({})),
            vec![("/full_name".into(), "is required".into())]
        );
        let found = errors(json!({"full_name": "A", "emails": {"email": "a@example.org"}}));
        assert_eq!(
            found,
            vec![("/emails".into(), "must be an array, not an object".into())]
        );
        let found = errors(json!({"full_name": "A", "addresses": [{}]}));
        let pointers: Vec<_> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/addresses/0/street_name",
                "/addresses/0/pincode",
                "/addresses/0/country"
            ]
        );
    }

    #[test]
    fn too_many_items_are_refused() {
        let many: Vec<_> = (0..21)
            .map(|i| json!({"email": format!("p{i}@example.org")}))
            .collect();
        let found = errors(json!({"full_name": "A", "emails": many}));
        assert_eq!(
            found,
            vec![("/emails".into(), "must have at most 20 items".into())]
        );
    }

    #[test]
    fn pointers_escape_slash_and_tilde() {
        let found = errors(json!({"full_name": "A", "a/b~c": 1}));
        assert_eq!(found[0].0, "/a~1b~0c");
    }
}
