//! The command line: serving (the default), the management subcommands, and the health check.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::healthcheck;
use crate::manage::{self, KeysAction, MigrateAction};
use crate::startup::Application;

#[derive(Debug, Parser)]
#[command(
    name = "addressbook-server",
    version,
    about = "The address-book HTTP/JSON service."
)]
pub struct Cli {
    /// Configuration file [default: configs/addressbook-local.yaml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Port to listen on (0: any free port); overrides the configuration.
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// Address to listen on; overrides the configuration.
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// Add internal error details to 5xx responses. Never in production.
    #[arg(long, global = true)]
    pub debug: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (what happens without a subcommand).
    Serve,
    /// Apply, revert or list schema migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Load sample entries from JSON files, validated exactly as the API validates them; an entry
    /// the book already holds word for word is kept, not stored again.
    Seed {
        /// Directory of `*.json` files, one entry each.
        #[arg(default_value = "data/addresses")]
        dir: PathBuf,
        /// The tenant whose book the entries go into.
        #[arg(long, default_value = crate::domain::Tenant::DEFAULT)]
        tenant: String,
    },
    /// Make, revoke or list API keys for service-to-service callers.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Delete every entry: revert all migrations and apply them again.
    Reset {
        /// Confirm that every stored entry is to be deleted.
        #[arg(long)]
        yes: bool,
    },
    /// Exit 0 if a running server answers GET /healthz with 200 in time, else 1.
    ///
    /// For container health checks: the images have no HTTP client of their own.
    Healthcheck {
        /// The URL to ask [default: /healthz on this configuration's server.probe_port, else
        /// server.port, on loopback when server.host is every interface]
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// How long the answer may take, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 2000)]
        timeout_ms: u64,
    },
}

impl Cli {
    /// The settings from file and environment, with this command line's overrides on top.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings = Settings::load(self.config.as_deref())?;
        if let Some(port) = self.port {
            settings.server.port = port;
        }
        if let Some(host) = &self.host {
            settings.server.host.clone_from(host);
        }
        settings.server.debug |= self.debug;
        Ok(settings)
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings()?;
    let command = cli.command.unwrap_or(Command::Serve);
    // A health check runs every few seconds and says all it has to say in its exit status and
    // one line: no log lines of its own, no span exporter started for nothing.
    if !matches!(command, Command::Healthcheck { .. }) {
        crate::telemetry::init(&settings.log, &settings.tracing)?;
    }
    match command {
        Command::Serve => {
            let served = Application::build(settings)
                .await?
                .run_until_stopped()
                .await;
            crate::telemetry::shutdown();
            served
        }
        Command::Migrate { action } => manage::migrate(&settings, action).await,
        Command::Seed { dir, tenant } => manage::seed(&settings, &dir, &tenant).await,
        Command::Keys { action } => manage::keys(&settings, action).await,
        Command::Reset { yes } => manage::reset(&settings, yes).await,
        Command::Healthcheck { url, timeout_ms } => {
            let timeout = Duration::from_millis(timeout_ms);
            healthcheck::run(&settings.server, url.as_deref(), timeout).await
        }
    }
}
