//! Building the application from settings and running it until a signal stops it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use anyhow::{Context, bail};
use poem::Server;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};

use crate::api::{self, ApiOptions, MetricsServed, RateLimits};
use crate::auth::Authenticator;
use crate::config::{AuthMode, DEFAULT_CURSOR_KEY, MetricsSettings, Settings};
use crate::connections::{self, GuardedAcceptor, Timeouts};
use crate::domain::Cursors;
use crate::metrics::Metrics;
use crate::service::{AddressBook, Policy};
use crate::storage;

pub struct Application {
    acceptor: GuardedAcceptor,
    address: SocketAddr,
    book: AddressBook,
    authenticator: Arc<Authenticator>,
    /// The probes' own listener, when `server.probe_port` is set.
    probe_listener: Option<std::net::TcpListener>,
    /// `/metrics`' own listener, when `metrics.port` is set.
    metrics_listener: Option<std::net::TcpListener>,
    metrics: Arc<Metrics>,
    cors: Option<api::Cors>,
    settings: Settings,
    started: Instant,
}

impl Application {
    /// Opens storage (applying migrations if configured) and binds the listening socket.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let started = Instant::now();
        if settings.auth.mode == AuthMode::Required && settings.api.cursor_key == DEFAULT_CURSOR_KEY
        {
            bail!(
                "api.cursor_key is the built-in key, which everyone can read: with auth.mode \
                 required, set ADDRESSBOOK_API__CURSOR_KEY to a long random value, the same on \
                 every server process"
            );
        }
        if let Some(url) = &settings.server.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("server.public_url {url:?} must start with http:// or https://");
        }
        let opened = storage::open(&settings.storage).await?;
        if let Some(schema) = opened
            .schema
            .as_ref()
            .filter(|_| settings.storage.migrate_on_start)
        {
            let applied = schema
                .up()
                .await
                .context("cannot apply database migrations")?;
            if !applied.is_empty() {
                tracing::info!(?applied, "migrations applied");
            }
        }
        let policy = Policy {
            require_if_match: settings.api.require_if_match,
            idempotency_window: Duration::from_secs(settings.api.idempotency_window_secs),
            idempotency_takeover: Duration::from_secs(settings.api.idempotency_takeover_secs),
            change_history: Duration::from_secs(settings.api.change_history_secs),
        };
        let metrics = Metrics::new();
        let storage: Arc<dyn storage::Storage> = if settings.metrics.enabled {
            Arc::new(storage::Measured::new(opened.storage, metrics.clone()))
        } else {
            opened.storage
        };
        let book = AddressBook::new(storage, policy);
        let authenticator = Arc::new(
            Authenticator::new(&settings.auth, book.clone())
                .context("invalid configuration of auth")?,
        );
        check_credentials_can_be_verified(&authenticator, &book).await?;
        let cors = api::Cors::new(&settings.cors).context("invalid configuration of cors")?;
        let bind = format!("{}:{}", settings.server.host, settings.server.port);
        let acceptor = TcpListener::bind(bind.clone())
            .into_acceptor()
            .await
            .with_context(|| format!("cannot listen on {bind}"))?;
        let address = acceptor
            .local_addr()
            .first()
            .and_then(|addr| addr.as_socket_addr().copied())
            .context("the listener has no TCP address")?;
        let limits = &settings.limits;
        let budget = connections::descriptor_budget();
        let max_connections = match limits.max_connections {
            0 => budget,
            wanted if wanted > budget => {
                tracing::warn!(
                    wanted,
                    budget,
                    "limits.max_connections is above what the file-descriptor limit allows; using the limit"
                );
                budget
            }
            wanted => wanted,
        };
        let acceptor = GuardedAcceptor::new(
            acceptor,
            max_connections,
            Timeouts {
                header: Duration::from_millis(limits.header_timeout_ms),
                idle: Duration::from_secs(limits.idle_timeout_secs),
            },
        );
        let side_listener = |port: Option<u16>, what: &str| match port {
            None => Ok(None),
            Some(port) => {
                let bind = format!("{}:{port}", settings.server.host);
                let listener = std::net::TcpListener::bind(&bind)
                    .with_context(|| format!("cannot listen on {bind} for {what}"))?;
                listener.set_nonblocking(true)?;
                anyhow::Ok(Some(listener))
            }
        };
        let probe_listener = side_listener(settings.server.probe_port, "the probes")?;
        let metrics_listener = side_listener(
            settings.metrics.port.filter(|_| settings.metrics.enabled),
            "the metrics",
        )?;
        Ok(Self {
            acceptor,
            address,
            book,
            authenticator,
            probe_listener,
            metrics_listener,
            metrics,
            cors,
            settings,
            started,
        })
    }

    /// The bound address; with port 0 in the settings, the one the OS chose.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGINT or SIGTERM, then stops accepting connections and lets in-flight
    /// requests finish, for at most the configured shutdown timeout.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let server = &self.settings.server;
        let limits = &self.settings.limits;
        let rate_limits = Arc::new(RateLimits::new(limits.rate_per_second, limits.rate_burst));
        tokio::spawn(forget_idle_rate_limits(rate_limits.clone()));
        let options = ApiOptions {
            max_body_bytes: server.max_body_bytes,
            body_timeout: Duration::from_millis(limits.body_timeout_ms),
            max_in_flight: limits.max_in_flight.max(1),
            request_timeout: Duration::from_millis(limits.request_timeout_ms),
            rate_limits,
            trusted_proxies: server.trusted_proxies.clone(),
            debug: server.debug,
            cursors: Cursors::new(self.settings.api.cursor_key.as_bytes()),
            cors: self.cors.map(Arc::new),
            public_url: server.public_url.clone(),
            authenticator: self.authenticator,
            metrics: self.metrics.clone(),
            metrics_served: match &self.settings.metrics {
                MetricsSettings { enabled: false, .. } => MetricsServed::Off,
                MetricsSettings { port: None, .. } => MetricsServed::Here,
                MetricsSettings { port: Some(_), .. } => MetricsServed::Elsewhere,
            },
        };
        tokio::spawn(purge_idempotency_keys(self.book.clone()));
        tokio::spawn(purge_change_history(
            self.book.clone(),
            Duration::from_secs(self.settings.api.change_history_secs),
        ));
        if let Some(listener) = self.probe_listener {
            serve_probes(listener, self.book.clone(), self.started)?;
        }
        if let Some(listener) = self.metrics_listener {
            serve_metrics(listener, self.book.clone(), self.metrics)?;
        }
        let app = api::build(self.book, options, self.started);
        let grace = Duration::from_secs(server.shutdown_timeout_secs);
        // Installed before announcing the address: a SIGTERM that arrives once clients may
        // connect must drain, never kill.
        let stop = shutdown_signal().context("cannot install signal handlers")?;
        tracing::info!(address = %format!("http://{}", self.address), "listening");
        Server::new_with_acceptor(self.acceptor)
            .http2_max_concurrent_streams(limits.http2_max_concurrent_streams)
            .run_with_graceful_shutdown(app, stop, Some(grace))
            .await
            .context("the HTTP server failed")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Serves the probes on `listener` from a thread and runtime of their own: however many requests
/// the API's workers have queued, a probe waits behind none of them. Readiness comes from a
/// watcher on the API's runtime, where storage lives. The thread ends with the process.
fn serve_probes(
    listener: std::net::TcpListener,
    book: AddressBook,
    started: Instant,
) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    let watched = Arc::new(api::Watched::new());
    tokio::spawn(watched.clone().watch(book.clone()));
    let app = api::probes(book, watched, started);
    std::thread::Builder::new()
        .name("probes".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    tracing::error!(error = %err, "cannot start the probes' runtime");
                    return;
                }
            };
            runtime.block_on(async move {
                let acceptor = match TcpAcceptor::from_std(listener) {
                    Ok(acceptor) => acceptor,
                    Err(err) => {
                        tracing::error!(error = %err, "cannot serve the probes");
                        return;
                    }
                };
                if let Err(err) = Server::new_with_acceptor(acceptor).run(app).await {
                    tracing::error!(error = %err, "the probes' server failed");
                }
            });
        })
        .context("cannot start the probes' thread")?;
    tracing::info!(probes = %format!("http://{address}"), "probes served");
    Ok(())
}

/// Serves `/metrics` on `listener`, beside the API on its runtime (a scrape is cheap and
/// infrequent). Ends with the process.
fn serve_metrics(
    listener: std::net::TcpListener,
    book: AddressBook,
    metrics: Arc<Metrics>,
) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    let acceptor = TcpAcceptor::from_std(listener).context("cannot serve the metrics")?;
    let app = api::metrics_only(book, metrics);
    tokio::spawn(async move {
        if let Err(err) = Server::new_with_acceptor(acceptor).run(app).await {
            tracing::error!(error = %err, "the metrics' server failed");
        }
    });
    tracing::info!(metrics = %format!("http://{address}/metrics"), "metrics served");
    Ok(())
}

/// With credentials required, at least one must be verifiable: a key in the configuration or
/// one made with `keys create`. Without authentication, say so, once, where operators look.
async fn check_credentials_can_be_verified(
    authenticator: &Authenticator,
    book: &AddressBook,
) -> anyhow::Result<()> {
    if !authenticator.is_required() {
        tracing::warn!(
            "authentication disabled: single local tenant `{}` with every scope; set \
             auth.mode: required before exposing this server",
            crate::domain::Tenant::DEFAULT
        );
        return Ok(());
    }
    if authenticator.has_configured_keys() {
        return Ok(());
    }
    match book.api_keys().await {
        Ok(keys) if keys.iter().any(|key| key.revoked_at.is_none()) => Ok(()),
        Ok(_) => bail!(
            "auth.mode is required, but no credential could be verified: configure auth.jwt \
             (keys or jwks_file) or auth.api_keys, or make a key with `addressbook-server keys \
             create`"
        ),
        Err(err) => {
            // The database may be down at start-up; the server starts and reports not ready.
            tracing::warn!(error = %crate::telemetry::chain(&err), "cannot look for API keys in the database");
            Ok(())
        }
    }
}

/// Forgets the rate-limit budgets of callers that have been quiet long enough to have a full one.
async fn forget_idle_rate_limits(limits: Arc<RateLimits>) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        every.tick().await;
        limits.forget_idle();
    }
}

/// Forgets expired idempotency keys now and then, so the table holds only the current window.
async fn purge_idempotency_keys(book: AddressBook) {
    let mut every = tokio::time::interval(Duration::from_secs(10 * 60));
    loop {
        every.tick().await;
        match book.purge_keys().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired idempotency keys forgotten"),
            Err(err) => {
                tracing::warn!(error = %crate::telemetry::chain(&err), "could not purge idempotency keys")
            }
        }
    }
}

/// Drops deletions older than the kept history from the change feed now and then: a tenth of the
/// history apart (between a second and ten minutes), so a token is refused soon after it is due.
async fn purge_change_history(book: AddressBook, history: Duration) {
    let period = (history / 10).clamp(Duration::from_secs(1), Duration::from_secs(10 * 60));
    let mut every = tokio::time::interval(period);
    loop {
        every.tick().await;
        match book.purge_changes().await {
            Ok(0) => {}
            Ok(purged) => {
                tracing::info!(purged, "deletions older than the change history forgotten")
            }
            Err(err) => {
                tracing::warn!(error = %crate::telemetry::chain(&err), "could not trim the change history")
            }
        }
    }
}

/// Resolves on the first SIGINT or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received, draining"),
            _ = terminate.recv() => tracing::info!("SIGTERM received, draining"),
        }
    })
}
