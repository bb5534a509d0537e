//! The API's side of authentication: the credential a request carries (`Authorization: Bearer`
//! or `X-API-Key`), handed to the [`Authenticator`](crate::auth::Authenticator), and the
//! security schemes the contract declares for it. Every operation on entries takes an
//! [`Authenticated`] caller.

use std::sync::Arc;

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::context::RequestSettings;
use super::problem::ApiError;
use crate::auth::{AuthError, Credential};
use crate::domain::Caller;

/// The header an API key is sent in.
pub const API_KEY_HEADER: &str = "X-API-Key";

const BEARER_SCHEME: &str = "bearerAuth";
const API_KEY_SCHEME: &str = "apiKeyAuth";

/// The caller a request's credential names.
pub struct Authenticated(pub Caller);

impl<'a> ApiExtractor<'a> for Authenticated {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            BEARER_SCHEME,
            MetaSecurityScheme {
                ty: "http",
                description: Some("A JWT from an issuer this server trusts."),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: Some("JWT"),
                flows: None,
                openid_connect_url: None,
            },
        );
        registry.create_security_scheme(
            API_KEY_SCHEME,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some("An API key made with `addressbook-server keys create`."),
                name: Some(API_KEY_HEADER),
                key_in: Some("header"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![BEARER_SCHEME, API_KEY_SCHEME]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let settings = request
            .data::<Arc<RequestSettings>>()
            .ok_or_else(|| ApiError::internal("the request carries no authenticator"))?;
        let authenticator = &settings.authenticator;
        let credential = credential(request)?;
        let caller = authenticator
            .authenticate(credential)
            .await
            .map_err(|err| match err {
                AuthError::Missing => {
                    ApiError::unauthorized(None, "This operation needs a credential")
                }
                AuthError::Unavailable(err) => ApiError::from(err),
                AuthError::Expired => {
                    ApiError::unauthorized(Some("invalid_token"), "The token has expired")
                }
                err @ (AuthError::Malformed | AuthError::Invalid(_)) => {
                    ApiError::unauthorized(Some("invalid_token"), &capitalized(&err.to_string()))
                }
            })?;
        // The tenant goes into the request's log line; the credential never does.
        tracing::Span::current().record("tenant", caller.tenant.as_str());
        if let Err(wait) = settings.rate_limits.check(&caller) {
            return Err(ApiError::rate_limited(wait, settings.rate_limits.rate).into());
        }
        Ok(Self(caller))
    }
}

/// The credential `request` carries, if any: a bearer token, else an API key.
fn credential(request: &Request) -> Result<Option<Credential<'_>>, ApiError> {
    let malformed =
        || ApiError::unauthorized(Some("invalid_request"), "The credential is malformed");
    let mut authorization = request
        .headers()
        .get_all(poem::http::header::AUTHORIZATION)
        .iter();
    if let Some(value) = authorization.next() {
        if authorization.next().is_some() {
            return Err(malformed());
        }
        let value = value.to_str().map_err(|_| malformed())?;
        let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(malformed());
        }
        return Ok(Some(Credential::Bearer(token.trim())));
    }
    let mut keys = request.headers().get_all(API_KEY_HEADER).iter();
    match (keys.next(), keys.next()) {
        (None, _) => Ok(None),
        (Some(key), None) => Ok(Some(Credential::ApiKey(
            key.to_str().map_err(|_| malformed())?,
        ))),
        (Some(_), Some(_)) => Err(malformed()),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
