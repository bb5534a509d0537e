//! Authentication: who a credential says its caller is. A bearer token (a JWT) is verified
//! against the configured keys, its `exp`, `nbf`, `iss` and `aud` checked; an API key against
//! the SHA-256 of its secret, kept in the configuration or in the database. Either gives a
//! [`Caller`]: a tenant and its scopes. What the caller may then do is the service's to decide.
//!
//! Keys are parsed once, when the server starts, and a credential once verified is remembered
//! (by its hash, never as itself) until it expires or for at most [`REMEMBER_FOR`], so most
//! requests cost one hash and one map lookup.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{AuthMode, AuthSettings, JwtSettings};
use crate::domain::{self, ApiKey, Caller, Scope, Tenant};
use crate::service::{AddressBook, ServiceError};

/// How long a verified credential is trusted without being checked again: the longest an API
/// key revoked in the database may still be used.
pub const REMEMBER_FOR: Duration = Duration::from_secs(30);
/// At most this many verified credentials are remembered; past it the memory starts afresh.
const REMEMBER_AT_MOST: usize = 10_000;

/// The prefix of every API key this service makes: `abk_<id>_<secret>`.
const KEY_PREFIX: &str = "abk_";

/// What a request presented.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
}

/// Why a credential was not accepted. The messages are safe to send: they never hold the
/// credential.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no credential was sent")]
    Missing,
    #[error("the credential is malformed")]
    Malformed,
    #[error("the token has expired")]
    Expired,
    #[error("the credential is not valid: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Unavailable(ServiceError),
}

pub struct Authenticator {
    mode: AuthMode,
    jwt: Option<Jwt>,
    /// API keys from the configuration, by id.
    configured: HashMap<String, ApiKey>,
    book: AddressBook,
    remembered: Mutex<HashMap<[u8; 32], (Caller, Instant)>>,
}

impl Authenticator {
    /// Parses every configured key; a key that does not parse stops the server, named.
    pub fn new(settings: &AuthSettings, book: AddressBook) -> anyhow::Result<Self> {
        let jwt = Jwt::new(&settings.jwt)?;
        let mut configured = HashMap::new();
        for (i, key) in settings.api_keys.iter().enumerate() {
            let at = || format!("auth.api_keys[{i}]");
            let tenant = Tenant::parse(&key.tenant).with_context(|| format!("{}.tenant", at()))?;
            let mut scopes = Vec::new();
            for name in &key.scopes {
                scopes
                    .push(Scope::named(name).with_context(|| {
                        format!("{}.scopes: no scope is called {name:?}", at())
                    })?);
            }
            let hash = key.secret_sha256.to_ascii_lowercase();
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("{}.secret_sha256: not a SHA-256 in hex (64 digits)", at());
            }
            configured.insert(
                key.id.clone(),
                ApiKey {
                    id: key.id.clone(),
                    tenant,
                    scopes,
                    secret_sha256: hash,
                    name: format!("configured key {}", key.id),
                    created_at: domain::now(),
                    revoked_at: None,
                },
            );
        }
        Ok(Self {
            mode: settings.mode,
            jwt,
            configured,
            book,
            remembered: Mutex::new(HashMap::new()),
        })
    }

    pub fn is_required(&self) -> bool {
        self.mode == AuthMode::Required
    }

    /// Whether a credential could be accepted without looking in the database.
    pub fn has_configured_keys(&self) -> bool {
        self.jwt.is_some() || !self.configured.is_empty()
    }

    /// The caller `credential` names. Without authentication, every request is the local caller.
    pub async fn authenticate(
        &self,
        credential: Option<Credential<'_>>,
    ) -> Result<Caller, AuthError> {
        if self.mode == AuthMode::Disabled {
            return Ok(Caller::local());
        }
        let credential = credential.ok_or(AuthError::Missing)?;
        let text = match credential {
            Credential::Bearer(token) | Credential::ApiKey(token) => token,
        };
        let fingerprint: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        if let Some(caller) = self.remembered(&fingerprint) {
            return Ok(caller);
        }
        let (caller, valid_for) = match credential {
            Credential::Bearer(token) if !token.starts_with(KEY_PREFIX) => {
                let jwt = self.jwt.as_ref().ok_or(AuthError::Invalid(
                    "this server accepts no bearer tokens, only API keys",
                ))?;
                jwt.verify(token)?
            }
            // An API key sent as a bearer token is an API key all the same.
            Credential::Bearer(key) | Credential::ApiKey(key) => {
                (self.api_key(key).await?, REMEMBER_FOR)
            }
        };
        self.remember(fingerprint, &caller, valid_for);
        Ok(caller)
    }

    async fn api_key(&self, key: &str) -> Result<Caller, AuthError> {
        let (id, secret) = key
            .strip_prefix(KEY_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .ok_or(AuthError::Malformed)?;
        let stored = match self.configured.get(id) {
            Some(key) => Some(key.clone()),
            None => self
                .book
                .api_key(id)
                .await
                .map_err(AuthError::Unavailable)?,
        };
        let hash = hex(&Sha256::digest(secret.as_bytes()));
        match stored {
            Some(key) if key.revoked_at.is_none() && same(&hash, &key.secret_sha256) => Ok(
                Caller::new(key.tenant, key.scopes, format!("key:{}", key.id)),
            ),
            Some(key) if key.revoked_at.is_some() => Err(AuthError::Invalid("the key was revoked")),
            _ => Err(AuthError::Invalid("no such key")),
        }
    }

    fn remembered(&self, fingerprint: &[u8; 32]) -> Option<Caller> {
        let remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        remembered
            .get(fingerprint)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(caller, _)| caller.clone())
    }

    fn remember(&self, fingerprint: [u8; 32], caller: &Caller, valid_for: Duration) {
        let mut remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        if remembered.len() >= REMEMBER_AT_MOST {
            remembered.clear();
        }
        let until = Instant::now() + valid_for.min(REMEMBER_FOR);
        remembered.insert(fingerprint, (caller.clone(), until));
    }
}

/// A new API key for `tenant`: the key as it is kept, and the whole key (`abk_<id>_<secret>`),
/// which is kept nowhere and shown once.
pub fn new_api_key(tenant: Tenant, scopes: Vec<Scope>, name: String) -> (ApiKey, String) {
    // Random v4 UUIDs from the operating system's generator: the id (which only has to be
    // unique; it is no secret) takes 16 hex digits of one, 60 random bits; the secret two
    // whole ones, 244 random bits.
    let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
    let mut secret_bytes = [0_u8; 32];
    secret_bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    secret_bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let secret = URL_SAFE_NO_PAD.encode(secret_bytes);
    let key = ApiKey {
        secret_sha256: hex(&Sha256::digest(secret.as_bytes())),
        id: id.clone(),
        tenant,
        scopes,
        name,
        created_at: domain::now(),
        revoked_at: None,
    };
    (key, format!("{KEY_PREFIX}{id}_{secret}"))
}

/// The SHA-256 of a key's secret, as `auth.api_keys[].secret_sha256` takes it.
pub fn secret_sha256(key: &str) -> Option<String> {
    let (_, secret) = key.strip_prefix(KEY_PREFIX)?.split_once('_')?;
    Some(hex(&Sha256::digest(secret.as_bytes())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// Verifies bearer tokens.
struct Jwt {
    keys: Vec<JwtKey>,
    settings: JwtSettings,
}

struct JwtKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
    validation: Validation,
}

impl Jwt {
    fn new(settings: &JwtSettings) -> anyhow::Result<Option<Self>> {
        let mut keys = Vec::new();
        for (i, key) in settings.keys.iter().enumerate() {
            let at = format!("auth.jwt.keys[{i}]");
            let algorithm = algorithm(&key.algorithm).with_context(|| format!("{at}.algorithm"))?;
            let decoding = match (algorithm, &key.secret, &key.public_key_pem) {
                (Algorithm::HS256, Some(secret), None) => {
                    DecodingKey::from_secret(secret.as_bytes())
                }
                (Algorithm::RS256, None, Some(pem)) => DecodingKey::from_rsa_pem(pem.as_bytes()),
                (Algorithm::ES256, None, Some(pem)) => DecodingKey::from_ec_pem(pem.as_bytes()),
                (Algorithm::EdDSA, None, Some(pem)) => DecodingKey::from_ed_pem(pem.as_bytes()),
                (Algorithm::HS256, _, _) => {
                    bail!("{at}: an HS256 key has a secret and no public_key_pem")
                }
                _ => bail!(
                    "{at}: a {} key has a public_key_pem and no secret",
                    key.algorithm
                ),
            }
            .with_context(|| format!("{at}: the key does not parse"))?;
            keys.push(JwtKey::new(key.kid.clone(), algorithm, decoding, settings));
        }
        if let Some(path) = &settings.jwks_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("auth.jwt.jwks_file: cannot read {}", path.display()))?;
            let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&text)
                .with_context(|| format!("auth.jwt.jwks_file: {} is not a JWKS", path.display()))?;
            for jwk in &set.keys {
                let Some(algorithm) = jwk
                    .common
                    .key_algorithm
                    .and_then(|alg| algorithm(&alg.to_string()).ok())
                else {
                    // A key for another algorithm (or for encryption) is not ours to use.
                    continue;
                };
                let decoding = DecodingKey::from_jwk(jwk).with_context(|| {
                    format!(
                        "auth.jwt.jwks_file: a key of {} does not parse",
                        path.display()
                    )
                })?;
                keys.push(JwtKey::new(
                    jwk.common.key_id.clone(),
                    algorithm,
                    decoding,
                    settings,
                ));
            }
        }
        Ok((!keys.is_empty()).then(|| Self {
            keys,
            settings: settings.clone(),
        }))
    }

    /// The caller a token names, and how long it stays valid.
    fn verify(&self, token: &str) -> Result<(Caller, Duration), AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        let candidates = self.keys.iter().filter(|key| {
            key.algorithm == header.alg
                && (key.kid.is_none() || header.kid.is_none() || key.kid == header.kid)
        });
        let mut outcome = Err(AuthError::Invalid("no configured key verifies it"));
        for key in candidates {
            match jsonwebtoken::decode::<serde_json::Map<String, Value>>(
                token,
                &key.key,
                &key.validation,
            ) {
                Ok(data) => {
                    outcome = Ok(data.claims);
                    break;
                }
                Err(err) => match err.kind() {
                    ErrorKind::InvalidSignature => continue,
                    ErrorKind::ExpiredSignature => return Err(AuthError::Expired),
                    ErrorKind::ImmatureSignature => {
                        return Err(AuthError::Invalid("the token is not valid yet"));
                    }
                    ErrorKind::InvalidIssuer => return Err(AuthError::Invalid("wrong issuer")),
                    ErrorKind::InvalidAudience => return Err(AuthError::Invalid("wrong audience")),
                    ErrorKind::MissingRequiredClaim(_) => {
                        return Err(AuthError::Invalid("a required claim is missing"));
                    }
                    _ => return Err(AuthError::Malformed),
                },
            }
        }
        let claims = outcome?;
        let tenant = claims
            .get(&self.settings.tenant_claim)
            .and_then(Value::as_str)
            .and_then(|name| Tenant::parse(name).ok())
            .ok_or(AuthError::Invalid("the token names no valid tenant"))?;
        let scopes = match claims.get(&self.settings.scope_claim) {
            Some(Value::String(names)) => {
                names.split_whitespace().filter_map(Scope::named).collect()
            }
            Some(Value::Array(names)) => names
                .iter()
                .filter_map(Value::as_str)
                .filter_map(Scope::named)
                .collect(),
            _ => Vec::new(),
        };
        let subject = claims.get("sub").and_then(Value::as_str).unwrap_or("?");
        let expires = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        let now = jsonwebtoken::get_current_timestamp();
        let valid_for = Duration::from_secs(expires.saturating_sub(now));
        Ok((
            Caller::new(tenant, scopes, format!("jwt:{subject}")),
            valid_for,
        ))
    }
}

impl JwtKey {
    fn new(
        kid: Option<String>,
        algorithm: Algorithm,
        key: DecodingKey,
        settings: &JwtSettings,
    ) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.leeway = settings.leeway_secs;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        match &settings.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &settings.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Self {
            kid,
            algorithm,
            key,
            validation,
        }
    }
}

fn algorithm(name: &str) -> anyhow::Result<Algorithm> {
    match name {
        "HS256" => Ok(Algorithm::HS256),
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        other => bail!("{other:?} is not one of HS256, RS256, ES256, EdDSA"),
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;
    use crate::config::{ApiKeySettings, JwtKeySettings};

    fn settings() -> AuthSettings {
        AuthSettings {
            mode: AuthMode::Required,
            jwt: JwtSettings {
                issuer: Some("https://issuer.example".into()),
                audience: Some("addressbook".into()),
                keys: vec![JwtKeySettings {
                    kid: Some("dev".into()),
                    algorithm: "HS256".into(),
                    secret: Some("a development secret".into()),
                    public_key_pem: None,
                }],
                ..JwtSettings::default()
            },
            api_keys: Vec::new(),
        }
    }

    fn token(claims: Value) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("dev".into());
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(b"a development secret").unwrap(),
        )
        .unwrap()
    }

    fn claims(exp_from_now: i64) -> Value {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        json!({"iss": "https://issuer.example", "aud": "addressbook", "sub": "svc",
               "tenant": "acme", "scope": "read write", "exp": now + exp_from_now})
    }

    async fn authenticate(
        settings: &AuthSettings,
        credential: Credential<'_>,
    ) -> Result<Caller, AuthError> {
        Authenticator::new(settings, AddressBook::in_memory())
            .unwrap()
            .authenticate(Some(credential))
            .await
    }

    #[tokio::test]
    async fn a_valid_token_names_its_tenant_and_scopes() {
        let caller = authenticate(&settings(), Credential::Bearer(&token(claims(600))))
            .await
            .unwrap();
        assert_eq!(caller.tenant.as_str(), "acme");
        assert!(caller.may(Scope::Write) && !caller.may(Scope::Admin));
        assert_eq!(caller.credential, "jwt:svc");
    }

    #[tokio::test]
    async fn expired_foreign_and_malformed_tokens_are_refused() {
        let settings = settings();
        assert!(matches!(
            authenticate(&settings, Credential::Bearer(&token(claims(-600)))).await,
            Err(AuthError::Expired)
        ));
        let mut wrong_audience = claims(600);
        wrong_audience["aud"] = json!("other");
        assert!(matches!(
            authenticate(&settings, Credential::Bearer(&token(wrong_audience))).await,
            Err(AuthError::Invalid(_))
        ));
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(600),
            &EncodingKey::from_secret(b"not the secret").unwrap(),
        )
        .unwrap();
        assert!(
            authenticate(&settings, Credential::Bearer(&forged))
                .await
                .is_err()
        );
        assert!(matches!(
            authenticate(&settings, Credential::Bearer("not.a.token")).await,
            Err(AuthError::Malformed)
        ));
        // Within the leeway, a token just expired still passes.
        assert!(
            authenticate(&settings, Credential::Bearer(&token(claims(-5))))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn an_api_key_is_checked_against_the_hash_of_its_secret() {
        let (_, key) = new_api_key(
            Tenant::parse("acme").unwrap(),
            vec![Scope::Read],
            "t".into(),
        );
        let id = key
            .strip_prefix(KEY_PREFIX)
            .unwrap()
            .split_once('_')
            .unwrap()
            .0;
        let mut settings = settings();
        settings.api_keys.push(ApiKeySettings {
            id: id.to_owned(),
            secret_sha256: secret_sha256(&key).unwrap(),
            tenant: "acme".into(),
            scopes: vec!["read".into()],
        });
        let caller = authenticate(&settings, Credential::ApiKey(&key))
            .await
            .unwrap();
        assert_eq!(caller.tenant.as_str(), "acme");
        assert!(caller.may(Scope::Read) && !caller.may(Scope::Write));
        let wrong = format!("{}x", &key[..key.len() - 1]);
        assert!(
            authenticate(&settings, Credential::ApiKey(&wrong))
                .await
                .is_err()
        );
        assert!(matches!(
            authenticate(&settings, Credential::ApiKey("abk_nothing")).await,
            Err(AuthError::Malformed)
        ));
    }

    #[tokio::test]
    async fn without_authentication_every_request_is_the_local_caller() {
        let settings = AuthSettings::default();
        let authenticator = Authenticator::new(&settings, AddressBook::in_memory()).unwrap();
        assert_eq!(
            authenticator.authenticate(None).await.unwrap(),
            Caller::local()
        );
    }

    #[test]
    fn a_key_that_does_not_parse_stops_the_server_naming_it() {
        let mut settings = settings();
        settings.jwt.keys[0].algorithm = "none".into();
        let err = Authenticator::new(&settings, AddressBook::in_memory())
            .err()
            .unwrap();
        assert!(
            format!("{err:#}").contains("auth.jwt.keys[0].algorithm"),
            "{err:#}"
        );
    }
}
