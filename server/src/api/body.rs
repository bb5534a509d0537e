//! JSON request bodies: the media type checked when the request arrives, the bytes read only when
//! the handler asks (so it can first answer 404 for a missing entry), within the size limit, and
//! parsed. Entries are then checked by the domain's validation, which reports every invalid field
//! (poem-openapi's own parser stops at the first and does not say where it was).

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use poem::{Request, RequestBody};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use tokio::io::AsyncReadExt;

use super::context::{BodyRules, RequestSettings};
use super::problem::ApiError;
use super::schema::{BatchRequest, EntryInput, EntryPatch, LabelRename};
use crate::domain::{self, EntryContent};

/// What a body is: its media type and the contract schema that describes it.
pub trait BodyKind: Send + 'static {
    const CONTENT_TYPE: &'static str;
    type Schema: Type;
}

/// `application/json` with an [`EntryInput`]: POST and PUT.
pub struct Entry;

impl BodyKind for Entry {
    const CONTENT_TYPE: &'static str = "application/json";
    type Schema = EntryInput;
}

/// `application/merge-patch+json` with an [`EntryPatch`]: PATCH.
pub struct MergePatch;

impl BodyKind for MergePatch {
    const CONTENT_TYPE: &'static str = "application/merge-patch+json";
    type Schema = EntryPatch;
}

/// A request body of kind `K`, not read yet.
pub struct JsonBody<K> {
    body: poem::Body,
    rules: BodyRules,
    kind: PhantomData<K>,
}

/// The body of a label rename.
pub struct Rename;

impl BodyKind for Rename {
    const CONTENT_TYPE: &'static str = "application/json";
    type Schema = LabelRename;
}

/// `application/json` with a [`BatchRequest`].
pub struct Batch;

impl BodyKind for Batch {
    const CONTENT_TYPE: &'static str = "application/json";
    type Schema = BatchRequest;
}

pub type BatchBody = JsonBody<Batch>;
pub type EntryBody = JsonBody<Entry>;
pub type RenameBody = JsonBody<Rename>;
pub type PatchBody = JsonBody<MergePatch>;

/// Past the limit, a refused body is still read (and thrown away) up to this much, so that a
/// client still sending gets to read its 413 instead of a reset connection.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// The content codings the server decompresses (poem's `Compression` middleware).
const ENCODINGS: [&str; 4] = ["gzip", "deflate", "br", "identity"];

impl<K: BodyKind> JsonBody<K> {
    /// Reads the body, decompressed, and parses it as JSON.
    async fn json(self) -> Result<serde_json::Value, ApiError> {
        let BodyRules {
            max_bytes,
            deadline,
        } = self.rules;
        tokio::time::timeout(deadline, Self::read(self.body, max_bytes))
            .await
            .map_err(|_| ApiError::body_timeout(deadline))?
    }

    async fn read(body: poem::Body, limit: usize) -> Result<serde_json::Value, ApiError> {
        let mut reader = body.into_async_read();
        let mut data = Vec::new();
        let mut chunk = vec![0; 16 * 1024];
        loop {
            let read = reader
                .read(&mut chunk)
                .await
                .map_err(|err| ApiError::malformed_body(&err))?;
            if read == 0 {
                break;
            }
            // The limit applies after decompression: a small gzip body cannot expand into an
            // unbounded allocation.
            if data.len() + read > limit {
                drain(&mut reader).await;
                return Err(ApiError::payload_too_large(limit));
            }
            data.extend_from_slice(&chunk[..read]);
        }
        serde_json::from_slice(&data).map_err(|err| ApiError::malformed_json(&err))
    }
}

impl EntryBody {
    /// Reads the body and checks it is a valid entry.
    pub async fn entry(self) -> Result<EntryContent, ApiError> {
        Ok(EntryContent::from_json(&self.json().await?)?)
    }
}

impl RenameBody {
    /// The label the rename is to.
    pub async fn target(self) -> Result<String, ApiError> {
        domain::rename_target(&self.json().await?).map_err(|errors| {
            let count = errors.0.len();
            ApiError::from(errors).with_detail(format!(
                "The rename has {count} invalid field{}; `errors` lists each one.",
                if count == 1 { "" } else { "s" }
            ))
        })
    }
}

impl BatchBody {
    /// Reads the body and checks it is a well-formed batch.
    pub async fn operations(self) -> Result<Vec<super::batch::Parsed>, ApiError> {
        super::batch::operations(&self.json().await?).map_err(|errors| {
            let count = errors.0.len();
            ApiError::from(errors).with_detail(format!(
                "The batch has {count} fault{} of its shape, and nothing was written; `errors` \
                 lists each one.",
                if count == 1 { "" } else { "s" }
            ))
        })
    }
}

impl PatchBody {
    /// Reads the body and checks it is a valid merge patch of an entry.
    pub async fn patch(self) -> Result<domain::EntryPatch, ApiError> {
        Ok(domain::EntryPatch::from_json(&self.json().await?)?)
    }
}

async fn drain(reader: &mut (impl tokio::io::AsyncRead + Unpin)) {
    let mut sink = vec![0; 64 * 1024];
    let mut total = 0;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while total < DRAIN_BYTES {
            match reader.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(read) => total += read,
            }
        }
    })
    .await;
}

/// `application/json`-like media types match with or without parameters (`charset=utf-8`).
fn media_type_matches(content_type: &str, expected: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(expected)
}

impl<K: BodyKind> Payload for JsonBody<K> {
    const CONTENT_TYPE: &'static str = K::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        media_type_matches(content_type, K::CONTENT_TYPE)
    }

    fn schema_ref() -> MetaSchemaRef {
        K::Schema::schema_ref()
    }

    fn register(registry: &mut Registry) {
        K::Schema::register(registry);
    }
}

impl<'a, K: BodyKind> ApiExtractor<'a> for JsonBody<K> {
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
                content_type: K::CONTENT_TYPE,
                schema: Self::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let content_type = request.content_type();
        if !content_type.is_some_and(|ct| media_type_matches(ct, K::CONTENT_TYPE)) {
            return Err(ApiError::unsupported_media_type(content_type, K::CONTENT_TYPE).into());
        }
        let encoding = request.headers().get(poem::http::header::CONTENT_ENCODING);
        // A coding the server cannot decode would otherwise be stored as if it were plain JSON.
        if let Some(encoding) = encoding.and_then(|e| e.to_str().ok())
            && !ENCODINGS
                .iter()
                .any(|known| encoding.trim().eq_ignore_ascii_case(known))
        {
            return Err(ApiError::unsupported_encoding(encoding).into());
        }
        let rules = request
            .data::<Arc<RequestSettings>>()
            .ok_or_else(|| ApiError::internal("the request carries no body rules"))?
            .body;
        let limit = rules.max_bytes;
        let declared = request
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        // Too large to be worth draining, or a client waiting to be told to send it (`Expect:
        // 100-continue`, which reading would grant): refuse before reading a byte.
        let expects_continue = request
            .headers()
            .get(poem::http::header::EXPECT)
            .is_some_and(|expect| expect.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let refuse_unread = if expects_continue {
            limit
        } else {
            limit.max(DRAIN_BYTES)
        };
        if encoding.is_none() && declared.is_some_and(|len| len > refuse_unread) {
            return Err(ApiError::payload_too_large(limit).into());
        }
        Ok(Self {
            body: body.take()?,
            rules,
            kind: PhantomData,
        })
    }
}
