//! The path and query parameters of `/addresses`, each parsed into what the domain needs and
//! refused with a reason in words (not in poem-openapi's validator notation, nor naming its
//! internal types) when it is malformed.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, ToJSON, Type};
use serde_json::Value;
use uuid::Uuid;

use super::problem::ApiError;
use crate::domain::Sort;
use crate::domain::limits::{
    self, CHANGE_LIMIT_DEFAULT, CHANGE_LIMIT_MAX, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX,
};

/// Implements [`Type`] for a parameter type whose schema is `schema_ref()`, a plain value.
macro_rules! parameter_type {
    ($(@const $param:ident;)? $ty:ty, $name:expr) => {
        impl$(<const $param: usize>)? Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $name
            }

            fn schema_ref() -> MetaSchemaRef {
                Self::schema()
            }

            fn register(registry: &mut Registry) {
                Self::register_schema(registry);
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }
    };
}

/// The `limit` query parameter.
pub struct PageLimit(pub u8);

impl PageLimit {
    fn schema() -> MetaSchemaRef {
        let mut schema = MetaSchema::new_with_format("integer", "int32");
        schema.minimum = Some(1.0);
        schema.maximum = Some(f64::from(PAGE_LIMIT_MAX));
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn register_schema(_: &mut Registry) {}
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(PAGE_LIMIT_DEFAULT)
    }
}

parameter_type!(PageLimit, "integer_int32".into());

impl ParseFromParameter for PageLimit {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        match value.parse::<u8>() {
            Ok(limit @ 1..=PAGE_LIMIT_MAX) => Ok(Self(limit)),
            _ => Err(ParseError::custom(format!(
                "must be an integer from 1 to {PAGE_LIMIT_MAX}"
            ))),
        }
    }
}

impl ToJSON for PageLimit {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.into())
    }
}

/// The `limit` query parameter of the change feed.
pub struct ChangeLimit(pub u16);

impl ChangeLimit {
    fn schema() -> MetaSchemaRef {
        let mut schema = MetaSchema::new_with_format("integer", "int32");
        schema.minimum = Some(1.0);
        schema.maximum = Some(f64::from(CHANGE_LIMIT_MAX));
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn register_schema(_: &mut Registry) {}
}

impl Default for ChangeLimit {
    fn default() -> Self {
        Self(CHANGE_LIMIT_DEFAULT)
    }
}

parameter_type!(ChangeLimit, "integer_int32".into());

impl ParseFromParameter for ChangeLimit {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        match value.parse::<u16>() {
            Ok(limit @ 1..=CHANGE_LIMIT_MAX) => Ok(Self(limit)),
            _ => Err(ParseError::custom(format!(
                "must be an integer from 1 to {CHANGE_LIMIT_MAX}"
            ))),
        }
    }
}

impl ToJSON for ChangeLimit {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.into())
    }
}

/// A search or filter text of at most `MAX` characters (`q`, `city`, `country`). No stored term
/// holds a control character, so a text with one could match nothing; it is refused instead,
/// since it is certainly a client's mistake (and PostgreSQL cannot compare a text holding U+0000).
pub struct SearchText<const MAX: usize>(pub String);

impl<const MAX: usize> SearchText<MAX> {
    fn schema() -> MetaSchemaRef {
        let mut schema = MetaSchema::new("string");
        schema.min_length = Some(1);
        schema.max_length = Some(MAX);
        schema.pattern = Some(limits::SEARCH_PATTERN.to_owned());
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn register_schema(_: &mut Registry) {}
}

parameter_type!(@const MAX; SearchText<MAX>, format!("search_text_{MAX}").into());

impl<const MAX: usize> ParseFromParameter for SearchText<MAX> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        let length = value.chars().count();
        if length == 0 || length > MAX {
            Err(ParseError::custom(format!(
                "must be 1 to {MAX} characters long"
            )))
        } else if value.chars().any(limits::is_control) {
            Err(ParseError::custom("must not contain control characters"))
        } else {
            Ok(Self(value.to_owned()))
        }
    }
}

/// The `label` path parameter of `/labels/{label}`, declared as a [`SearchText`] of
/// [`limits::chars::LABEL`]. It always parses, and [`LabelName::checked`] refuses a malformed
/// one under its own name: poem-openapi reports a path parameter that fails to parse as
/// `param0`, in its own words.
pub struct LabelName(Result<String, String>);

impl LabelName {
    fn schema() -> MetaSchemaRef {
        SearchText::<{ limits::chars::LABEL }>::schema()
    }

    fn register_schema(_: &mut Registry) {}

    /// The label, or the 400 problem naming the parameter and what is wrong with it.
    pub fn checked(self) -> Result<String, ApiError> {
        self.0
            .map_err(|reason| ApiError::invalid_parameter("label", reason))
    }
}

parameter_type!(LabelName, "label".into());

impl ParseFromParameter for LabelName {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(
            SearchText::<{ limits::chars::LABEL }>::parse_from_parameter(value)
                .map(|text| text.0)
                .map_err(|err| err.into_message()),
        ))
    }
}

/// The `cursor` query parameter: the `next_cursor` of a previous page, checked by the domain's
/// cursors once the search and order it was issued for are known.
pub struct CursorText(pub String);

impl CursorText {
    fn schema() -> MetaSchemaRef {
        let mut schema = MetaSchema::new("string");
        schema.min_length = Some(1);
        schema.max_length = Some(limits::chars::CURSOR);
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn register_schema(_: &mut Registry) {}
}

parameter_type!(CursorText, "cursor".into());

impl ParseFromParameter for CursorText {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        if value.is_empty() || value.len() > limits::chars::CURSOR {
            return Err(ParseError::custom(format!(
                "must be 1 to {} characters long",
                limits::chars::CURSOR
            )));
        }
        Ok(Self(value.to_owned()))
    }
}

/// The `sort` query parameter: one of the domain's named orders.
#[derive(Clone, Copy)]
pub struct SortOrder(pub Sort);

impl SortOrder {
    const SCHEMA: &'static str = "SortOrder";

    fn schema() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::SCHEMA.to_owned())
    }

    fn register_schema(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::SCHEMA.to_owned(), |_| {
            let mut schema = MetaSchema::new("string");
            schema.description = Some("A listing order; `-` in front means descending.");
            schema.enum_items = Sort::NAMED
                .iter()
                .map(|(name, _)| Value::from(*name))
                .collect();
            schema
        });
    }
}

parameter_type!(SortOrder, Self::SCHEMA.into());

impl ParseFromParameter for SortOrder {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Sort::named(value).map(Self).ok_or_else(|| {
            let names: Vec<&str> = Sort::NAMED.iter().map(|(name, _)| *name).collect();
            ParseError::custom(format!("must be one of: {}", names.join(", ")))
        })
    }
}

/// The `{id}` path parameter. Declared as a UUID, but parsing never fails: a value that is not a
/// UUID names no entry, so the answer is the contract's 404, not a 400 about syntax.
pub struct EntryId(Option<Uuid>);

impl EntryId {
    pub fn known(&self) -> Result<Uuid, ApiError> {
        self.0.ok_or_else(ApiError::entry_not_found)
    }

    fn schema() -> MetaSchemaRef {
        Uuid::schema_ref()
    }

    fn register_schema(_: &mut Registry) {}
}

parameter_type!(EntryId, Uuid::name());

impl ParseFromParameter for EntryId {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(Uuid::try_parse(value).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reason as a client reads it: poem-openapi's prefix naming the type is cut off by
    /// `rejection.rs`.
    fn reason<T: ParseFromParameter>(value: &str) -> String {
        match T::parse_from_parameter(value) {
            Ok(_) => panic!("{value:?} should be refused"),
            Err(err) => {
                let message = err.into_message();
                match message.split_once("\": ") {
                    Some((_, reason)) => reason.to_owned(),
                    None => message,
                }
            }
        }
    }

    #[test]
    fn bad_parameters_are_explained_in_words() {
        assert_eq!(reason::<PageLimit>("0"), "must be an integer from 1 to 100");
        assert_eq!(
            reason::<SortOrder>("name"),
            "must be one of: full_name, -full_name, created_at, -created_at, updated_at, -updated_at"
        );
        assert_eq!(
            reason::<SearchText<5>>("abc\u{0}"),
            "must not contain control characters"
        );
        assert_eq!(
            reason::<SearchText<5>>("abcdef"),
            "must be 1 to 5 characters long"
        );
        assert!(SearchText::<5>::parse_from_parameter("Zoë\u{a0}").is_ok());
    }
}
