//! `/addresses` and `/addresses/{id}`: create, read, replace, delete and list entries.

use std::borrow::Cow;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, ToJSON, Type};
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::body::EntryBody;
use super::problem::{ApiError, ApiResult, error_set};
use super::schema::{Entry, EntryPage};
use crate::domain::{Cursor, PageRequest};
use crate::service::AddressBook;

pub struct AddressesApi {
    pub book: AddressBook,
}

#[derive(ApiResponse)]
pub enum ListResponse {
    /// One page of entries.
    #[oai(status = 200)]
    Page(Json<EntryPage>),
}

#[derive(ApiResponse)]
pub enum CreateResponse {
    /// The entry was stored.
    #[oai(status = 201)]
    Created(Json<Entry>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
pub enum GetResponse {
    /// The entry.
    #[oai(status = 200)]
    Found(Json<Entry>),
}

#[derive(ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

error_set!(ListErrors:
    400 => "A query parameter is out of range or malformed.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");
error_set!(CreateErrors:
    400 => "The body is not a valid entry.",
    413 => "The body is too large.",
    415 => "The body is not JSON.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");
error_set!(GetErrors:
    404 => "No entry has this id.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");
error_set!(ReplaceErrors:
    400 => "The body is not a valid entry.",
    404 => "No entry has this id.",
    413 => "The body is too large.",
    415 => "The body is not JSON.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");
error_set!(DeleteErrors:
    404 => "No entry has this id.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");

fn default_limit() -> PageLimit {
    PageLimit(20)
}

#[OpenApi(tag = "ApiTags::Addresses")]
impl AddressesApi {
    /// List entries, one page at a time
    #[oai(path = "/addresses", method = "get", operation_id = "listAddresses")]
    async fn list(
        &self,
        #[oai(default = "default_limit")] limit: Query<PageLimit>,
        #[oai(validator(min_length = 1, max_length = 512))] cursor: Query<Option<String>>,
    ) -> ApiResult<ListResponse, ListErrors> {
        let after = match cursor.0.as_deref().map(Cursor::decode).transpose() {
            Ok(after) => after,
            Err(err) => return Err(ApiError::invalid_parameter("cursor", err.to_string()).into()),
        };
        let limit = usize::from(limit.0.0);
        let page = self.book.list(PageRequest { limit, after }).await?;
        Ok(ListResponse::Page(Json(EntryPage {
            items: page.items.iter().map(Entry::from).collect(),
            next_cursor: page.next.map(|cursor| cursor.encode()),
        })))
    }

    /// Create an entry
    #[oai(path = "/addresses", method = "post", operation_id = "createAddress")]
    async fn create(&self, body: EntryBody) -> ApiResult<CreateResponse, CreateErrors> {
        let entry = self.book.create(body.entry().await?).await?;
        let location = format!("/addresses/{}", entry.id);
        Ok(CreateResponse::Created(Json(Entry::from(&entry)), location))
    }

    /// Read an entry
    #[oai(path = "/addresses/:id", method = "get", operation_id = "getAddress")]
    async fn get(&self, id: Path<EntryId>) -> ApiResult<GetResponse, GetErrors> {
        let id = id.0.known()?;
        let entry = self.book.get(id).await?;
        Ok(GetResponse::Found(Json(Entry::from(&entry))))
    }

    /// Replace an entry
    #[oai(
        path = "/addresses/:id",
        method = "put",
        operation_id = "replaceAddress"
    )]
    async fn replace(
        &self,
        id: Path<EntryId>,
        body: EntryBody,
    ) -> ApiResult<NoContent, ReplaceErrors> {
        let id = id.0.known()?;
        self.book.replace(id, body.entry().await?).await?;
        Ok(NoContent::Done)
    }

    /// Delete an entry
    #[oai(
        path = "/addresses/:id",
        method = "delete",
        operation_id = "deleteAddress"
    )]
    async fn delete(&self, id: Path<EntryId>) -> ApiResult<NoContent, DeleteErrors> {
        let id = id.0.known()?;
        self.book.delete(id).await?;
        Ok(NoContent::Done)
    }
}

/// The `limit` query parameter: 1 to 100. Its own type rather than an `i32` with validators so
/// that a bad value is explained in words ("must be an integer from 1 to 100") instead of in
/// poem-openapi's validator notation.
pub struct PageLimit(u8);

impl PageLimit {
    const MAX: u8 = 100;
}

impl Type for PageLimit {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "integer_int32".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new_with_format("integer", "int32");
        schema.minimum = Some(1.0);
        schema.maximum = Some(f64::from(Self::MAX));
        MetaSchemaRef::Inline(Box::new(schema))
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

impl ParseFromParameter for PageLimit {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        match value.parse::<u8>() {
            Ok(limit @ 1..=Self::MAX) => Ok(Self(limit)),
            _ => Err(ParseError::custom(format!(
                "must be an integer from 1 to {}",
                Self::MAX
            ))),
        }
    }
}

impl ToJSON for PageLimit {
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(self.0.into())
    }
}

/// The `{id}` path parameter. Declared as a UUID, but parsing never fails: a value that is not a
/// UUID names no entry, so the answer is the contract's 404, not a 400 about syntax.
pub struct EntryId(Option<Uuid>);

impl EntryId {
    fn known(&self) -> Result<Uuid, ApiError> {
        self.0.ok_or_else(ApiError::entry_not_found)
    }
}

impl Type for EntryId {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        Uuid::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        Uuid::schema_ref()
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

impl ParseFromParameter for EntryId {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(Uuid::try_parse(value).ok()))
    }
}
