//! The harness of the contract tests: the real `addressbook-server` binary, started on a free
//! port against a fresh store, driven through the generated client (and raw HTTP for what the
//! client refuses to send).
//!
//! ```no_run
//! use contract_tests::Store;
//!
//! async fn an_empty_book_lists_nothing(store: Store) {
//!     let server = store.start().await;
//!     let page = server.client().list_addresses().send().await.expect("a page");
//!     assert!(page.items.is_empty());
//! }
//!
//! // The tests memory::an_empty_book_lists_nothing, sqlite::… and postgres::….
//! contract_tests::engines!(an_empty_book_lists_nothing);
//! # fn main() {}
//! ```
//!
//! Environment:
//! - `ADDRESSBOOK_SERVER_BIN`: a prebuilt server binary; otherwise `cargo build -p
//!   addressbook-server` runs once per test process (with `$CARGO` when set).
//! - `TEST_DATABASE_URL`: the PostgreSQL server on which each test creates its own database
//!   (default [`store::DEFAULT_TEST_DATABASE_URL`]). Unreachable: the PostgreSQL tests are
//!   skipped, or fail when `CI` is set.
//! - `TEST_LOG`: echo every server's output to stderr.

pub mod auth;
pub mod binary;
pub mod contract;
pub mod faults;
pub mod feed;
pub mod fixtures;
pub mod http;
pub mod proxy;
pub mod server;
pub mod store;
pub mod subcommand;
pub mod writes;

pub use http::{Problem, Reply, send};
pub use server::{ServerOptions, StartError, TestServer};
pub use store::{Engine, Store};
pub use subcommand::Finished;

/// Runs each listed `async fn name(store: Store)` of the calling file once per storage engine,
/// as the tests `memory::name`, `sqlite::name` and `postgres::name`, each with its own fresh
/// [`Store`]. A variant whose engine is unavailable (no PostgreSQL outside CI) returns early.
///
/// `engines!(durable: name, …)` runs them only on the engines that keep entries across restarts
/// (`sqlite::name`, `postgres::name`); `engines!(postgres: name, …)` only on PostgreSQL.
#[macro_export]
macro_rules! engines {
    (durable: $($name:ident),+ $(,)?) => {
        $crate::engines!(@engine sqlite, Sqlite, $($name),+);
        $crate::engines!(@engine postgres, Postgres, $($name),+);
    };
    (postgres: $($name:ident),+ $(,)?) => {
        $crate::engines!(@engine postgres, Postgres, $($name),+);
    };
    ($($name:ident),+ $(,)?) => {
        $crate::engines!(@engine memory, Memory, $($name),+);
        $crate::engines!(@engine sqlite, Sqlite, $($name),+);
        $crate::engines!(@engine postgres, Postgres, $($name),+);
    };
    (@engine $module:ident, $engine:ident, $($name:ident),+) => {
        mod $module {
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(store) = $crate::Store::new($crate::Engine::$engine).await {
                        super::$name(store).await;
                    }
                }
            )+
        }
    };
}

/// A line on the process's real stderr, past the test harness's output capture: for notices
/// that must be seen even when the test passes.
pub fn notice(message: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{message}");
}
