//! The entry request body: read within the size limit, parsed as JSON, and checked by the domain's
//! validation, which reports every invalid field (poem-openapi's own parser stops at the first
//! and does not say where it was).

use poem::{Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::problem::{ApiError, RequestContext};
use super::schema::EntryInput;
use crate::domain::EntryContent;

/// A valid entry from the request body; documented as the contract's `EntryInput`.
pub struct EntryBody(pub EntryContent);

impl Payload for EntryBody {
    const CONTENT_TYPE: &'static str = "application/json";

    /// `application/json`, with or without parameters such as `charset=utf-8`.
    fn check_content_type(content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case(Self::CONTENT_TYPE)
    }

    fn schema_ref() -> MetaSchemaRef {
        EntryInput::schema_ref()
    }

    fn register(registry: &mut Registry) {
        EntryInput::register(registry);
    }
}

impl ParsePayload for EntryBody {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let limit = RequestContext::body_limit();
        let declared = request
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        // A body that says up front it is too large is refused before a byte of it is read.
        if declared.is_some_and(|len| len > limit)
            && request.headers().get("content-encoding").is_none()
        {
            return Err(ApiError::payload_too_large(limit).into());
        }
        // The limit is applied while reading, after any decompression, so a small gzip body cannot
        // expand into an unbounded allocation.
        let bytes = body
            .take()?
            .into_bytes_limit(limit)
            .await
            .map_err(|err| match err {
                poem::error::ReadBodyError::PayloadTooLarge => ApiError::payload_too_large(limit),
                other => ApiError::malformed_body(&other),
            })?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|err| ApiError::malformed_json(&err))?;
        Ok(Self(
            EntryContent::from_json(&value).map_err(ApiError::from)?,
        ))
    }
}

impl<'a> ApiExtractor<'a> for EntryBody {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: Self::CONTENT_TYPE,
                schema: Self::schema_ref(),
            }],
            required: Self::IS_REQUIRED,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(content_type) if Self::check_content_type(content_type) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            other => Err(ApiError::unsupported_media_type(other).into()),
        }
    }
}
