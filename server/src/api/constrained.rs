//! Scalar and list types that carry their constraints into the generated document: each declares
//! a limit of [`crate::domain::limits`] once, for every field that has it. They describe request
//! bodies (which the domain's validation checks, reporting every broken rule) and carry response
//! values; parsing them checks nothing.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use super::headers::{ENTITY_TAGS_PATTERN, IDEMPOTENCY_KEY_PATTERN};
use crate::domain::MAX_OPERATIONS;
use crate::domain::limits::{self, COUNTRY_CODE_MAX, COUNTRY_CODE_MIN, MAX_ITEMS};

/// Implements [`Type`] for a newtype over `$raw` whose schema is `$schema`.
macro_rules! described_type {
    ($(@const $param:ident;)? $ty:ty, $raw:ty, $name:expr, $schema:expr) => {
        impl$(<const $param: usize>)? Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = $raw;
            type RawElementValueType = $raw;

            fn name() -> Cow<'static, str> {
                $name
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(&self.0)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }
    };
}

fn string_schema(max_length: usize, pattern: &str) -> MetaSchema {
    let mut schema = MetaSchema::new("string");
    schema.min_length = Some(1);
    schema.max_length = Some(max_length);
    schema.pattern = Some(pattern.to_owned());
    schema
}

fn parse_string<T: Type>(value: Option<Value>) -> Result<String, ParseError<T>> {
    match value {
        Some(Value::String(text)) => Ok(text),
        other => Err(ParseError::expected_type(other.unwrap_or_default())),
    }
}

/// Free text of at most `MAX` characters: a name, a street, a city.
#[derive(Debug, Clone)]
pub struct Text<const MAX: usize>(pub String);

described_type!(
    @const MAX; Text<MAX>,
    String,
    format!("text_{MAX}").into(),
    string_schema(MAX, limits::TEXT_PATTERN)
);

impl<const MAX: usize> ToJSON for Text<MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl<const MAX: usize> ParseFromJSON for Text<MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        parse_string(value).map(Self)
    }
}

/// One to `MAX` decimal digits: part of a phone number, leading zeros kept.
#[derive(Debug, Clone)]
pub struct Digits<const MAX: usize>(pub String);

described_type!(@const MAX; Digits<MAX>, String, format!("digits_{MAX}").into(), {
    let mut schema = MetaSchema::new("string");
    schema.pattern = Some(format!("^[0-9]{{1,{MAX}}}$"));
    schema
});

impl<const MAX: usize> ToJSON for Digits<MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl<const MAX: usize> ParseFromJSON for Digits<MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        parse_string(value).map(Self)
    }
}

/// An e-mail address.
#[derive(Debug, Clone)]
pub struct EmailText(pub String);

described_type!(EmailText, String, "email_text".into(), {
    let mut schema = MetaSchema::new_with_format("string", "email");
    schema.max_length = Some(limits::chars::EMAIL);
    schema
});

impl ToJSON for EmailText {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl ParseFromJSON for EmailText {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        parse_string(value).map(Self)
    }
}

/// An ITU country calling code.
#[derive(Debug, Clone, Copy)]
pub struct CountryCode(pub i32);

described_type!(CountryCode, i32, "country_code".into(), {
    let mut schema = MetaSchema::new_with_format("integer", "int32");
    schema.minimum = Some(f64::from(COUNTRY_CODE_MIN));
    schema.maximum = Some(f64::from(COUNTRY_CODE_MAX));
    schema
});

impl ToJSON for CountryCode {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.into())
    }
}

impl ParseFromJSON for CountryCode {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        i32::parse_from_json(value)
            .map(Self)
            .map_err(ParseError::propagate)
    }
}

/// A list a client writes, of `MIN` to `MAX` items: by default a list of an entry (at most
/// [`MAX_ITEMS`]).
#[derive(Debug, Clone)]
pub struct Items<T, const MIN: usize = 0, const MAX: usize = MAX_ITEMS>(pub Vec<T>);

/// The operations of one batch: 1 to [`MAX_OPERATIONS`].
pub type Operations<T> = Items<T, 1, MAX_OPERATIONS>;

impl<T, const MIN: usize, const MAX: usize> Default for Items<T, MIN, MAX> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: Type, const MIN: usize, const MAX: usize> Type for Items<T, MIN, MAX> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Vec<T>;
    type RawElementValueType = T;

    fn name() -> Cow<'static, str> {
        format!("items_{MIN}_{MAX}_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new("array");
        schema.items = Some(Box::new(T::schema_ref()));
        schema.min_items = (MIN > 0).then_some(MIN);
        schema.max_items = Some(MAX);
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.0.iter())
    }
}

impl<T: ToJSON, const MIN: usize, const MAX: usize> ToJSON for Items<T, MIN, MAX> {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}

impl<T: ParseFromJSON, const MIN: usize, const MAX: usize> ParseFromJSON for Items<T, MIN, MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Vec::<T>::parse_from_json(value)
            .map(Self)
            .map_err(ParseError::propagate)
    }
}

/// What an `If-Match` header holds, as a string in a body.
#[derive(Debug, Clone)]
pub struct EntityTagText(pub String);

described_type!(EntityTagText, String, "entity_tag_text".into(), {
    let mut schema = MetaSchema::new("string");
    schema.pattern = Some(ENTITY_TAGS_PATTERN.to_owned());
    schema
});

impl ToJSON for EntityTagText {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl ParseFromJSON for EntityTagText {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        parse_string(value).map(Self)
    }
}

/// What an `Idempotency-Key` header holds, as a string in a body.
#[derive(Debug, Clone)]
pub struct KeyText(pub String);

described_type!(
    KeyText,
    String,
    "key_text".into(),
    string_schema(limits::chars::IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_PATTERN)
);

impl ToJSON for KeyText {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl ParseFromJSON for KeyText {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        parse_string(value).map(Self)
    }
}
