//! Errors poem and poem-openapi raise themselves, before or instead of a handler (unknown route,
//! wrong method, malformed parameter, wrong content type), put into the API's own words so that
//! no response leaves the server as poem's default `text/plain`.

use poem::error::{MethodNotAllowedError, NotFoundError, ReadBodyError};
use poem_openapi::error::{ContentTypeError, ParseParamError};

use super::problem::{ApiError, RequestInfo};

impl ApiError {
    /// The problem for an error that reached the outermost API middleware while answering
    /// `request`: an [`ApiError`] a handler or extractor returned, or one of poem's own.
    pub fn from_poem(err: poem::Error, request: &RequestInfo, body_limit: usize) -> Self {
        if err.is::<ApiError>() {
            return err.downcast::<ApiError>().expect("checked by is()");
        }
        if let Some(e) = err.downcast_ref::<ParseParamError>() {
            // poem-openapi prefixes the parser's own words with `failed to parse "<type>": `, which
            // names an internal type; the words after it are the reason.
            let reason = match e.reason.split_once("\": ") {
                Some((prefix, rest)) if prefix.starts_with("failed to parse \"") => rest,
                _ => e.reason.as_str(),
            };
            // An optional parameter's parser wraps the inner one's reason in
            // ` (occurred while parsing "optional_SortOrder")`, naming a type again.
            let reason = match reason.rsplit_once(" (occurred while parsing \"") {
                Some((reason, _)) => reason,
                None => reason,
            };
            return Self::invalid_parameter(e.name, reason.trim_end_matches('.').to_owned());
        }
        if err.is::<NotFoundError>() {
            return Self::unknown_endpoint(&request.path);
        }
        if err.is::<MethodNotAllowedError>() {
            let allow = super::contract::allowed_methods(&request.path).join(", ");
            return Self::method_not_allowed(&request.method, &allow);
        }
        if let Some(e) = err.downcast_ref::<ContentTypeError>() {
            return match e {
                ContentTypeError::NotSupported { content_type } => {
                    Self::unsupported_media_type(Some(content_type), "application/json")
                }
                ContentTypeError::ExpectContentType => {
                    Self::unsupported_media_type(None, "application/json")
                }
            };
        }
        if let Some(ReadBodyError::PayloadTooLarge) = err.downcast_ref::<ReadBodyError>() {
            return Self::payload_too_large(body_limit);
        }
        let status = err.status();
        if status.is_client_error() {
            Self::other_client_error(status, err.to_string())
        } else {
            Self::internal(err.to_string())
        }
    }
}
