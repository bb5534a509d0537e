//! Credentials for servers that require them: a configuration file with a development JWT key
//! (HS256) and the tokens it signs, minted here the way an issuer would.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::server::ServerOptions;
use crate::store::Store;

pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "addressbook";
/// The development secret the configuration trusts.
pub const SECRET: &str = "the contract tests' development secret";

/// A cursor key that is not the built-in one (which a server requiring credentials refuses).
pub const CURSOR_KEY: &str = "contract-tests-cursor-key-not-the-default";

/// `configs/addressbook-local.yaml` with credentials required and the tests' JWT key trusted.
pub fn config_requiring_credentials(store: &Store) -> PathBuf {
    let local = std::fs::read_to_string(
        crate::binary::workspace_root().join("configs/addressbook-local.yaml"),
    )
    .expect("the local configuration");
    let mut config: serde_yaml::Value = serde_yaml::from_str(&local).expect("YAML");
    config["auth"] = serde_yaml::to_value(json!({
        "mode": "required",
        "jwt": {
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "keys": [{"kid": "test", "algorithm": "HS256", "secret": SECRET}]
        }
    }))
    .expect("a YAML value");
    config["api"]["cursor_key"] = CURSOR_KEY.into();
    let path = store.dir().join("requiring-credentials.yaml");
    std::fs::write(&path, serde_yaml::to_string(&config).expect("YAML")).expect("written");
    path
}

/// A server on `store` that requires credentials.
pub fn requiring_credentials(store: &Store) -> ServerOptions {
    store.server().config(&config_requiring_credentials(store))
}

/// A token for `tenant` with `scopes`, valid for `valid_for_secs` (negative: expired).
pub fn token(tenant: &str, scopes: &[&str], valid_for_secs: i64) -> String {
    token_with(
        json!({"tenant": tenant, "scope": scopes.join(" ")}),
        valid_for_secs,
        SECRET,
    )
}

/// A token with `claims` (plus iss, aud, sub and exp), signed with `secret`.
pub fn token_with(mut claims: Value, valid_for_secs: i64, secret: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let object = claims.as_object_mut().expect("claims are an object");
    object.entry("iss").or_insert(ISSUER.into());
    object.entry("aud").or_insert(AUDIENCE.into());
    object.entry("sub").or_insert("contract-tests".into());
    object.entry("exp").or_insert((now + valid_for_secs).into());
    let header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT", "kid": "test"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// A token signed with a key the server does not trust.
pub fn forged_token(tenant: &str) -> String {
    token_with(
        json!({"tenant": tenant, "scope": "read write"}),
        600,
        "not the secret",
    )
}

/// `Authorization: Bearer <token>`.
pub fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}
