//! Where one test's data lives: nothing (memory), a fresh SQLite file in a temporary directory, or
//! a fresh PostgreSQL database created for the test and dropped after it. A [`Store`] outlives the
//! servers started on it, so a test can stop a server and start another on the same data.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tempfile::TempDir;

use crate::server::{ServerOptions, TestServer};

/// The PostgreSQL server the tests create their databases on, unless `TEST_DATABASE_URL` says
/// otherwise.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long to wait for PostgreSQL before calling it unreachable.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A storage engine of the server, as `storage.engine` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    Memory,
    Sqlite,
    Postgres,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::Memory, Engine::Sqlite, Engine::Postgres];

    /// The value of `storage.engine`.
    pub fn config_name(self) -> &'static str {
        match self {
            Engine::Memory => "memory",
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }

    /// Whether entries survive a restart of the server.
    pub fn is_durable(self) -> bool {
        self != Engine::Memory
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.config_name())
    }
}

/// One test's storage. Dropping it deletes the data (the temporary directory, the database).
pub struct Store {
    engine: Engine,
    /// Every server of this store runs here, so nothing a server writes by accident lands in the
    /// workspace; the SQLite file lives here too.
    dir: TempDir,
    postgres: Option<PgDatabase>,
}

impl Store {
    /// A fresh, empty store for `engine`. `None` when the engine's backing service is not
    /// available outside CI (PostgreSQL not running); the test should then return early.
    pub async fn new(engine: Engine) -> Option<Store> {
        let dir = tempfile::Builder::new()
            .prefix("addressbook-contract-")
            .tempdir()
            .expect("a temporary directory can be created");
        let postgres = match engine {
            Engine::Postgres => Some(PgDatabase::create().await?),
            Engine::Memory | Engine::Sqlite => None,
        };
        Some(Store {
            engine,
            dir,
            postgres,
        })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The directory servers of this store run in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The SQLite database file (whether or not it exists yet).
    pub fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("book.db")
    }

    /// The PostgreSQL URL of this store's database, for the postgres engine.
    pub fn database_url(&self) -> Option<&str> {
        self.postgres.as_ref().map(|db| db.url.as_str())
    }

    /// The socket address of the PostgreSQL server holding this store's database, for the
    /// postgres engine: what a [`crate::proxy::Proxy`] forwards to.
    pub async fn database_address(&self) -> Option<SocketAddr> {
        let url = reqwest::Url::parse(self.database_url()?).expect("the database URL is valid");
        let host = url.host_str().expect("the database URL names a host");
        let port = url.port().unwrap_or(5432);
        tokio::net::lookup_host((host, port))
            .await
            .unwrap_or_else(|err| panic!("cannot resolve {host}:{port}: {err}"))
            .next()
    }

    /// This store's database URL with its host and port replaced by `address` (a proxy's), for
    /// the postgres engine.
    pub fn database_url_via(&self, address: SocketAddr) -> Option<String> {
        let mut url = reqwest::Url::parse(self.database_url()?).expect("the database URL is valid");
        url.set_ip_host(address.ip())
            .expect("a PostgreSQL URL can take an IP host");
        url.set_port(Some(address.port()))
            .expect("a PostgreSQL URL can take a port");
        Some(url.to_string())
    }

    /// The environment that points a server at this store.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![(
            "ADDRESSBOOK_STORAGE__ENGINE".to_owned(),
            self.engine.config_name().to_owned(),
        )];
        match self.engine {
            Engine::Memory => {}
            Engine::Sqlite => env.push((
                "ADDRESSBOOK_STORAGE__SQLITE__PATH".to_owned(),
                self.sqlite_path().display().to_string(),
            )),
            Engine::Postgres => env.push((
                "DATABASE_URL".to_owned(),
                self.database_url()
                    .expect("a postgres store has a database")
                    .to_owned(),
            )),
        }
        env
    }

    /// Starts a server on this store with the local configuration.
    pub async fn start(&self) -> TestServer {
        self.server().start().await
    }

    /// Starts a server with extra environment variables, e.g.
    /// `[("ADDRESSBOOK_SERVER__SHUTDOWN_TIMEOUT_SECS", "1")]`.
    pub async fn start_with(&self, env: &[(&str, &str)]) -> TestServer {
        let mut options = self.server();
        for (key, value) in env {
            options = options.env(key, value);
        }
        options.start().await
    }

    /// Starts a server with extra command-line arguments, e.g. `["--debug"]`.
    pub async fn start_args(&self, args: &[&str]) -> TestServer {
        let mut options = self.server();
        for arg in args {
            options = options.arg(arg);
        }
        options.start().await
    }

    /// Options for a server on this store, to add arguments and environment before starting it.
    pub fn server(&self) -> ServerOptions {
        let mut options = ServerOptions::new(self.dir.path());
        for (key, value) in self.env() {
            options = options.env(&key, &value);
        }
        options
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine)
            .field("dir", &self.dir.path())
            .field("database", &self.postgres.as_ref().map(|db| &db.name))
            .finish()
    }
}

/// A database of its own on the test PostgreSQL server, dropped (with any connections the server
/// left open) when the store is.
struct PgDatabase {
    /// The maintenance URL (`TEST_DATABASE_URL`), used to create and drop.
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create() -> Option<Self> {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| DEFAULT_TEST_DATABASE_URL.to_owned());
        let mut conn = match connect(&admin_url).await {
            Ok(conn) => conn,
            Err(reason) => return postgres_unavailable(&admin_url, &reason),
        };
        let name = format!("ab_test_{}", uuid::Uuid::new_v4().simple());
        // The name is ours (a UUID in hex), so formatting it into the SQL is safe.
        sqlx::query(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|err| panic!("cannot create database {name} at {admin_url}: {err}"));
        let _ = conn.close().await;
        let mut url = reqwest::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a valid URL");
        url.set_path(&format!("/{name}"));
        Some(Self {
            admin_url,
            name,
            url: url.to_string(),
        })
    }

    async fn drop_database(admin_url: &str, name: &str) -> Result<(), String> {
        let mut conn = connect(admin_url).await?;
        sqlx::query(AssertSqlSafe(format!(
            r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
        )))
        .execute(&mut conn)
        .await
        .map_err(|err| err.to_string())?;
        let _ = conn.close().await;
        Ok(())
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, where blocking on another future is not allowed:
        // a thread of its own with a runtime of its own does the work, and is waited for so the
        // database is gone when the test ends.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let outcome = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| err.to_string())?
                .block_on(PgDatabase::drop_database(&admin_url, &name))
        })
        .join();
        let problem = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(err)) => err,
            Err(_) => "the dropping thread panicked".to_owned(),
        };
        crate::notice(&format!(
            "warning: could not drop test database {}: {problem}",
            self.name
        ));
    }
}

async fn connect(url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(PG_CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {PG_CONNECT_TIMEOUT:?}")),
    }
}

/// In CI the PostgreSQL run must happen, so an unreachable server fails the test; elsewhere the
/// PostgreSQL variants are skipped with one notice per test process.
fn postgres_unavailable<T>(url: &str, reason: &str) -> Option<T> {
    let url = redact_password(url);
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    assert!(
        !in_ci,
        "PostgreSQL contract tests must run in CI, but there is no server at {url} ({reason}). \
         Start PostgreSQL or point TEST_DATABASE_URL at one."
    );
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        crate::notice(&format!(
            "SKIPPED: PostgreSQL contract tests — no server at {url}. Start PostgreSQL or set \
             TEST_DATABASE_URL to run them.\n  ({reason})"
        ));
    });
    None
}

/// The URL with any password replaced, fit for messages.
fn redact_password(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
