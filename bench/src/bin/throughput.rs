//! Throughput benchmark: the release server under wrk on SQLite and PostgreSQL, each scenario
//! beside a baseline (bare hyper serving the same bytes, pgbench, an fsync loop), plus cost per
//! request on a big book, start-up time and resident memory. Server on core 0, load on core 1.
//!
//!     cargo run --release -p addressbook-bench --bin throughput     # see bench/README.md

use std::cell::RefCell;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use addressbook_bench::cleanup;
use addressbook_bench::client::Connection;
use addressbook_bench::cpu::CoreTimes;
use addressbook_bench::entry;
use addressbook_bench::loadgen::{self, LOAD_CORE, Load, WrkResult};
use addressbook_bench::pg::{self, ScratchDatabase};
use addressbook_bench::process::{self, Server};
use addressbook_bench::report::{CpuRow, Outcome, Report, Row, SizeRow};
use anyhow::{Context, bail};
use hyper::StatusCode;

const BY_ID: &str = "GET /addresses/{id}";
const BY_ID_JWT: &str = "GET /addresses/{id}, bearer JWT";
const HEALTHZ: &str = "GET /healthz";
const LIST: &str = "GET /addresses?limit=50";
const SEARCH: &str = "GET /addresses?q=jane&limit=50";
const POST: &str = "POST /addresses";
const BATCH: &str = "POST /addresses/batch, 200 creates";
/// Table order: the scenarios as listed here, each engine's rows together.
const SCENARIOS: [&str; 7] = [BY_ID, BY_ID_JWT, HEALTHZ, LIST, SEARCH, POST, BATCH];

const SINGLE_POSTS: &str = "the same 200 as single POSTs, one connection";
/// Creates in one batch, and how many batches (and as many runs of single POSTs) are timed.
const BATCH_SIZE: usize = 200;
const BATCH_ROUNDS: usize = 5;
/// Where the sequence numbers of the batch scenario's entries start: past the book's and the
/// POST scenario's.
const BATCH_SEQ: usize = 8_000_000;

const BARE_HYPER: &str = "bare hyper, same body";
const PGBENCH: &str = "pgbench -S -M prepared -c32";
const FSYNC_LOOP: &str = "fsync loop (512 B + sync_data)";
const SYNC_OFF: &str = "same server, synchronous=off";
const NO_CREDENTIAL: &str = "same requests, auth disabled";

/// The development (HS256) key the server trusts when the bench requires credentials; the
/// token wrk sends is signed with it the way an issuer would.
const JWT_KID: &str = "bench";
const JWT_SECRET: &str = "the throughput bench's development secret";

/// Concurrent requests while loading a book through the API.
const LOADERS: usize = 32;
/// Connections for throughput; one connection for cost per request.
const CONNECTIONS: u32 = 32;
const SINGLE: Load = Load {
    connections: 1,
    seconds: 3,
};
const STARTUP_RUNS: usize = 5;
const LOG_LEVEL: &str = "warn,addressbook_server::startup=info";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("throughput: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

struct Settings {
    seconds: u64,
    entries: usize,
    big_entries: usize,
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
            match std::env::var(name) {
                Ok(text) if !text.is_empty() => text
                    .replace(['_', ','], "")
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{name}={text} is not a whole number")),
                _ => Ok(default),
            }
        }
        let settings = Self {
            seconds: var("BENCH_SECONDS", 5)?,
            entries: var("BENCH_ENTRIES", 1_000)?,
            big_entries: var("BENCH_BIG_ENTRIES", 100_000)?,
        };
        if settings.seconds == 0 {
            bail!("BENCH_SECONDS must be at least 1");
        }
        if settings.entries < 100 {
            // Page size 50 plus a deep page: smaller books do not exercise the listings.
            bail!("BENCH_ENTRIES must be at least 100");
        }
        if settings.big_entries != 0 && settings.big_entries < 1_000 {
            bail!("BENCH_BIG_ENTRIES must be 0 (skip) or at least 1000");
        }
        Ok(settings)
    }
}

/// What every phase needs: where things are, the settings, and notes for the end of the report.
struct Bench {
    root: PathBuf,
    server_binary: PathBuf,
    bare_hyper: PathBuf,
    fsync_loop: PathBuf,
    work: PathBuf,
    settings: Settings,
    runtime: tokio::runtime::Runtime,
    notes: RefCell<Vec<String>>,
    cpu: RefCell<Vec<CpuRow>>,
}

/// Removes the scratch directory (SQLite files, id lists, bodies) however the run ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    let settings = Settings::from_env()?;
    check_tools()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        bail!("needs two cores (server on 0, load on 1); this process may use {cores}");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the bench crate lives in the workspace")?
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"));
    build(&root)?;
    let release = target.join("release");
    let binaries = [
        release.join("addressbook-server"),
        release.join("bare-hyper"),
        release.join("fsync-loop"),
    ];
    for binary in &binaries {
        if !binary.is_file() {
            bail!("{} is missing after the build", binary.display());
        }
    }
    let [server_binary, bare_hyper, fsync_loop] = binaries;

    // The harness itself (loading books, polling for readiness) stays off the server's core;
    // everything it starts inherits this unless started with `taskset -c 0`.
    let mut load_core = nix::sched::CpuSet::new();
    load_core.set(LOAD_CORE.parse()?)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &load_core)
        .context("cannot pin the harness to the load core")?;

    let out_dir = target.join("bench");
    let work = out_dir.join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let _cleanup = RemoveOnDrop(work.clone());
    cleanup::add_dir(work.clone());
    cleanup::on_signal()?;

    let bench = Bench {
        server_binary,
        bare_hyper,
        fsync_loop,
        work,
        settings,
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        notes: RefCell::new(Vec::new()),
        cpu: RefCell::new(Vec::new()),
        root,
    };
    let mut report = Report {
        commit: commit(&bench.root),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        seconds: bench.settings.seconds,
        entries: bench.settings.entries,
        big_entries: bench.settings.big_entries,
        ..Report::default()
    };

    // SQLite: the small book's scenarios, start-up on that file, then the big book.
    let sqlite = Store::sqlite(bench.work.join("book.db"));
    let small_page1 = bench.small_book(&sqlite, &mut report)?;
    if bench.settings.big_entries > 0 {
        let big = Store::sqlite(bench.work.join("big.db"));
        bench.big_book(&big, small_page1, &mut report)?;
    }

    let admin = pg::admin_url();
    match pg::reachable(&admin) {
        Ok(()) => {
            let database = ScratchDatabase::create(&admin, "ab_bench")?;
            let store = Store::postgres(&database);
            let small_page1 = bench.small_book(&store, &mut report)?;
            drop(database);
            if bench.settings.big_entries > 0 {
                let database = ScratchDatabase::create(&admin, "ab_bench")?;
                bench.big_book(&Store::postgres(&database), small_page1, &mut report)?;
            }
        }
        Err(err) => {
            let reason = format!("skipped: PostgreSQL unreachable ({})", first_line(&err));
            progress(&reason);
            for scenario in SCENARIOS {
                report.rows.push(Row {
                    scenario: scenario.to_owned(),
                    engine: "postgres",
                    service: Outcome::NotAvailable(reason.clone()),
                    baseline: String::new(),
                    baseline_outcome: None,
                });
            }
        }
    }

    report
        .rows
        .sort_by_key(|row| SCENARIOS.iter().position(|s| *s == row.scenario));
    report.cpu = bench.cpu.take();
    report.notes = bench.notes.take();
    report.elapsed_secs = started.elapsed().as_secs_f64();
    let json_path = out_dir.join("throughput.json");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&report.to_json())? + "\n",
    )
    .with_context(|| format!("cannot write {}", json_path.display()))?;
    println!("{}", report.markdown());
    println!("JSON: {}", json_path.display());
    Ok(())
}

/// A token for the local tenant with the read scope, valid for an hour, signed with the bench's
/// HS256 key.
fn bearer_token() -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, KeyInit, Mac};

    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |now| now.as_secs())
        + 3600;
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": JWT_KID});
    let claims = serde_json::json!({
        "sub": "throughput-bench", "tenant": "default", "scope": "read", "exp": expires
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(JWT_SECRET.as_bytes()).expect("any key length");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// One line saying what is missing and how to get it.
fn check_tools() -> anyhow::Result<()> {
    let missing: Vec<&str> = ["wrk", "pgbench", "psql", "taskset"]
        .into_iter()
        .filter(|tool| !on_path(tool))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages = Vec::new();
    if missing.contains(&"wrk") {
        packages.push("wrk");
    }
    if missing.contains(&"pgbench") || missing.contains(&"psql") {
        packages.push("postgresql-client");
    }
    if missing.contains(&"taskset") {
        packages.push("util-linux");
    }
    bail!(
        "{} not found; install with `apt-get install {}` (PostgreSQL client tools give pgbench and psql)",
        missing.join(", "),
        packages.join(" ")
    )
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// The server exactly as it ships, and this crate's baselines, in release.
fn build(root: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let builds: [&[&str]; 2] = [
        &["-p", "addressbook-server", "--bin", "addressbook-server"],
        // `cargo run --bin throughput` builds only this binary; the baselines are built here.
        &[
            "-p",
            "addressbook-bench",
            "--bin",
            "bare-hyper",
            "--bin",
            "fsync-loop",
        ],
    ];
    for args in builds {
        progress(&format!(
            "cargo build --release --locked {}",
            args.join(" ")
        ));
        let status = Command::new(&cargo)
            .current_dir(root)
            .args(["build", "--release", "--locked"])
            .args(args)
            .status()
            .context("cannot run cargo")?;
        if !status.success() {
            bail!("cargo build {} failed ({status})", args.join(" "));
        }
    }
    Ok(())
}

/// The commit the server was built from, marked when the work tree has changes.
fn commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let Some(head) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".to_owned();
    };
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(changes) if !changes.is_empty() => format!("{head} (with uncommitted changes)"),
        _ => head,
    }
}

fn progress(message: &str) {
    eprintln!("== {message}");
}

fn first_line(err: &anyhow::Error) -> String {
    format!("{err:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Where the service keeps its book, as the environment that tells it so.
struct Store {
    engine: &'static str,
    env: Vec<(String, String)>,
    /// The SQLite file's directory: where the fsync loop writes.
    sqlite_dir: Option<PathBuf>,
}

impl Store {
    fn sqlite(path: PathBuf) -> Self {
        Self {
            engine: "sqlite",
            env: vec![
                ("ADDRESSBOOK_STORAGE__ENGINE".into(), "sqlite".into()),
                (
                    "ADDRESSBOOK_STORAGE__SQLITE__PATH".into(),
                    path.to_string_lossy().into_owned(),
                ),
            ],
            sqlite_dir: path.parent().map(Path::to_path_buf),
        }
    }

    fn postgres(database: &ScratchDatabase) -> Self {
        Self {
            engine: "postgres",
            env: vec![
                ("ADDRESSBOOK_STORAGE__ENGINE".into(), "postgres".into()),
                ("DATABASE_URL".into(), database.url().to_owned()),
            ],
            sqlite_dir: None,
        }
    }
}

/// What wrk requests: one path, random existing ids (with an `Authorization` value, or none),
/// or POSTs of the entry template.
enum Target<'a> {
    Path(&'a str),
    RandomIds(&'a Path, Option<&'a str>),
    Posts(&'a Path),
}

impl Bench {
    /// `taskset -c 0 addressbook-server --port P --config ...` with the store's environment and
    /// nothing inherited that could change its settings.
    fn server_command(&self, store: &Store, extra_env: &[(&str, &str)], port: u16) -> Command {
        let mut command = process::pinned(&self.server_binary);
        command
            .arg("--port")
            .arg(port.to_string())
            .arg("--config")
            .arg(self.root.join("configs/addressbook-local.yaml"))
            .current_dir(&self.root);
        for (name, _) in std::env::vars_os() {
            let text = name.to_string_lossy();
            if text.starts_with("ADDRESSBOOK_") || text == "DATABASE_URL" || text == "RUST_LOG" {
                command.env_remove(&name);
            }
        }
        command
            .env("ADDRESSBOOK_LOG__LEVEL", LOG_LEVEL)
            .env("ADDRESSBOOK_LOG__FORMAT", "text")
            .envs(store.env.iter().map(|(k, v)| (k, v)))
            .envs(extra_env.iter().copied());
        command
    }

    fn start_service(&self, store: &Store) -> anyhow::Result<Server> {
        Server::must_start("addressbook-server", self.server_command(store, &[], 0))
    }

    fn lua(&self, name: &str) -> PathBuf {
        self.root.join("bench/wrk").join(name)
    }

    fn throughput_load(&self) -> Load {
        Load {
            connections: CONNECTIONS,
            seconds: self.settings.seconds,
        }
    }

    /// One wrk run; answers other than 2xx/3xx or socket errors are noted, since such a run
    /// measured something other than the scenario.
    fn wrk(
        &self,
        what: &str,
        engine: &'static str,
        load: Load,
        server: &Server,
        target: &Target,
    ) -> anyhow::Result<WrkResult> {
        let base = format!("http://{}", server.address());
        let cores_before = CoreTimes::now();
        let cpu_before = server.cpu_time();
        let started = Instant::now();
        let result = match target {
            Target::Path(path) => loadgen::run(load, &format!("{base}{path}"), None),
            Target::RandomIds(ids, authorization) => {
                let ids = ids.to_string_lossy();
                let mut args = vec![ids.as_ref()];
                args.extend(*authorization);
                loadgen::run(load, &base, Some((&self.lua("random-id.lua"), &args)))
            }
            Target::Posts(template) => {
                let template = template.to_string_lossy();
                loadgen::run(load, &base, Some((&self.lua("post.lua"), &[&template])))
            }
        }
        .with_context(|| what.to_owned())?;
        let wall = started.elapsed().as_secs_f64();
        let server_cores = match (cpu_before, server.cpu_time()) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before).as_secs_f64() / wall),
            _ => None,
        };
        self.cpu.borrow_mut().push(CpuRow {
            run: what.to_owned(),
            engine,
            server_cores,
            load_cores: result.load_cores,
            others: others(cores_before, [server_cores, result.load_cores]),
            // bare hyper's runs do not touch the database.
            with_postgres: engine == "postgres" && !what.contains(BARE_HYPER),
        });
        if result.non_2xx > 0 || result.socket_errors > 0 {
            self.notes.borrow_mut().push(format!(
                "{what} ({engine}): {} of {} responses were not 2xx/3xx, {} socket errors",
                result.non_2xx, result.requests, result.socket_errors
            ));
        }
        eprintln!(
            "   {what}: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms",
            result.requests_per_sec, result.p50_ms, result.p99_ms
        );
        Ok(result)
    }

    /// The scenarios on a book of BENCH_ENTRIES entries. Returns page 1's p50 measured one
    /// request at a time, for the size-independence table (when that part runs).
    fn small_book(&self, store: &Store, report: &mut Report) -> anyhow::Result<Option<f64>> {
        let engine = store.engine;
        let entries = self.settings.entries;
        let server = self.start_service(store)?;
        progress(&format!("{engine}: loading {entries} entries"));
        let ids = self.load(server.address(), 0..entries)?;
        let ids_file = self.work.join(format!("{engine}-ids.txt"));
        std::fs::write(&ids_file, ids.join("\n") + "\n")?;

        let by_id_path = format!("/addresses/{}", ids[ids.len() / 2]);
        let gets: [(&str, &str, Target); 4] = [
            (BY_ID, &by_id_path, Target::RandomIds(&ids_file, None)),
            (HEALTHZ, "/healthz", Target::Path("/healthz")),
            (
                LIST,
                "/addresses?limit=50",
                Target::Path("/addresses?limit=50"),
            ),
            (
                SEARCH,
                "/addresses?q=jane&limit=50",
                Target::Path("/addresses?q=jane&limit=50"),
            ),
        ];
        for (index, (scenario, sample, target)) in gets.iter().enumerate() {
            progress(&format!("{engine}: {scenario}"));
            // The exact bytes wrk gets from the service, for the baseline to serve.
            let body = self.fetch(server.address(), sample)?;
            if *scenario == SEARCH || *scenario == LIST {
                let page: serde_json::Value = serde_json::from_slice(&body)?;
                let items = page["items"].as_array().map_or(0, Vec::len);
                if items != 50 {
                    bail!("{scenario} on {engine} returned {items} entries, not 50");
                }
            }
            let body_file = self.work.join(format!("{engine}-body-{index}.json"));
            std::fs::write(&body_file, &body)?;

            let load = self.throughput_load();
            let service = self.wrk(scenario, engine, load, &server, target)?;
            let baseline = self.bare_hyper(&body_file, |bare| {
                let what = format!("{scenario} ({BARE_HYPER})");
                self.wrk(&what, engine, load, bare, target)
            })?;
            report.rows.push(Row {
                scenario: scenario.to_string(),
                engine,
                service: Outcome::from_wrk(&service),
                baseline: format!("{BARE_HYPER} ({} B)", body.len()),
                baseline_outcome: Some(Outcome::from_wrk(&baseline)),
            });
            if *scenario == BY_ID {
                progress(&format!("{engine}: {BY_ID_JWT}"));
                let with_token = self.by_id_with_token(store, &ids_file)?;
                report.rows.push(Row {
                    scenario: BY_ID_JWT.to_owned(),
                    engine,
                    service: with_token,
                    baseline: NO_CREDENTIAL.to_owned(),
                    baseline_outcome: Some(Outcome::from_wrk(&service)),
                });
            }
            if *scenario == BY_ID && engine == "postgres" {
                progress("postgres: pgbench -S");
                let tps = self.pgbench()?;
                report.rows.push(Row {
                    scenario: scenario.to_string(),
                    engine,
                    service: Outcome::from_wrk(&service),
                    baseline: PGBENCH.to_owned(),
                    baseline_outcome: Some(Outcome::rate(tps, "tps")),
                });
            }
        }

        let small_page1 = if self.settings.big_entries > 0 {
            progress(&format!("{engine}: page 1, one connection"));
            let single = self.wrk(
                "page 1, one connection",
                engine,
                SINGLE,
                &server,
                &Target::Path("/addresses?limit=50"),
            )?;
            Some(single.p50_ms)
        } else {
            None
        };

        // Start-up is timed on the book exactly as loaded, before the writes grow it.
        let server = if store.sqlite_dir.is_some() {
            server.stop()?;
            progress(&format!("{engine}: start-up to ready"));
            report.startup_ms = self.startup_runs(store)?;
            self.start_service(store)?
        } else {
            server
        };

        // Writes last: they grow the book the reads above were measured on.
        progress(&format!("{engine}: {POST}"));
        let template = self.work.join("post-template.json");
        std::fs::write(&template, entry::template())?;
        let posts = self.wrk(
            POST,
            engine,
            self.throughput_load(),
            &server,
            &Target::Posts(&template),
        )?;
        progress(&format!("{engine}: {BATCH}"));
        let (batched, singles) = self.batch_against_singles(server.address())?;
        server.stop()?;
        report.rows.push(Row {
            scenario: BATCH.to_owned(),
            engine,
            service: batched,
            baseline: SINGLE_POSTS.to_owned(),
            baseline_outcome: Some(singles),
        });
        let post_row = |baseline: &str, outcome: Option<Outcome>| Row {
            scenario: POST.to_owned(),
            engine,
            service: Outcome::from_wrk(&posts),
            baseline: baseline.to_owned(),
            baseline_outcome: outcome,
        };
        match &store.sqlite_dir {
            Some(dir) => {
                progress("sqlite: fsync loop");
                let fsyncs = self.fsync_loop(dir)?;
                report.rows.push(post_row(
                    FSYNC_LOOP,
                    Some(Outcome::rate(fsyncs, "fsyncs/s")),
                ));
                progress("sqlite: POST with synchronous=off");
                let off = self.posts_without_sync(store, &template)?;
                report.rows.push(post_row(SYNC_OFF, Some(off)));
            }
            None => report.rows.push(post_row("", None)),
        }
        Ok(small_page1)
    }

    /// Random reads by id on the same book from a server that requires credentials, each
    /// request carrying one bearer token (as a client reuses its token until it expires), or why
    /// that could not be measured.
    fn by_id_with_token(&self, store: &Store, ids: &Path) -> anyhow::Result<Outcome> {
        let keys = format!(r#"[{{kid="{JWT_KID}",algorithm="HS256",secret="{JWT_SECRET}"}}]"#);
        let cursor_key = format!("bench-{}", uuid::Uuid::new_v4());
        let command = self.server_command(
            store,
            &[
                ("ADDRESSBOOK_AUTH__MODE", "required"),
                ("ADDRESSBOOK_AUTH__JWT__KEYS", &keys),
                ("ADDRESSBOOK_API__CURSOR_KEY", &cursor_key),
            ],
            0,
        );
        match Server::start("addressbook-server (credentials required)", command)? {
            Ok(server) => {
                let authorization = format!("Bearer {}", bearer_token());
                let target = Target::RandomIds(ids, Some(&authorization));
                let result = self.wrk(
                    BY_ID_JWT,
                    store.engine,
                    self.throughput_load(),
                    &server,
                    &target,
                );
                server.stop()?;
                Ok(Outcome::from_wrk(&result?))
            }
            Err(failure) => {
                // Expected from a server older than authentication; any other failure is shown.
                let said = failure.stderr.lines().last().unwrap_or_default().to_owned();
                eprintln!(
                    "   server refused to require credentials ({}): {said}",
                    failure.status
                );
                Ok(Outcome::NotAvailable(
                    "n/a (server has no auth.mode)".to_owned(),
                ))
            }
        }
    }

    /// POSTs against the same server and file with `storage.sqlite.synchronous = off`, or why
    /// that could not be measured.
    fn posts_without_sync(&self, store: &Store, template: &Path) -> anyhow::Result<Outcome> {
        let command = self.server_command(
            store,
            &[("ADDRESSBOOK_STORAGE__SQLITE__SYNCHRONOUS", "off")],
            0,
        );
        match Server::start("addressbook-server (synchronous=off)", command)? {
            Ok(server) => {
                let result = self.wrk(
                    "POST /addresses (synchronous=off)",
                    store.engine,
                    self.throughput_load(),
                    &server,
                    &Target::Posts(template),
                )?;
                server.stop()?;
                Ok(Outcome::from_wrk(&result))
            }
            Err(failure) => {
                // Expected while the server has no such setting; any other failure is shown.
                let said = failure.stderr.lines().last().unwrap_or_default().to_owned();
                eprintln!(
                    "   server refused synchronous=off ({}): {said}",
                    failure.status
                );
                Ok(Outcome::NotAvailable(
                    "n/a (server has no storage.sqlite.synchronous)".to_owned(),
                ))
            }
        }
    }

    /// Cost per request on BENCH_BIG_ENTRIES entries, beside page 1 of the small book.
    fn big_book(
        &self,
        store: &Store,
        small_page1: Option<f64>,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let engine = store.engine;
        let entries = self.settings.big_entries;
        let server = self.start_service(store)?;
        progress(&format!("{engine}: loading {entries} entries"));
        self.load(server.address(), 0..entries)?;
        let middle = entries / 2;
        let cursor = self.runtime.block_on(cursor_at(server.address(), middle))?;
        let email = entry::unique_email(middle);
        let requests = [
            ("page 1".to_owned(), "/addresses?limit=50".to_owned(), 50),
            (
                format!("deep page (after {middle} entries)"),
                format!("/addresses?limit=50&cursor={}", encode(&cursor)),
                50,
            ),
            (
                "search matching all (q=jane)".to_owned(),
                "/addresses?q=jane&limit=50".to_owned(),
                50,
            ),
            (
                "search matching one (an e-mail)".to_owned(),
                format!("/addresses?q={}&limit=50", encode(&email)),
                1,
            ),
        ];
        for (name, path, expected) in &requests {
            progress(&format!("{engine}, {entries} entries: {name}"));
            let page: serde_json::Value =
                serde_json::from_slice(&self.fetch(server.address(), path)?)?;
            let items = page["items"].as_array().map_or(0, Vec::len);
            if items != *expected {
                bail!("{name} on {engine} returned {items} entries, not {expected}");
            }
            let what = format!("{name}, {entries} entries");
            let result = self.wrk(&what, engine, SINGLE, &server, &Target::Path(path))?;
            report.size_rows.push(SizeRow {
                engine,
                request: name.clone(),
                big: Outcome::from_wrk(&result),
                small_page1_p50_ms: small_page1,
            });
        }
        report.resident_kib.push((engine, server.resident_kib()));
        server.stop()?;
        Ok(())
    }

    /// BATCH_SIZE creates sent as one batch, beside the same number sent one after another on
    /// the same connection, BATCH_ROUNDS times each, alternating: creates per second of the
    /// median round, with the median and slowest round's time as the latencies.
    fn batch_against_singles(&self, address: SocketAddr) -> anyhow::Result<(Outcome, Outcome)> {
        self.runtime.block_on(async {
            let mut connection = Connection::open(address).await?;
            let mut batched = Vec::new();
            let mut singles = Vec::new();
            let mut next = BATCH_SEQ;
            for _ in 0..BATCH_ROUNDS {
                let operations: Vec<String> = (next..next + BATCH_SIZE)
                    .map(|i| format!(r#"{{"op":"create","entry":{}}}"#, entry::entry(i)))
                    .collect();
                next += BATCH_SIZE;
                let body = format!(r#"{{"operations":[{}]}}"#, operations.join(","));
                let started = Instant::now();
                let answer = connection
                    .post_json("/addresses/batch", body)
                    .await?
                    .json(StatusCode::OK)
                    .context("a batch of creates")?;
                batched.push(started.elapsed());
                let results = answer["results"].as_array().context("no results")?;
                if results.len() != BATCH_SIZE || results.iter().any(|r| r["status"] != 201) {
                    bail!("a batch of {BATCH_SIZE} creates was not all created: {answer}");
                }

                let started = Instant::now();
                for i in next..next + BATCH_SIZE {
                    connection
                        .post_json("/addresses", entry::entry(i))
                        .await?
                        .json(StatusCode::CREATED)
                        .with_context(|| format!("creating entry {i}"))?;
                }
                next += BATCH_SIZE;
                singles.push(started.elapsed());
            }
            anyhow::Ok((creates_per_second(&batched), creates_per_second(&singles)))
        })
    }

    /// Loads entries `range` through the API over LOADERS connections; their ids, in order.
    fn load(&self, address: SocketAddr, range: Range<usize>) -> anyhow::Result<Vec<String>> {
        let started = Instant::now();
        let count = range.len();
        let ids = self.runtime.block_on(async {
            let next = Arc::new(AtomicUsize::new(range.start));
            let mut loaders = Vec::new();
            for _ in 0..LOADERS {
                let next = next.clone();
                let end = range.end;
                loaders.push(tokio::spawn(async move {
                    let mut connection = Connection::open(address).await?;
                    let mut ids = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= end {
                            return anyhow::Ok(ids);
                        }
                        let created = connection
                            .post_json("/addresses", entry::entry(i))
                            .await?
                            .json(StatusCode::CREATED)
                            .with_context(|| format!("creating entry {i}"))?;
                        let id = created["id"]
                            .as_str()
                            .context("no id in the created entry")?;
                        ids.push((i, id.to_owned()));
                    }
                }));
            }
            let mut ids = Vec::with_capacity(count);
            for loader in loaders {
                ids.extend(loader.await??);
            }
            ids.sort();
            anyhow::Ok(ids.into_iter().map(|(_, id)| id).collect::<Vec<_>>())
        })?;
        let took = started.elapsed().as_secs_f64();
        eprintln!(
            "   loaded {count} entries in {took:.1} s ({:.0}/s)",
            count as f64 / took
        );
        Ok(ids)
    }

    /// One GET's body, as wrk would receive it (no compression asked for).
    fn fetch(&self, address: SocketAddr, path: &str) -> anyhow::Result<bytes::Bytes> {
        self.runtime.block_on(async {
            let response = Connection::open(address).await?.get(path).await?;
            if response.status != StatusCode::OK {
                bail!("GET {path}: {}", response.status);
            }
            if let Some(encoding) = &response.content_encoding {
                bail!("GET {path} came {encoding}-encoded though none was asked for");
            }
            if !response
                .content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("application/json"))
            {
                bail!("GET {path}: content type {:?}", response.content_type);
            }
            Ok(response.body)
        })
    }

    /// Runs `measure` against bare hyper serving `body`, pinned like the service.
    fn bare_hyper<T>(
        &self,
        body: &Path,
        measure: impl FnOnce(&Server) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut command = process::pinned(&self.bare_hyper);
        command.arg("--body").arg(body);
        let server = Server::must_start("bare-hyper", command)?;
        let result = measure(&server)?;
        server.stop()?;
        Ok(result)
    }

    /// PostgreSQL's own read-only throughput on a scratch pgbench database, in transactions/s.
    fn pgbench(&self) -> anyhow::Result<f64> {
        let database = ScratchDatabase::create(&pg::admin_url(), "ab_bench_pgbench")?;
        let init = Command::new("pgbench")
            .args(["-i", "-s", "1", "-q"])
            .arg(database.url())
            .output()
            .context("cannot run pgbench")?;
        if !init.status.success() {
            bail!(
                "pgbench -i on {}: {}",
                database.name(),
                String::from_utf8_lossy(&init.stderr).trim()
            );
        }
        let seconds = self.settings.seconds.to_string();
        let mut command = Command::new("taskset");
        command
            .args(["-c", LOAD_CORE, "pgbench", "-S", "-M", "prepared"])
            .args(["-c", "32", "-j", "1", "-T", &seconds])
            .arg(database.url());
        let cores_before = CoreTimes::now();
        let (output, load_cores) =
            loadgen::run_measured(&mut command).context("cannot run pgbench")?;
        let others = others(cores_before, [Some(0.0), load_cores]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "pgbench -S: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let tps = loadgen::pgbench_tps(&stdout)?;
        self.cpu.borrow_mut().push(CpuRow {
            run: "pgbench -S".to_owned(),
            engine: "postgres",
            server_cores: None,
            load_cores,
            others,
            with_postgres: true,
        });
        eprintln!("   pgbench -S: {tps:.0} tps");
        Ok(tps)
    }

    /// fsyncs/s of one thread appending to a file beside the SQLite database.
    fn fsync_loop(&self, dir: &Path) -> anyhow::Result<f64> {
        let output = process::pinned(&self.fsync_loop)
            .arg("--dir")
            .arg(dir)
            .arg("--seconds")
            .arg(self.settings.seconds.to_string())
            .output()
            .context("cannot run fsync-loop")?;
        if !output.status.success() {
            bail!(
                "fsync-loop: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let rate = stdout
            .trim()
            .strip_prefix("fsyncs_per_sec=")
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("fsync-loop said {stdout:?}"))?;
        eprintln!("   fsync loop: {rate:.0} fsyncs/s");
        Ok(rate)
    }

    /// Exec to `GET /readiness` = 200 on the existing book, polled every millisecond, each run
    /// in milliseconds.
    fn startup_runs(&self, store: &Store) -> anyhow::Result<Vec<f64>> {
        let mut runs = Vec::with_capacity(STARTUP_RUNS);
        for _ in 0..STARTUP_RUNS {
            let port = process::free_port()?;
            let address = SocketAddr::from(([127, 0, 0, 1], port));
            let mut command = self.server_command(store, &[], port);
            command.stdout(Stdio::null()).stderr(Stdio::null());
            let started = Instant::now();
            let mut server = Server::spawn_at("addressbook-server", command, address)?;
            loop {
                if ready(address) {
                    break;
                }
                if let Some(status) = server.exited()? {
                    bail!("the server exited during start-up ({status})");
                }
                if started.elapsed() > Duration::from_secs(60) {
                    bail!("the server was not ready within 60 s");
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let took = started.elapsed().as_secs_f64() * 1000.0;
            server.stop()?;
            eprintln!("   ready after {took:.1} ms");
            runs.push(took);
        }
        Ok(runs)
    }
}

/// Each core's busy share since `before` less what the measured processes used on it.
fn others(before: Option<CoreTimes>, own: [Option<f64>; 2]) -> [Option<f64>; 2] {
    let busy = match (before, CoreTimes::now()) {
        (Some(before), Some(after)) => before.busy_since(&after),
        _ => [None, None],
    };
    [0, 1].map(|core| Some((busy[core]? - own[core]?).max(0.0)))
}

/// Whether `GET /readiness` answers 200 now.
fn ready(address: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        format!("GET /readiness HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

/// The `next_cursor` after about `skip` entries of the default listing, walked 100 at a time.
/// The rate of BATCH_SIZE creates in the median of `rounds`, with the median and slowest
/// round's time as its latencies.
fn creates_per_second(rounds: &[Duration]) -> Outcome {
    let millis: Vec<f64> = rounds.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    match addressbook_bench::report::median(&millis) {
        Some(median) if median > 0.0 => Outcome::Measured {
            rate: BATCH_SIZE as f64 / (median / 1e3),
            unit: "creates/s",
            p50_ms: Some(median),
            p99_ms: millis.iter().copied().reduce(f64::max),
        },
        _ => Outcome::NotAvailable("not measured".to_owned()),
    }
}

async fn cursor_at(address: SocketAddr, skip: usize) -> anyhow::Result<String> {
    let mut connection = Connection::open(address).await?;
    let mut cursor: Option<String> = None;
    let mut seen = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/addresses?limit=100&cursor={}", encode(cursor)),
            None => "/addresses?limit=100".to_owned(),
        };
        let page = connection.get(&path).await?.json(StatusCode::OK)?;
        seen += page["items"].as_array().map_or(0, Vec::len);
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        match &cursor {
            Some(cursor) if seen >= skip => return Ok(cursor.clone()),
            Some(_) => {}
            None => bail!("the listing ended after {seen} entries, before {skip}"),
        }
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
