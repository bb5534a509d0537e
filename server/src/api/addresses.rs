//! `/addresses` and `/addresses/{id}`: create, read, replace, patch, delete and list entries.

use std::sync::Arc;

use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::auth::Authenticated;
use super::body::{EntryBody, PatchBody};
use super::declared::{ApiResult, error_set};
use super::document::JsonDocument;
use super::headers::{EntityTags, IdempotencyKey, OptionalHeader, entity_tag};
use super::params::{CursorText, EntryId, PageLimit, SearchText, SortOrder};
use super::problem::ApiError;
use super::schema::{Entry, EntryPage};
use crate::domain::limits::chars;
use crate::domain::{self, Comparison, Cursors, Filter, PageRequest, Sort};
use crate::metrics::Metrics;
use crate::service::{AddressBook, CreateFailure};

pub struct AddressesApi {
    pub book: AddressBook,
    pub cursors: Cursors,
    pub metrics: Arc<Metrics>,
}

#[derive(ApiResponse)]
pub enum ListResponse {
    /// One page of entries.
    #[oai(status = 200)]
    Page(
        JsonDocument<EntryPage>,
        #[oai(header = "Link")] Option<String>,
    ),
}

#[derive(ApiResponse)]
pub enum CreateResponse {
    /// The entry was stored.
    #[oai(status = 201)]
    Created(
        JsonDocument<Entry>,
        #[oai(header = "Location")] String,
        #[oai(header = "ETag")] String,
    ),
}

#[derive(ApiResponse)]
pub enum GetResponse {
    /// The entry.
    #[oai(status = 200)]
    Found(JsonDocument<Entry>, #[oai(header = "ETag")] String),
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
    Patched(JsonDocument<Entry>, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum DeleteResponse {
    /// The entry was deleted.
    #[oai(status = 204)]
    Deleted,
}

error_set!(ListErrors:
    400 => "A query parameter is out of range or malformed.",
    401 => "No credential, or one that is not accepted.",
    403 => "The credential lacks the scope this operation needs.",
    429 => "This credential has used up its rate.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");
error_set!(CreateErrors:
    400 => "The body is not a valid entry, or Idempotency-Key is malformed.",
    401 => "No credential, or one that is not accepted.",
    403 => "The credential lacks the scope this operation needs.",
    408 => "The body did not arrive in time.",
    409 => "A request with this Idempotency-Key is still being processed, or took it over.",
    413 => "The body is too large.",
    415 => "The body is not JSON.",
    422 => "This Idempotency-Key was used with another body.",
    429 => "This credential has used up its rate.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.",
    507 => "The disk is full.");
error_set!(GetErrors:
    400 => "If-None-Match is malformed.",
    401 => "No credential, or one that is not accepted.",
    403 => "The credential lacks the scope this operation needs.",
    404 => "No entry has this id.",
    429 => "This credential has used up its rate.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");
error_set!(ReplaceErrors:
    400 => "The body is not a valid entry, or If-Match is malformed.",
    401 => "No credential, or one that is not accepted.",
    403 => "The credential lacks the scope this operation needs.",
    404 => "No entry has this id.",
    412 => "The entry does not match If-Match.",
    408 => "The body did not arrive in time.",
    413 => "The body is too large.",
    415 => "The body is not JSON.",
    428 => "This server requires If-Match on writes.",
    429 => "This credential has used up its rate.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.",
    507 => "The disk is full.");
error_set!(PatchErrors:
    400 => "The body is not a valid merge patch of an entry, or If-Match is malformed.",
    401 => "No credential, or one that is not accepted.",
    403 => "The credential lacks the scope this operation needs.",
    404 => "No entry has this id.",
    409 => "The entry kept changing while the patch was applied.",
    412 => "The entry does not match If-Match.",
    408 => "The body did not arrive in time.",
    413 => "The body is too large.",
    415 => "The body is not a merge patch.",
    428 => "This server requires If-Match on writes.",
    429 => "This credential has used up its rate.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.",
    507 => "The disk is full.");
error_set!(DeleteErrors:
    400 => "If-Match is malformed.",
    401 => "No credential, or one that is not accepted.",
    403 => "The credential lacks the scope this operation needs.",
    404 => "No entry has this id.",
    412 => "The entry does not match If-Match.",
    428 => "This server requires If-Match on writes.",
    429 => "This credential has used up its rate.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.",
    507 => "The disk is full.");

/// The `Link` header of a page: the next page's URL, repeating the request's own parameters as the
/// client sent them, so following it needs no knowledge of the API.
fn next_link(
    limit: u8,
    cursor: &str,
    search: [(&str, Option<&str>); 4],
    sort: Option<Sort>,
) -> String {
    let mut query = vec![("limit", limit.to_string()), ("cursor", cursor.to_owned())];
    for (name, value) in search {
        if let Some(value) = value {
            query.push((name, value.to_owned()));
        }
    }
    if let Some(sort) = sort {
        query.push(("sort", sort.name().to_owned()));
    }
    let query = serde_urlencoded::to_string(&query).expect("pairs of strings always encode");
    format!("</addresses?{query}>; rel=\"next\"")
}

fn created(entry: &domain::Entry) -> CreateResponse {
    CreateResponse::Created(
        JsonDocument::new_entry(entry),
        format!("/addresses/{}", entry.id),
        entity_tag(entry.version),
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
        auth: Authenticated,
        #[oai(default)] limit: Query<PageLimit>,
        cursor: Query<Option<CursorText>>,
        q: Query<Option<SearchText<{ chars::QUERY }>>>,
        city: Query<Option<SearchText<{ chars::FILTER }>>>,
        country: Query<Option<SearchText<{ chars::FILTER }>>>,
        label: Query<Option<SearchText<{ chars::LABEL }>>>,
        sort: Query<Option<SortOrder>>,
    ) -> ApiResult<ListResponse, ListErrors> {
        let q = q.0.map(|text| text.0);
        let city = city.0.map(|text| text.0);
        let country = country.0.map(|text| text.0);
        let label = label.0.map(|text| text.0);
        let filter = Filter::new(q.as_deref(), city.as_deref(), country.as_deref())
            .with_label(label.as_deref());
        let requested_sort = sort.0.map(|order| order.0);
        let sort = requested_sort.unwrap_or_default();
        let after = match cursor.0 {
            None => None,
            Some(CursorText(text)) => Some(
                self.cursors
                    .decode(&text, &auth.0.tenant, &filter, sort)
                    .map_err(|err| ApiError::invalid_parameter("cursor", err.to_string()))?,
            ),
        };
        let limit = limit.0.0;
        let page = self
            .book
            .list(
                &auth.0,
                PageRequest {
                    limit: usize::from(limit),
                    filter: filter.clone(),
                    sort,
                    after,
                },
            )
            .await?;
        let next_cursor = page
            .next
            .map(|next| self.cursors.encode(&next, &auth.0.tenant, &filter, sort));
        let search = [
            ("q", q.as_deref()),
            ("city", city.as_deref()),
            ("country", country.as_deref()),
            ("label", label.as_deref()),
        ];
        let link = next_cursor
            .as_deref()
            .map(|cursor| next_link(limit, cursor, search, requested_sort));
        Ok(ListResponse::Page(
            JsonDocument::page(&page.items, next_cursor.as_deref()),
            link,
        ))
    }

    /// Create an entry
    #[oai(path = "/addresses", method = "post", operation_id = "createAddress")]
    async fn create(
        &self,
        auth: Authenticated,
        #[oai(name = "Idempotency-Key")] idempotency_key: OptionalHeader<IdempotencyKey>,
        body: EntryBody,
    ) -> ApiResult<CreateResponse, CreateErrors> {
        let entry = match idempotency_key.0 {
            None => self.book.create(&auth.0, body.entry().await?).await?,
            Some(IdempotencyKey(key)) => {
                let created = self
                    .book
                    .create_idempotent(&auth.0, &key, body.entry())
                    .await
                    .map_err(|failure| match failure {
                        CreateFailure::Refused(err) => ApiError::from(err),
                        CreateFailure::Content(err) => err,
                    })?;
                if created.replayed {
                    self.metrics.idempotent_replay();
                }
                created.entry
            }
        };
        Ok(created(&entry))
    }

    /// Read an entry
    #[oai(path = "/addresses/:id", method = "get", operation_id = "getAddress")]
    async fn get(
        &self,
        auth: Authenticated,
        id: Path<EntryId>,
        #[oai(name = "If-None-Match")] if_none_match: OptionalHeader<EntityTags>,
    ) -> ApiResult<GetResponse, GetErrors> {
        let entry = self.book.get(&auth.0, id.0.known()?).await?;
        let tag = entity_tag(entry.version);
        if if_none_match
            .0
            .is_some_and(|EntityTags(tags)| tags.matches(entry.version, Comparison::Weak))
        {
            return Ok(GetResponse::NotModified(tag));
        }
        Ok(GetResponse::Found(JsonDocument::entry(&entry), tag))
    }

    /// Replace an entry
    #[oai(
        path = "/addresses/:id",
        method = "put",
        operation_id = "replaceAddress"
    )]
    async fn replace(
        &self,
        auth: Authenticated,
        id: Path<EntryId>,
        #[oai(name = "If-Match")] if_match: OptionalHeader<EntityTags>,
        body: EntryBody,
    ) -> ApiResult<ReplaceResponse, ReplaceErrors> {
        let id = id.0.known()?;
        let content = body.entry().await?;
        let precondition = if_match.0.map(|tags| tags.0);
        let entry = self
            .book
            .replace(&auth.0, id, content, precondition.as_ref())
            .await?;
        Ok(ReplaceResponse::Replaced(entity_tag(entry.version)))
    }

    /// Change some fields of an entry
    #[oai(
        path = "/addresses/:id",
        method = "patch",
        operation_id = "patchAddress"
    )]
    async fn patch(
        &self,
        auth: Authenticated,
        id: Path<EntryId>,
        #[oai(name = "If-Match")] if_match: OptionalHeader<EntityTags>,
        body: PatchBody,
    ) -> ApiResult<PatchResponse, PatchErrors> {
        let id = id.0.known()?;
        // Checked before the precondition is evaluated: a patch that could never apply is a
        // 400 whatever version the entry has (RFC 9110, 13.2.1).
        let patch = body.patch().await?;
        let precondition = if_match.0.map(|tags| tags.0);
        let entry = self
            .book
            .patch(&auth.0, id, &patch, precondition.as_ref())
            .await?;
        Ok(PatchResponse::Patched(
            JsonDocument::new_entry(&entry),
            entity_tag(entry.version),
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
        auth: Authenticated,
        id: Path<EntryId>,
        #[oai(name = "If-Match")] if_match: OptionalHeader<EntityTags>,
    ) -> ApiResult<DeleteResponse, DeleteErrors> {
        let precondition = if_match.0.map(|tags| tags.0);
        self.book
            .delete(&auth.0, id.0.known()?, precondition.as_ref())
            .await?;
        Ok(DeleteResponse::Deleted)
    }
}
