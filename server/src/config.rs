//! Configuration: built-in defaults, overridden by a YAML file, overridden by environment
//! variables (`ADDRESSBOOK_SERVER__PORT=9000`; `DATABASE_URL` for the PostgreSQL URL), overridden
//! by command-line flags. `configs/addressbook-local.yaml` documents every key.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Yaml};
use serde::{Deserialize, Serialize};

/// The file read when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "configs/addressbook-local.yaml";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub api: ApiSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
    pub log: LogSettings,
    pub tracing: TracingSettings,
    pub metrics: MetricsSettings,
    pub cors: CorsSettings,
    pub storage: StorageSettings,
}

/// Which web pages, served from other origins, may call the API from a browser (CORS). Off
/// while `allowed_origins` is empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsSettings {
    /// Origins (`https://app.example`) whose pages may call the API; `*` for any.
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    /// Request headers such a page may send.
    pub allowed_headers: Vec<String>,
    /// Response headers such a page may read.
    pub exposed_headers: Vec<String>,
    /// How long a browser may keep a preflight's answer.
    pub max_age_secs: u32,
}

impl Default for CorsSettings {
    fn default() -> Self {
        let names = |names: &[&str]| names.iter().map(|&name| name.to_owned()).collect();
        Self {
            allowed_origins: Vec::new(),
            allowed_methods: names(&["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
            allowed_headers: names(&[
                "Authorization",
                "X-API-Key",
                "Content-Type",
                "Content-Encoding",
                "If-Match",
                "If-None-Match",
                "Idempotency-Key",
                "X-Request-Id",
            ]),
            exposed_headers: names(&[
                "ETag",
                "Location",
                "Link",
                "X-Request-Id",
                "Retry-After",
                "RateLimit",
                "RateLimit-Policy",
                "WWW-Authenticate",
            ]),
            max_age_secs: 600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Serve Prometheus metrics at `/metrics`.
    pub enabled: bool,
    /// Serve them on this port only (0: any free port, logged) instead of the API's.
    pub port: Option<u16>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            port: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub host: String,
    /// 0 asks the OS for a free port; the bound address is logged.
    pub port: u16,
    /// Load balancers whose `X-Forwarded-For` is believed: the request log then records the
    /// client they forwarded for, beside their own address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Also answer `/healthz` and `/readiness` on this port, from a thread of their own, so
    /// that they answer however busy the API is (0: any free port, logged); off when unset.
    pub probe_port: Option<u16>,
    pub max_body_bytes: usize,
    /// How long in-flight requests may take to finish after SIGTERM or SIGINT.
    pub shutdown_timeout_secs: u64,
    /// Adds internal error chains to 5xx problem documents. Never in production.
    pub debug: bool,
    /// Where clients reach this deployment (`https://book.example`): listed first under
    /// `servers` in the served `/openapi.yaml`, so that Swagger UI's "Try it out" calls it.
    pub public_url: Option<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 8080,
            probe_port: None,
            trusted_proxies: Vec::new(),
            max_body_bytes: 256 * 1024,
            shutdown_timeout_secs: 10,
            debug: false,
            public_url: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// Refuse PUT, PATCH and DELETE without `If-Match` (428), so no client overwrites blindly.
    pub require_if_match: bool,
    /// How long an `Idempotency-Key` is remembered.
    pub idempotency_window_secs: u64,
    /// How long a create may hold its `Idempotency-Key` unfinished before another request with
    /// the key may take it over (the first one's server is taken to have died).
    pub idempotency_takeover_secs: u64,
    /// How long the change feed keeps deletions (`GET /changes`): a sync token older than this
    /// may get 410 and its client must sync again from the start.
    pub change_history_secs: u64,
    /// Signs pagination cursors and sync tokens. Every server process sharing a database must
    /// use the same one.
    pub cursor_key: String,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            require_if_match: false,
            idempotency_window_secs: 24 * 60 * 60,
            idempotency_takeover_secs: 60,
            change_history_secs: 7 * 24 * 60 * 60,
            cursor_key: DEFAULT_CURSOR_KEY.to_owned(),
        }
    }
}

/// What keeps the server answering when clients are slow, many or greedy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Longest a request's header block may take to arrive; slower clients are cut off.
    pub header_timeout_ms: u64,
    /// An idle keep-alive connection is closed after this long.
    pub idle_timeout_secs: u64,
    /// Longest a request body may take to arrive once its headers are in (408 past it).
    pub body_timeout_ms: u64,
    /// Most connections open at once; 0 takes what the file-descriptor limit allows. At the cap
    /// new connections wait in the kernel's backlog.
    pub max_connections: usize,
    /// Most requests processed at once; past it, 503 at once rather than a queue.
    pub max_in_flight: usize,
    /// Longest a request may take; past it the work is cancelled and the client gets 503.
    pub request_timeout_ms: u64,
    /// Requests a second one credential may make on average; 0 turns rate limits off.
    pub rate_per_second: u32,
    /// How many requests one credential may make at once above that rate.
    pub rate_burst: u32,
    /// Streams one HTTP/2 connection may have open at once.
    pub http2_max_concurrent_streams: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            header_timeout_ms: 10_000,
            idle_timeout_secs: 60,
            body_timeout_ms: 30_000,
            max_connections: 0,
            max_in_flight: 1_024,
            request_timeout_ms: 10_000,
            rate_per_second: 0,
            rate_burst: 0,
            http2_max_concurrent_streams: 100,
        }
    }
}

/// The public default of `api.cursor_key`: fine on one machine, refused where credentials are
/// required (a cursor signed with a key everyone knows can be forged).
pub const DEFAULT_CURSOR_KEY: &str = "addressbook-local-cursor-key";

/// Who may call the API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub mode: AuthMode,
    pub jwt: JwtSettings,
    /// API keys for service-to-service callers, besides those created with `keys create`.
    pub api_keys: Vec<ApiKeySettings>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// No credentials: every request acts for the one local tenant with every scope.
    #[default]
    Disabled,
    /// Every request to the entries needs a bearer token or an API key.
    Required,
}

/// How bearer tokens (JWTs) are verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtSettings {
    /// The `iss` every token must carry; not checked when unset.
    pub issuer: Option<String>,
    /// The `aud` every token must carry; not checked when unset.
    pub audience: Option<String>,
    /// How far the clocks of the issuer and this server may disagree, for `exp` and `nbf`.
    pub leeway_secs: u64,
    /// The claim naming the caller's tenant.
    pub tenant_claim: String,
    /// The claim with the caller's scopes, space-separated (or a list).
    pub scope_claim: String,
    /// A JWKS file (RFC 7517) with the issuer's public keys.
    pub jwks_file: Option<PathBuf>,
    /// Keys given here rather than in a JWKS file.
    pub keys: Vec<JwtKeySettings>,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: None,
            leeway_secs: 30,
            tenant_claim: "tenant".to_owned(),
            scope_claim: "scope".to_owned(),
            jwks_file: None,
            keys: Vec::new(),
        }
    }
}

/// One key a token may be signed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtKeySettings {
    /// The `kid` of tokens signed with this key; a token without a `kid` is tried against every
    /// key of its algorithm.
    pub kid: Option<String>,
    /// `HS256`, `RS256`, `ES256` or `EdDSA`.
    pub algorithm: String,
    /// The shared secret of an `HS256` key (for development).
    pub secret: Option<String>,
    /// The PEM public key of an `RS256`, `ES256` or `EdDSA` key.
    pub public_key_pem: Option<String>,
}

/// An API key given in the configuration: only the SHA-256 of its secret is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// The key's id: the part of the key before its secret.
    pub id: String,
    /// The SHA-256 of the key's secret, in hex.
    pub secret_sha256: String,
    pub tenant: String,
    /// `read`, `write`, `admin`.
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `addressbook_server=debug,info`; `RUST_LOG` wins.
    pub level: LogFilter,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: LogFilter("info,sqlx=warn".to_owned()),
        }
    }
}

/// Traces: W3C `traceparent` is always read and continued; spans are exported over OTLP only
/// when an endpoint is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracingSettings {
    /// Where spans go, OTLP over HTTP with protobuf (`http://collector:4318/v1/traces`); off
    /// when unset.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` spans are exported under.
    pub service_name: String,
    /// How long one export may take before it is given up.
    pub export_timeout_ms: u64,
}

impl Default for TracingSettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "addressbook".to_owned(),
            export_timeout_ms: 5_000,
        }
    }
}

/// A `tracing` filter whose every directive is a level (`info`) or sets one (`sqlx=warn`).
///
/// `tracing`'s own syntax also takes a bare word as a target to log everything of, so `verbose`
/// would be read as "log only target `verbose`" and the server would log nothing at all; a word
/// that is not a level is refused instead, like any other bad value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LogFilter(String);

impl LogFilter {
    const LEVELS: [&'static str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LogFilter {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let is_level = |word: &str| Self::LEVELS.contains(&word.trim().to_lowercase().as_str());
        for directive in text.split(',').filter(|d| !d.trim().is_empty()) {
            let level = directive
                .rsplit_once('=')
                .map_or(directive, |(_, level)| level);
            if !is_level(level) {
                return Err(format!(
                    "`{directive}` sets no level: use one of {} alone or as `target=level`",
                    Self::LEVELS.join(", ")
                ));
            }
        }
        tracing_subscriber::EnvFilter::try_new(&text).map_err(|err| format!("`{text}`: {err}"))?;
        Ok(Self(text))
    }
}

impl From<LogFilter> for String {
    fn from(filter: LogFilter) -> Self {
        filter.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    pub engine: Engine,
    /// Apply pending migrations when the server starts.
    pub migrate_on_start: bool,
    pub sqlite: SqliteSettings,
    pub postgres: PostgresSettings,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            engine: Engine::Sqlite,
            migrate_on_start: true,
            sqlite: SqliteSettings::default(),
            postgres: PostgresSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Memory,
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqliteSettings {
    /// The database file; created, with its directory, on first start.
    pub path: PathBuf,
    /// How long a write waits for a lock another process holds on the database before failing.
    pub busy_timeout_ms: u64,
    /// Whether a commit waits for the disk: `full` (a 2xx means the write survives power loss)
    /// or `off` (for measuring what durability costs; never in production).
    pub synchronous: Synchronous,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Full,
    Off,
}

impl Default for SqliteSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from("var/addressbook.db"),
            busy_timeout_ms: 1_000,
            synchronous: Synchronous::Full,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresSettings {
    /// `postgres://user@host:port/database`; also read from `DATABASE_URL`.
    pub url: Option<String>,
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before answering 503.
    pub acquire_timeout_ms: u64,
    /// How long one statement may run before it is cancelled.
    pub statement_timeout_ms: u64,
}

impl Default for PostgresSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            acquire_timeout_ms: 3_000,
            statement_timeout_ms: 5_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    Missing(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads the settings. An explicitly named file must exist; the default one may be absent
    /// (the built-in defaults are those of `configs/addressbook-local.yaml`).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let path = match file {
            Some(path) if !path.is_file() => return Err(ConfigError::Missing(path.to_owned())),
            Some(path) => Some(path),
            // Run from elsewhere than the repository, the default file is simply not there.
            None => Some(Path::new(DEFAULT_CONFIG)).filter(|path| path.is_file()),
        };
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = path {
            figment = figment.merge(Yaml::file_exact(path));
        }
        figment
            .merge(Env::prefixed("ADDRESSBOOK_").split("__"))
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "storage.postgres.url".into()),
            )
            .extract()
            .map_err(|err| ConfigError::Invalid(one_line(err)))
    }
}

/// figment reports every problem it found; the first is the one to fix. Said as the key (as the
/// file spells it), what is wrong, and where the value came from.
fn one_line(err: figment::Error) -> String {
    let Some(first) = err.into_iter().next() else {
        return "unknown error".to_owned();
    };
    let key = first
        .path
        .iter()
        .map(|part| part.to_lowercase())
        .collect::<Vec<_>>()
        .join(".");
    let origin = match first.metadata.as_ref() {
        Some(metadata) => match &metadata.source {
            Some(figment::Source::File(path)) => format!("in {}", path.display()),
            _ if metadata.name.contains("environment") => {
                let variable = if key == "storage.postgres.url" {
                    "DATABASE_URL".to_owned()
                } else {
                    environment_variable(&key)
                };
                format!("from the environment variable {variable}")
            }
            _ => format!("from {}", metadata.name),
        },
        None => "in the built-in defaults".to_owned(),
    };
    let what = first.kind.to_string().replace('\n', " ");
    if key.is_empty() {
        format!("{what} ({origin})")
    } else {
        format!("{key}: {what} ({origin})")
    }
}

/// The `ADDRESSBOOK_` variable that set `key`, as it is spelled in the environment. A key that
/// names a section (an unknown one, say) was set by a variable below it, which is looked up.
fn environment_variable(key: &str) -> String {
    let variable = format!("ADDRESSBOOK_{}", key.replace('.', "__").to_uppercase());
    let below = format!("{variable}__");
    std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .find(|name| {
            name.eq_ignore_ascii_case(&variable) || name.to_uppercase().starts_with(&below)
        })
        .unwrap_or(variable)
}

#[cfg(test)]
// figment::Jail's closures return its own large error type; not ours to shrink.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn the_local_config_file_holds_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/addressbook-local.yaml");
        figment::Jail::expect_with(|_| {
            assert_eq!(
                Settings::load(Some(&path)).expect("loads"),
                Settings::default()
            );
            Ok(())
        });
    }

    #[test]
    fn the_production_example_is_valid() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/addressbook-production.yaml");
        figment::Jail::expect_with(|_| {
            let settings = Settings::load(Some(&path)).expect("loads");
            assert_eq!(settings.storage.engine, Engine::Postgres);
            assert_eq!(settings.log.format, LogFormat::Json);
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.yaml", "server:\n  port: 9000\n")?;
            jail.set_env("ADDRESSBOOK_SERVER__PORT", "9100");
            jail.set_env("DATABASE_URL", "postgres://db/book");
            let settings = Settings::load(Some(Path::new("c.yaml"))).expect("loads");
            assert_eq!(settings.server.port, 9100);
            assert_eq!(
                settings.storage.postgres.url.as_deref(),
                Some("postgres://db/book")
            );
            Ok(())
        });
    }

    #[test]
    fn a_bad_value_is_reported_with_its_key_and_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.yaml", "server:\n  port: lots\n")?;
            let err = Settings::load(Some(Path::new("c.yaml")))
                .expect_err("refused")
                .to_string();
            assert!(err.contains("server.port"), "{err}");
            assert!(err.contains("c.yaml"), "{err}");
            assert!(!err.contains('\n'));
            Ok(())
        });
    }

    #[test]
    fn a_bad_environment_value_names_the_key_and_the_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ADDRESSBOOK_SERVER__PORT", "lots");
            let err = Settings::load(None).expect_err("refused").to_string();
            assert!(err.contains("server.port"), "{err}");
            assert!(err.contains("ADDRESSBOOK_SERVER__PORT"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_environment_section_names_the_whole_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ADDRESSBOOK_SERVRE__PORT", "9000");
            let err = Settings::load(None).expect_err("refused").to_string();
            assert!(err.contains("servre"), "{err}");
            assert!(
                err.contains("environment variable ADDRESSBOOK_SERVRE__PORT"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn a_log_level_that_is_not_one_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.yaml", "log:\n  level: verbose\n")?;
            let err = Settings::load(Some(Path::new("c.yaml")))
                .expect_err("refused")
                .to_string();
            assert!(err.contains("log.level"), "{err}");
            assert!(err.contains("verbose"), "{err}");
            for good in [
                "debug",
                "info,sqlx=warn",
                "addressbook_server=trace,warn",
                "off",
            ] {
                jail.create_file("c.yaml", &format!("log:\n  level: \"{good}\"\n"))?;
                Settings::load(Some(Path::new("c.yaml")))
                    .unwrap_or_else(|err| panic!("{good}: {err}"));
            }
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.yaml", "server:\n  prot: 9000\n")?;
            let err = Settings::load(Some(Path::new("c.yaml")))
                .expect_err("refused")
                .to_string();
            assert!(err.contains("prot"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_named_file_is_an_error() {
        let err = Settings::load(Some(Path::new("/nonexistent/x.yaml"))).expect_err("refused");
        assert!(matches!(err, ConfigError::Missing(_)));
    }
}
