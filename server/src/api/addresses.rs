//! `/addresses` and `/addresses/{id}`: create, read, replace, delete and list entries.

use std::borrow::Cow;

use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, ToJSON, Type};
use poem_openapi::{ApiResponse, Enum, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::body::{EntryBody, PatchBody};
use super::problem::{ApiError, ApiResult, error_set};
use super::schema::{Entry, EntryPage};
use crate::domain::{self, Cursors, Filter, PageRequest, Sort, SortKey, etag};
use crate::service::AddressBook;
use crate::storage::KeyClaim;

pub struct AddressesApi {
    pub book: AddressBook,
    pub cursors: Cursors,
}

#[derive(ApiResponse)]
pub enum ListResponse {
    /// One page of entries.
    #[oai(status = 200)]
    Page(Json<EntryPage>, #[oai(header = "Link")] Option<String>),
}

#[derive(ApiResponse)]
pub enum CreateResponse {
    /// The entry was stored.
    #[oai(status = 201)]
    Created(
        Json<Entry>,
        #[oai(header = "Location")] String,
        #[oai(header = "ETag")] String,
    ),
}

#[derive(ApiResponse)]
pub enum GetResponse {
    /// The entry.
    #[oai(status = 200)]
    Found(Json<Entry>, #[oai(header = "ETag")] String),
    /// The entry has not changed since the ETag in If-None-Match.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum ReplaceResponse {
    /// The entry was replaced.
    #[oai(status = 204)]
    Replaced(#[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum PatchResponse {
    /// The entry as changed.
    #[oai(status = 200)]
    Patched(Json<Entry>, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum DeleteResponse {
    /// The entry was deleted.
    #[oai(status = 204)]
    Deleted,
}

/// `sort`: a listing order, `-` in front for descending.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    #[oai(rename = "full_name")]
    FullName,
    #[oai(rename = "-full_name")]
    FullNameDescending,
    #[oai(rename = "created_at")]
    CreatedAt,
    #[oai(rename = "-created_at")]
    CreatedAtDescending,
    #[oai(rename = "updated_at")]
    UpdatedAt,
    #[oai(rename = "-updated_at")]
    UpdatedAtDescending,
}

impl SortOrder {
    fn as_str(self) -> &'static str {
        match self {
            Self::FullName => "full_name",
            Self::FullNameDescending => "-full_name",
            Self::CreatedAt => "created_at",
            Self::CreatedAtDescending => "-created_at",
            Self::UpdatedAt => "updated_at",
            Self::UpdatedAtDescending => "-updated_at",
        }
    }
}

impl From<SortOrder> for Sort {
    fn from(order: SortOrder) -> Self {
        let (key, descending) = match order {
            SortOrder::FullName => (SortKey::FullName, false),
            SortOrder::FullNameDescending => (SortKey::FullName, true),
            SortOrder::CreatedAt => (SortKey::CreatedAt, false),
            SortOrder::CreatedAtDescending => (SortKey::CreatedAt, true),
            SortOrder::UpdatedAt => (SortKey::UpdatedAt, false),
            SortOrder::UpdatedAtDescending => (SortKey::UpdatedAt, true),
        };
        Sort { key, descending }
    }
}

error_set!(ListErrors:
    400 => "A query parameter is out of range or malformed.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");
error_set!(CreateErrors:
    400 => "The body is not a valid entry.",
    409 => "A request with this Idempotency-Key is still being processed.",
    413 => "The body is too large.",
    415 => "The body is not JSON.",
    422 => "This Idempotency-Key was used with another body.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");
error_set!(GetErrors:
    404 => "No entry has this id.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");
error_set!(WriteErrors:
    400 => "The body is not a valid entry.",
    404 => "No entry has this id.",
    412 => "The entry does not match If-Match.",
    413 => "The body is too large.",
    415 => "The body is not of the media type the operation takes.",
    428 => "This server requires If-Match on writes.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");
error_set!(DeleteErrors:
    404 => "No entry has this id.",
    412 => "The entry does not match If-Match.",
    428 => "This server requires If-Match on writes.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");

fn default_limit() -> PageLimit {
    PageLimit(20)
}

/// The `Link` header of a page: the next page's URL, repeating the request's own parameters as the
/// client sent them, so following it needs no knowledge of the API.
fn next_link(
    limit: u8,
    cursor: &str,
    search: [(&str, &Option<String>); 3],
    order: Option<SortOrder>,
) -> String {
    let mut query = vec![("limit", limit.to_string()), ("cursor", cursor.to_owned())];
    for (name, value) in search {
        if let Some(value) = value {
            query.push((name, value.clone()));
        }
    }
    if let Some(order) = order {
        query.push(("sort", order.as_str().to_owned()));
    }
    let query = serde_urlencoded::to_string(&query).expect("pairs of strings always encode");
    format!("</addresses?{query}>; rel=\"next\"")
}

fn created(entry: &domain::Entry) -> CreateResponse {
    CreateResponse::Created(
        Json(Entry::from(entry)),
        format!("/addresses/{}", entry.id),
        etag::entity_tag(entry.version),
    )
}

#[OpenApi(tag = "ApiTags::Addresses")]
impl AddressesApi {
    /// List entries, one page at a time
    #[oai(path = "/addresses", method = "get", operation_id = "listAddresses")]
    // One argument per query parameter: poem-openapi declares them from this signature.
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        #[oai(default = "default_limit")] limit: Query<PageLimit>,
        #[oai(validator(min_length = 1, max_length = 2048))] cursor: Query<Option<String>>,
        #[oai(validator(min_length = 1, max_length = 200))] q: Query<Option<String>>,
        #[oai(validator(min_length = 1, max_length = 100))] city: Query<Option<String>>,
        #[oai(validator(min_length = 1, max_length = 100))] country: Query<Option<String>>,
        sort: Query<Option<SortOrder>>,
    ) -> ApiResult<ListResponse, ListErrors> {
        let filter = Filter::new(q.0.as_deref(), city.0.as_deref(), country.0.as_deref());
        let requested_order = sort.0;
        let sort = Sort::from(requested_order.unwrap_or(SortOrder::CreatedAt));
        let after = match cursor.0.as_deref() {
            None => None,
            Some(text) => Some(
                self.cursors
                    .decode(text, &filter, sort)
                    .map_err(|err| ApiError::invalid_parameter("cursor", err.to_string()))?,
            ),
        };
        let limit = limit.0.0;
        let page = self
            .book
            .list(PageRequest {
                limit: usize::from(limit),
                filter: filter.clone(),
                sort,
                after,
            })
            .await?;
        let next_cursor = page
            .next
            .map(|next| self.cursors.encode(&next, &filter, sort));
        let search = [("q", &q.0), ("city", &city.0), ("country", &country.0)];
        let link = next_cursor
            .as_deref()
            .map(|cursor| next_link(limit, cursor, search, requested_order));
        Ok(ListResponse::Page(
            Json(EntryPage {
                items: page.items.iter().map(Entry::from).collect(),
                next_cursor,
            }),
            link,
        ))
    }

    /// Create an entry
    #[oai(path = "/addresses", method = "post", operation_id = "createAddress")]
    async fn create(
        &self,
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        idempotency_key: Header<Option<String>>,
        body: EntryBody,
    ) -> ApiResult<CreateResponse, CreateErrors> {
        let Some(key) = idempotency_key.0 else {
            let entry = self.book.create(body.entry().await?).await?;
            return Ok(created(&entry));
        };
        match self.book.claim_key(&key).await? {
            KeyClaim::InFlight => Err(ApiError::idempotency_key_in_flight().into()),
            KeyClaim::Completed(original) => {
                // Same key, same entry: the retry of a request that succeeded gets its answer again.
                if body.entry().await? == original.content {
                    Ok(created(&original))
                } else {
                    Err(ApiError::idempotency_key_reused().into())
                }
            }
            KeyClaim::Claimed => {
                let outcome = match body.entry().await {
                    Ok(content) => self
                        .book
                        .create_with_key(content, &key)
                        .await
                        .map_err(ApiError::from),
                    Err(err) => Err(err),
                };
                match outcome {
                    Ok(entry) => Ok(created(&entry)),
                    Err(err) => {
                        self.book.release_key(&key).await;
                        Err(err.into())
                    }
                }
            }
        }
    }

    /// Read an entry
    #[oai(path = "/addresses/:id", method = "get", operation_id = "getAddress")]
    async fn get(
        &self,
        id: Path<EntryId>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> ApiResult<GetResponse, GetErrors> {
        let entry = self.book.get(id.0.known()?).await?;
        let tag = etag::entity_tag(entry.version);
        if if_none_match
            .0
            .as_deref()
            .is_some_and(|header| etag::matches(header, entry.version, true))
        {
            return Ok(GetResponse::NotModified(tag));
        }
        Ok(GetResponse::Found(Json(Entry::from(&entry)), tag))
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
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: EntryBody,
    ) -> ApiResult<ReplaceResponse, WriteErrors> {
        let id = id.0.known()?;
        let content = body.entry().await?;
        let entry = self
            .book
            .replace(id, content, if_match.0.as_deref())
            .await?;
        Ok(ReplaceResponse::Replaced(etag::entity_tag(entry.version)))
    }

    /// Change some fields of an entry
    #[oai(
        path = "/addresses/:id",
        method = "patch",
        operation_id = "patchAddress"
    )]
    async fn patch(
        &self,
        id: Path<EntryId>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: PatchBody,
    ) -> ApiResult<PatchResponse, WriteErrors> {
        let id = id.0.known()?;
        let patch = body.json().await?;
        let entry = self.book.patch(id, &patch, if_match.0.as_deref()).await?;
        Ok(PatchResponse::Patched(
            Json(Entry::from(&entry)),
            etag::entity_tag(entry.version),
        ))
    }

    /// Delete an entry
    #[oai(
        path = "/addresses/:id",
        method = "delete",
        operation_id = "deleteAddress"
    )]
    async fn delete(
        &self,
        id: Path<EntryId>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
    ) -> ApiResult<DeleteResponse, DeleteErrors> {
        self.book
            .delete(id.0.known()?, if_match.0.as_deref())
            .await?;
        Ok(DeleteResponse::Deleted)
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
