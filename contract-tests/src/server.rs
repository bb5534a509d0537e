//! One running `addressbook-server` process: started on port 0, its address read from its log,
//! its output drained into a bounded buffer for failure messages, and stopped by a signal or by
//! dropping it.

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::binary::{server_binary, workspace_root};

/// How long a server may take to log its address.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long after logging its address a server may take to report ready.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`TestServer::terminate`] waits for the process to exit: the default
/// `shutdown_timeout_secs` (10) plus slack.
pub const DEFAULT_STOP_BOUND: Duration = Duration::from_secs(15);
/// How long after it is ready a server may take to install its SIGTERM handler.
pub const SIGTERM_HANDLER_TIMEOUT: Duration = Duration::from_secs(2);
/// Lines of server output kept for failure messages; older ones are dropped.
const MAX_LOG_LINES: usize = 5_000;

/// Everything needed to start a server; made by [`crate::Store::server`].
#[derive(Debug, Clone)]
pub struct ServerOptions {
    dir: PathBuf,
    config: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// A command the server runs under, e.g. `prlimit --nofile=64:64 --`.
    wrapper: Vec<String>,
}

impl ServerOptions {
    /// A server running in `dir` with `configs/addressbook-local.yaml` and nothing else set.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            config: workspace_root().join("configs/addressbook-local.yaml"),
            args: Vec::new(),
            env: Vec::new(),
            wrapper: Vec::new(),
        }
    }

    /// Runs the server under `command` (which then execs it), e.g.
    /// `["prlimit", "--nofile=64:64", "--"]`.
    pub fn wrapped_in(mut self, command: &[&str]) -> Self {
        self.wrapper = command.iter().map(|part| (*part).to_owned()).collect();
        self
    }

    /// Another command-line argument after `--port 0 --config FILE`.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    /// Another environment variable; later values win.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// A configuration file other than the local one.
    pub fn config(mut self, path: &Path) -> Self {
        self.config = path.to_owned();
        self
    }

    /// Starts the server and waits until it is ready; panics with its output if it is not.
    pub async fn start(self) -> TestServer {
        match self.try_start().await {
            Ok(server) => server,
            Err(err) => panic!("{err}"),
        }
    }

    /// The server's command line and environment: `--port 0 --config FILE`, then the extra
    /// arguments; none of the developer's own `ADDRESSBOOK_*`, `DATABASE_URL` or `RUST_LOG`.
    pub(crate) fn command(&self) -> Command {
        let mut command = match self.wrapper.split_first() {
            None => Command::new(server_binary()),
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(server_binary());
                command
            }
        };
        command
            .current_dir(&self.dir)
            .args(["--port", "0", "--config"])
            .arg(&self.config)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Measuring coverage, a server left running is stopped with SIGTERM instead (see
            // `Drop for TestServer`), so that it writes its profile as it exits.
            .kill_on_drop(!measuring_coverage());
        // The developer's own settings must not leak into the tests' servers.
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text.starts_with("ADDRESSBOOK_")
                || key_text == "DATABASE_URL"
                || key_text == "RUST_LOG"
            {
                command.env_remove(&key);
            }
        }
        // The harness reads the address from the `listening` line: text, at info level.
        command
            .env("ADDRESSBOOK_LOG__FORMAT", "text")
            .env("ADDRESSBOOK_LOG__LEVEL", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)));

        command
    }

    /// Starts the server and waits until it is ready, or says why it did not get there.
    pub async fn try_start(self) -> Result<TestServer, StartError> {
        self.spawn(true).await
    }

    /// Starts the server and returns once it listens, ready or not: for servers that are
    /// expected to stay not ready.
    pub async fn start_listening(self) -> Result<TestServer, StartError> {
        self.spawn(false).await
    }

    async fn spawn(self, until_ready: bool) -> Result<TestServer, StartError> {
        let mut command = self.command();
        let mut child = command.spawn().map_err(|err| StartError {
            reason: format!("cannot run {}: {err}", server_binary().display()),
            output: String::new(),
        })?;
        let pid = child.id().expect("a just-spawned child has a pid");
        let logs = Arc::new(LogBuffer::new(pid));
        let (lines_tx, mut lines_rx) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let readers = [
            spawn_reader(stdout, logs.clone(), Some(lines_tx)),
            spawn_reader(stderr, logs.clone(), None),
        ];

        let fail = |reason: String, logs: &LogBuffer| StartError {
            reason: format!("addressbook-server (pid {pid}) {reason}"),
            output: logs.text(),
        };
        let address = wait_for_address(&mut child, &mut lines_rx).await;
        // The stdout reader keeps draining into the buffer; nobody needs its lines any more.
        drop(lines_rx);
        let base_url = match address {
            Ok(url) => url,
            Err(reason) => {
                let _ = child.start_kill();
                finish_readers(readers).await;
                return Err(fail(reason, &logs));
            }
        };

        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a plain reqwest client builds");
        let mut server = TestServer {
            base_url,
            child,
            pid,
            logs,
            http,
            exit: None,
        };
        if until_ready && let Err(reason) = server.wait_until_ready().await {
            return Err(fail(reason, &server.logs));
        }
        Ok(server)
    }
}

/// Why a server did not start, with everything it printed.
#[derive(Debug)]
pub struct StartError {
    pub reason: String,
    pub output: String,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- server output ---\n{}--- end of server output ---",
            self.reason, self.output
        )
    }
}

impl std::error::Error for StartError {}

/// A running server. Dropping it kills the process (SIGKILL).
pub struct TestServer {
    base_url: String,
    child: Child,
    pid: u32,
    logs: Arc<LogBuffer>,
    http: reqwest::Client,
    exit: Option<ExitStatus>,
}

/// Whether the suite runs under cargo-llvm-cov (`.ci/coverage`), whose instrumented servers
/// write their coverage only when they exit normally: a SIGKILL would lose it.
fn measuring_coverage() -> bool {
    std::env::var_os("CARGO_LLVM_COV").is_some()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if measuring_coverage() {
            // It drains and exits by itself; `.ci/coverage` waits for it before reporting.
            self.signal(Signal::SIGTERM);
        }
    }
}

impl TestServer {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The absolute URL of `path_and_query` (which starts with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base_url)
    }

    /// A typed client for this server.
    pub fn client(&self) -> addressbook_client::Client {
        addressbook_client::Client::new(&self.base_url)
    }

    /// A plain HTTP client for requests the typed client refuses to send. It neither compresses
    /// nor decompresses anything by itself.
    pub fn http(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// A plain HTTP client of its own, sharing no connections with any other. For requests after
    /// which the server may close the connection without saying so (it does after refusing an
    /// oversized body unread), so that no later request is sent on a connection being closed.
    pub fn fresh_http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a plain reqwest client builds")
    }

    /// The URL the server logged as `probes=http://…`: its probe port (`server.probe_port`).
    pub fn probe_url(&self) -> Option<String> {
        self.logged_url("probes")
    }

    /// The URL the server logged as `metrics=http://…`: its metrics port (`metrics.port`).
    pub fn metrics_url(&self) -> Option<String> {
        self.logged_url("metrics")
    }

    fn logged_url(&self, field: &str) -> Option<String> {
        let needle = format!("{field}=http");
        self.logs().lines().find_map(|line| {
            let start = line.find(&needle)? + field.len() + 1;
            let rest = &line[start..];
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            Some(rest[..end].trim_matches('"').to_owned())
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Everything the server has printed so far (the last few thousand lines).
    pub fn logs(&self) -> String {
        self.logs.text()
    }

    /// Waits until a line of output contains `needle`; `false` if none did within `within`.
    pub async fn wait_for_log(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.logs.contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sends SIGTERM and returns without waiting for the exit; see [`TestServer::wait_for_exit`].
    ///
    /// First waits (on Linux, up to [`SIGTERM_HANDLER_TIMEOUT`]) until the process catches
    /// SIGTERM: the server installs its handler only when its accept loop first polls the
    /// shutdown future, which on a loaded machine can be milliseconds after it has answered
    /// requests, and a SIGTERM before that kills it outright. That race is a server defect of
    /// its own; the tests that use this method are about what happens once the signal is handled.
    pub async fn send_sigterm(&mut self) {
        let deadline = Instant::now() + SIGTERM_HANDLER_TIMEOUT;
        while catches_sigterm(self.pid) == Some(false) {
            assert!(
                Instant::now() < deadline,
                "addressbook-server (pid {}) does not handle SIGTERM {SIGTERM_HANDLER_TIMEOUT:?} after it was ready\n{}",
                self.pid,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        self.signal(Signal::SIGTERM);
    }

    /// SIGTERM, then waits for the exit within [`DEFAULT_STOP_BOUND`]; panics with the server's
    /// output if it takes longer.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.send_sigterm().await;
        self.wait_for_exit(DEFAULT_STOP_BOUND).await
    }

    /// SIGKILL, then waits for the process to be gone.
    pub async fn kill(&mut self) -> ExitStatus {
        self.signal(Signal::SIGKILL);
        self.wait_for_exit(Duration::from_secs(5)).await
    }

    /// Waits for the process to exit; panics with its output (and kills it) if it is still
    /// running after `within`.
    pub async fn wait_for_exit(&mut self, within: Duration) -> ExitStatus {
        if let Some(status) = self.exit {
            return status;
        }
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(Ok(status)) => {
                self.exit = Some(status);
                status
            }
            Ok(Err(err)) => panic!("cannot wait for addressbook-server: {err}"),
            Err(_) => {
                let _ = self.child.kill().await;
                panic!(
                    "addressbook-server (pid {}) did not exit within {within:?}\n--- server output ---\n{}",
                    self.pid,
                    self.logs()
                );
            }
        }
    }

    fn signal(&mut self, sig: Signal) {
        // Once the child is reaped its pid may belong to another process: never signal then.
        if self.exit.is_some() {
            return;
        }
        if let Ok(Some(status)) = self.child.try_wait() {
            self.exit = Some(status);
            return;
        }
        let pid = i32::try_from(self.pid).expect("pids fit in i32");
        signal::kill(Pid::from_raw(pid), sig)
            .unwrap_or_else(|err| panic!("cannot send {sig} to pid {pid}: {err}"));
    }

    async fn wait_until_ready(&mut self) -> Result<(), String> {
        let url = self.url("/readiness");
        let deadline = Instant::now() + READINESS_TIMEOUT;
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            match self.http.get(&url).send().await {
                Ok(response) if response.status() == reqwest::StatusCode::OK => return Ok(()),
                Ok(response) => last = format!("status {}", response.status()),
                Err(err) => last = format!("{err}"),
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
                return Err(format!("exited before it was ready: {status}"));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(format!(
            "was not ready within {READINESS_TIMEOUT:?} (last /readiness: {last})"
        ))
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("base_url", &self.base_url)
            .field("pid", &self.pid)
            .field("exit", &self.exit)
            .finish()
    }
}

/// The server's output: kept for failure messages, and echoed to stderr when `TEST_LOG` is set.
struct LogBuffer {
    pid: u32,
    echo: bool,
    lines: Mutex<(VecDeque<String>, usize)>,
}

impl LogBuffer {
    fn new(pid: u32) -> Self {
        Self {
            pid,
            echo: std::env::var_os("TEST_LOG").is_some_and(|v| !v.is_empty()),
            lines: Mutex::new((VecDeque::new(), 0)),
        }
    }

    fn push(&self, line: String) {
        if self.echo {
            // Straight to the process's stderr: the test harness's capture would hide it.
            let _ = writeln!(std::io::stderr(), "[server {}] {line}", self.pid);
        }
        let mut guard = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let (lines, dropped) = &mut *guard;
        if lines.len() == MAX_LOG_LINES {
            lines.pop_front();
            *dropped += 1;
        }
        lines.push_back(line);
    }

    fn contains(&self, needle: &str) -> bool {
        let guard = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.iter().any(|line| line.contains(needle))
    }

    fn text(&self) -> String {
        let guard = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let (lines, dropped) = &*guard;
        let mut text = String::new();
        if *dropped > 0 {
            text.push_str(&format!("[{dropped} earlier lines dropped]\n"));
        }
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// Whether process `pid` catches SIGTERM, from the `SigCgt` mask in `/proc/PID/status`; `None`
/// where that cannot be read (not Linux, process gone).
fn catches_sigterm(pid: u32) -> Option<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mask = status
        .lines()
        .find_map(|line| line.strip_prefix("SigCgt:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())?;
    let bit = Signal::SIGTERM as i32 - 1;
    Some(mask & (1_u64 << bit) != 0)
}

/// Drains `stream` line by line into `logs` (an undrained pipe would block the server), also
/// passing lines to `lines` while anyone listens.
fn spawn_reader<R>(
    stream: R,
    logs: Arc<LogBuffer>,
    lines: Option<mpsc::UnboundedSender<String>>,
) -> JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
                    if let Some(tx) = &lines {
                        let _ = tx.send(line.clone());
                    }
                    logs.push(line);
                }
            }
        }
    })
}

/// Reads the server's stdout lines until the `listening` one and returns its URL; otherwise says
/// why there will be none.
async fn wait_for_address(
    child: &mut Child,
    lines: &mut mpsc::UnboundedReceiver<String>,
) -> Result<String, String> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        tokio::select! {
            line = lines.recv() => match line {
                Some(line) => {
                    if let Some(url) = listening_url(&line) {
                        return Ok(url);
                    }
                }
                None => {
                    // Output closed: the process is on its way out.
                    let status = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                    let status = match status {
                        Ok(status) => describe_exit(status),
                        Err(_) => "still running".to_owned(),
                    };
                    return Err(format!("closed its output before listening ({status})"));
                }
            },
            status = child.wait() => {
                return Err(format!("exited before listening ({})", describe_exit(status)));
            }
            () = tokio::time::sleep_until(deadline) => {
                return Err(format!("did not log its address within {STARTUP_TIMEOUT:?}"));
            }
        }
    }
}

fn describe_exit(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(err) => format!("cannot wait for it: {err}"),
    }
}

/// Lets the readers catch the last lines of a process that is exiting.
async fn finish_readers(readers: [JoinHandle<()>; 2]) {
    for reader in readers {
        let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
    }
}

/// The URL in the server's `listening` line, text (`address=http://…`) or JSON
/// (`"address":"http://…"`).
fn listening_url(line: &str) -> Option<String> {
    if !line.contains("listening") {
        return None;
    }
    let start = ["address=", "\"address\":\""]
        .iter()
        .find_map(|key| line.find(&format!("{key}http")).map(|at| at + key.len()))?;
    let rest = &line[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"')
        .unwrap_or(rest.len());
    Some(rest[..end].trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::listening_url;

    #[test]
    fn the_address_is_read_from_text_and_json_log_lines() {
        assert_eq!(
            listening_url("2026-11-21T20:11:24Z  INFO listening address=http://127.0.0.1:43979")
                .as_deref(),
            Some("http://127.0.0.1:43979")
        );
        assert_eq!(
            listening_url(
                r#"{"level":"INFO","message":"listening","address":"http://127.0.0.1:5"}"#
            )
            .as_deref(),
            Some("http://127.0.0.1:5")
        );
        // poem's own line names a socket, not a URL.
        assert_eq!(
            listening_url("INFO listening addr=socket://127.0.0.1:43979"),
            None
        );
    }
}
