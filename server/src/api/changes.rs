//! `/changes`: the change feed, for systems that mirror the book and want only what changed
//! since they last asked.

use poem_openapi::param::Query;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::auth::Authenticated;
use super::declared::{ApiResult, error_set};
use super::document::JsonDocument;
use super::params::{ChangeLimit, CursorText};
use super::problem::ApiError;
use super::schema::ChangePage;
use crate::domain::{ChangeRequest, Cursors};
use crate::service::AddressBook;

pub struct ChangesApi {
    pub book: AddressBook,
    pub cursors: Cursors,
}

#[derive(ApiResponse)]
pub enum ChangesResponse {
    /// Changes after the token, and the token to pass next.
    #[oai(status = 200)]
    Page(JsonDocument<ChangePage>),
}

error_set!(ChangesErrors:
    400 => "A parameter is malformed, or the token is not one this service issued.",
    401 => "No credential, or one that is not accepted.",
    403 => "The credential lacks the scope this operation needs.",
    410 => "The token is older than the kept history: sync again from the start.",
    429 => "This credential has used up its rate.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.");

#[OpenApi(tag = "ApiTags::Changes")]
impl ChangesApi {
    /// Every change since a sync token
    #[oai(path = "/changes", method = "get", operation_id = "listChanges")]
    async fn list(
        &self,
        auth: Authenticated,
        #[oai(default)] limit: Query<ChangeLimit>,
        sync_token: Query<Option<CursorText>>,
    ) -> ApiResult<ChangesResponse, ChangesErrors> {
        let tenant = &auth.0.tenant;
        let after = match sync_token.0 {
            None => None,
            Some(CursorText(text)) => Some(
                self.cursors
                    .decode_token(&text, tenant)
                    .map_err(|err| ApiError::invalid_parameter("sync_token", err.to_string()))?,
            ),
        };
        let page = self
            .book
            .changes(
                &auth.0,
                ChangeRequest {
                    after,
                    limit: usize::from(limit.0.0),
                },
            )
            .await?;
        let token = self.cursors.encode_token(page.next, tenant);
        Ok(ChangesResponse::Page(JsonDocument::changes(
            &page.changes,
            &token,
            page.more,
        )))
    }
}
