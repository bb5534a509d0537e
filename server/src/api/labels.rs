//! `/labels/{label}`: a label across the whole book, renamed or removed in one call.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::auth::Authenticated;
use super::body::RenameBody;
use super::declared::{ApiResult, error_set};
use super::params::LabelName;
use super::schema::LabelChange;
use crate::service::AddressBook;

pub struct LabelsApi {
    pub book: AddressBook,
}

#[derive(ApiResponse)]
pub enum RenameResponse {
    /// The label was renamed on every entry that had it.
    #[oai(status = 200)]
    Renamed(Json<LabelChange>),
}

#[derive(ApiResponse)]
pub enum RemoveResponse {
    /// The label is on no entry now.
    #[oai(status = 200)]
    Removed(Json<LabelChange>),
}

error_set!(RenameErrors:
    400 => "The label or the body is malformed.",
    401 => "No credential, or one that is not accepted.",
    403 => "The credential lacks the scope this operation needs.",
    408 => "The body did not arrive in time.",
    413 => "The body is too large.",
    415 => "The body is not JSON.",
    429 => "This credential has used up its rate.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.",
    507 => "The disk is full.");

error_set!(RemoveErrors:
    400 => "The label is malformed.",
    401 => "No credential, or one that is not accepted.",
    403 => "The credential lacks the scope this operation needs.",
    429 => "This credential has used up its rate.",
    500 => "An unexpected failure.",
    503 => "Storage cannot be reached right now.",
    507 => "The disk is full.");

fn change(label: String, entries: u64) -> Json<LabelChange> {
    Json(LabelChange {
        label,
        entries: i64::try_from(entries).unwrap_or(i64::MAX),
    })
}

#[OpenApi(tag = "ApiTags::Labels")]
impl LabelsApi {
    /// Rename a label on every entry
    #[oai(
        path = "/labels/:label/rename",
        method = "post",
        operation_id = "renameLabel"
    )]
    async fn rename(
        &self,
        auth: Authenticated,
        label: Path<LabelName>,
        body: RenameBody,
    ) -> ApiResult<RenameResponse, RenameErrors> {
        let from = label.0.checked()?;
        let to = body.target().await?;
        let changed = self.book.relabel(&auth.0, &from, Some(&to)).await?;
        Ok(RenameResponse::Renamed(change(to, changed)))
    }

    /// Remove a label from every entry
    #[oai(
        path = "/labels/:label",
        method = "delete",
        operation_id = "deleteLabel"
    )]
    async fn remove(
        &self,
        auth: Authenticated,
        label: Path<LabelName>,
    ) -> ApiResult<RemoveResponse, RemoveErrors> {
        let label = label.0.checked()?;
        let changed = self.book.relabel(&auth.0, &label, None).await?;
        Ok(RemoveResponse::Removed(change(label, changed)))
    }
}
