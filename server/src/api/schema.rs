//! The API's JSON shapes, declared for poem-openapi so that the document it generates can be
//! compared with `openapi/addressbook.yaml` (see `tests/openapi_drift.rs`). Every constraint
//! here mirrors the contract; request bodies are checked by the domain's own validation (see
//! `body.rs`), so these types are used to *describe* requests and to *write* responses.

use poem_openapi::{Enum, Object, types::Email};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{self, Timestamp};

/// An entry as a client writes it.
#[derive(Object)]
pub struct EntryInput {
    #[oai(validator(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
    ))]
    pub full_name: String,
    #[oai(default, validator(max_items = 20))]
    pub addresses: Vec<PostalAddress>,
    #[oai(default, validator(max_items = 20))]
    pub phone_numbers: Vec<PhoneNumber>,
    #[oai(default, validator(max_items = 20))]
    pub fax_numbers: Vec<PhoneNumber>,
    #[oai(default, validator(max_items = 20))]
    pub emails: Vec<EmailAddress>,
}

/// Changes to an entry, as a JSON merge patch (RFC 7396).
#[derive(Object)]
pub struct EntryPatch {
    #[oai(validator(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
    ))]
    pub full_name: Option<String>,
    #[oai(nullable, validator(max_items = 20))]
    pub addresses: Option<Vec<PostalAddress>>,
    #[oai(nullable, validator(max_items = 20))]
    pub phone_numbers: Option<Vec<PhoneNumber>>,
    #[oai(nullable, validator(max_items = 20))]
    pub fax_numbers: Option<Vec<PhoneNumber>>,
    #[oai(nullable, validator(max_items = 20))]
    pub emails: Option<Vec<EmailAddress>>,
}

/// A stored entry.
#[derive(Object)]
pub struct Entry {
    #[oai(read_only)]
    pub id: Uuid,
    #[oai(validator(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
    ))]
    pub full_name: String,
    pub addresses: Vec<PostalAddress>,
    pub phone_numbers: Vec<PhoneNumber>,
    pub fax_numbers: Vec<PhoneNumber>,
    pub emails: Vec<EmailAddress>,
    #[oai(read_only)]
    pub created_at: Timestamp,
    #[oai(read_only)]
    pub updated_at: Timestamp,
}

/// One page of a listing.
#[derive(Object)]
pub struct EntryPage {
    pub items: Vec<Entry>,
    /// `null` on the last page; written out so clients need not guess.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// A postal address.
#[derive(Object)]
pub struct PostalAddress {
    #[oai(skip_serializing_if_is_none)]
    pub kind: Option<AddressKind>,
    #[oai(
        skip_serializing_if_is_none,
        validator(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
        )
    )]
    pub building_name: Option<String>,
    #[oai(
        skip_serializing_if_is_none,
        validator(
            min_length = 1,
            max_length = 20,
            pattern = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
        )
    )]
    pub unit_number: Option<String>,
    #[oai(
        skip_serializing_if_is_none,
        validator(
            min_length = 1,
            max_length = 20,
            pattern = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
        )
    )]
    pub street_number: Option<String>,
    #[oai(validator(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
    ))]
    pub street_name: String,
    #[oai(
        skip_serializing_if_is_none,
        validator(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
        )
    )]
    pub locality: Option<String>,
    #[oai(
        skip_serializing_if_is_none,
        validator(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
        )
    )]
    pub city: Option<String>,
    #[oai(
        skip_serializing_if_is_none,
        validator(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
        )
    )]
    pub province: Option<String>,
    #[oai(validator(
        min_length = 1,
        max_length = 20,
        pattern = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
    ))]
    pub pincode: String,
    #[oai(validator(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
    ))]
    pub country: String,
}

#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
pub enum AddressKind {
    Home,
    Work,
}

/// A phone or fax number.
#[derive(Object)]
pub struct PhoneNumber {
    #[oai(skip_serializing_if_is_none)]
    pub kind: Option<PhoneKind>,
    #[oai(validator(minimum(value = "1"), maximum(value = "999")))]
    pub country_code: i32,
    #[oai(skip_serializing_if_is_none, validator(pattern = "^[0-9]{1,8}$"))]
    pub area_code: Option<String>,
    #[oai(validator(pattern = "^[0-9]{1,15}$"))]
    pub local_number: String,
}

#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
pub enum PhoneKind {
    Home,
    Work,
    Mobile,
}

/// An e-mail address.
#[derive(Object)]
pub struct EmailAddress {
    #[oai(skip_serializing_if_is_none)]
    pub kind: Option<AddressKind>,
    #[oai(validator(max_length = 254))]
    pub email: Email,
}

/// Liveness report.
#[derive(Object)]
pub struct Health {
    pub uptime: f64,
}

/// Readiness report.
#[derive(Object)]
pub struct Readiness {
    pub ready: bool,
    pub uptime: f64,
}

/// An RFC 9457 problem document. Serialized with serde (see `problem.rs`); the `Object` derive
/// only declares its shape.
#[derive(Object, Serialize, Debug)]
pub struct Problem {
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: i32,
    pub detail: String,
    pub instance: String,
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<InvalidField>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_chain: Option<Vec<String>>,
}

/// One reason a request was refused.
#[derive(Object, Serialize, Debug)]
pub struct InvalidField {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    pub reason: String,
}

/// The readiness probe's problem document: a [`Problem`] plus the readiness report.
#[derive(Object, Serialize, Debug)]
pub struct NotReady {
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: i32,
    pub detail: String,
    pub instance: String,
    pub method: String,
    pub ready: bool,
    pub uptime: f64,
}

impl From<&domain::Entry> for Entry {
    fn from(entry: &domain::Entry) -> Self {
        let content = &entry.content;
        Self {
            id: entry.id,
            full_name: content.full_name.clone(),
            addresses: content.addresses.iter().map(Into::into).collect(),
            phone_numbers: content.phone_numbers.iter().map(Into::into).collect(),
            fax_numbers: content.fax_numbers.iter().map(Into::into).collect(),
            emails: content.emails.iter().map(Into::into).collect(),
            created_at: entry.created_at,
            updated_at: entry.updated_at,
        }
    }
}

impl From<&domain::PostalAddress> for PostalAddress {
    fn from(a: &domain::PostalAddress) -> Self {
        Self {
            kind: a.kind.map(Into::into),
            building_name: a.building_name.clone(),
            unit_number: a.unit_number.clone(),
            street_number: a.street_number.clone(),
            street_name: a.street_name.clone(),
            locality: a.locality.clone(),
            city: a.city.clone(),
            province: a.province.clone(),
            pincode: a.pincode.clone(),
            country: a.country.clone(),
        }
    }
}

impl From<&domain::PhoneNumber> for PhoneNumber {
    fn from(p: &domain::PhoneNumber) -> Self {
        Self {
            kind: p.kind.map(Into::into),
            country_code: i32::from(p.country_code),
            area_code: p.area_code.clone(),
            local_number: p.local_number.clone(),
        }
    }
}

impl From<&domain::EmailAddress> for EmailAddress {
    fn from(e: &domain::EmailAddress) -> Self {
        Self {
            kind: e.kind.map(Into::into),
            email: Email(e.email.clone()),
        }
    }
}

impl From<domain::AddressKind> for AddressKind {
    fn from(kind: domain::AddressKind) -> Self {
        match kind {
            domain::AddressKind::Home => Self::Home,
            domain::AddressKind::Work => Self::Work,
        }
    }
}

impl From<domain::PhoneKind> for PhoneKind {
    fn from(kind: domain::PhoneKind) -> Self {
        match kind {
            domain::PhoneKind::Home => Self::Home,
            domain::PhoneKind::Work => Self::Work,
            domain::PhoneKind::Mobile => Self::Mobile,
        }
    }
}
