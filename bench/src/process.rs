//! Server processes: started pinned to the server core, found by the address they log, stopped
//! with SIGTERM so they drain, and killed if anything goes wrong before that.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The core every server (the service and each baseline) runs on.
pub const SERVER_CORE: &str = "0";

/// How long a server may take to print its address, and to exit after SIGTERM.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// `taskset -c 0 program`: the start of a command line for anything measured as a server.
pub fn pinned(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("taskset");
    command.args(["-c", SERVER_CORE]).arg(program);
    command
}

/// A running server. Dropping it kills the process: whatever path leaves the harness, no
/// server outlives it.
pub struct Server {
    name: String,
    child: Option<Child>,
    address: SocketAddr,
    stderr: Option<JoinHandle<String>>,
}

/// Why a server did not start: it exited first, with this status and standard error.
pub struct StartFailure {
    pub status: ExitStatus,
    pub stderr: String,
}

impl Server {
    /// Starts `command` and waits until it logs `listening address=http://HOST:PORT`.
    /// A process that exits first is a [`StartFailure`], for the caller to judge.
    pub fn start(name: &str, mut command: Command) -> anyhow::Result<Result<Self, StartFailure>> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        crate::cleanup::add_process(child.id());
        let stdout = child.stdout.take().context("stdout")?;
        let mut stderr = child.stderr.take().context("stderr")?;
        let (found, address) = mpsc::channel();
        // Keeps reading after the address so the pipe never fills and blocks the server.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(address) = listening_address(&line) {
                    let _ = found.send(address);
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut server = Server {
            name: name.to_owned(),
            child: Some(child),
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr: Some(stderr),
        };
        match address.recv_timeout(START_TIMEOUT) {
            Ok(address) => {
                server.address = address;
                Ok(Ok(server))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Standard output closed without an address: the process is exiting.
                let mut child = server.child.take().context("child")?;
                let status = child.wait()?;
                crate::cleanup::remove_process(child.id());
                let stderr = server.take_stderr();
                Ok(Err(StartFailure { status, stderr }))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                bail!("{name} printed no listening address within {START_TIMEOUT:?}")
            }
        }
    }

    /// Like [`Server::start`], where not starting is an error.
    pub fn must_start(name: &str, command: Command) -> anyhow::Result<Self> {
        match Self::start(name, command)? {
            Ok(server) => Ok(server),
            Err(failure) => bail!(
                "{name} exited at start-up ({}): {}",
                failure.status,
                failure.stderr.trim()
            ),
        }
    }

    /// Starts `command` (its output already directed) without waiting for it: for timing a
    /// start-up from exec, at an address chosen beforehand.
    pub fn spawn_at(name: &str, mut command: Command, address: SocketAddr) -> anyhow::Result<Self> {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        crate::cleanup::add_process(child.id());
        Ok(Server {
            name: name.to_owned(),
            child: Some(child),
            address,
            stderr: None,
        })
    }

    /// The exit status, if the process has exited.
    pub fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(child) => Ok(child.try_wait()?),
            None => bail!("{} was already stopped", self.name),
        }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Resident memory of the process now, from `/proc/PID/status`, in KiB.
    pub fn resident_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// CPU time (user plus system, all threads) the process has used so far.
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        crate::cpu::process_time(&stat)
    }

    /// SIGTERM, then waits for the process to drain and exit (SIGKILL if it takes too long).
    pub fn stop(mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        let _forget = Forget(child.id());
        let pid = Pid::from_raw(i32::try_from(child.id())?);
        kill(pid, Signal::SIGTERM).with_context(|| format!("cannot signal {}", self.name))?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "{} did not exit within {STOP_TIMEOUT:?} of SIGTERM",
                    self.name
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn take_stderr(&mut self) -> String {
        self.stderr
            .take()
            .and_then(|handle| handle.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            crate::cleanup::remove_process(child.id());
        }
    }
}

/// Takes a process off the signal handler's list once it has been waited for, on every path.
struct Forget(u32);

impl Drop for Forget {
    fn drop(&mut self) {
        crate::cleanup::remove_process(self.0);
    }
}

/// The address in a `listening address=http://HOST:PORT` log line, colour codes or not.
pub fn listening_address(line: &str) -> Option<SocketAddr> {
    let plain = strip_ansi(line);
    if !plain.contains("listening") {
        return None;
    }
    let rest = &plain[plain.find("address=http://")? + "address=http://".len()..];
    rest.split(|c: char| c.is_whitespace() || c == '/')
        .next()?
        .parse()
        .ok()
}

fn strip_ansi(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI sequences end with a letter: ESC [ 3 m
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// A port nothing listens on now, for a server whose address must be known before it starts.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_in_a_log_line() {
        let line = "2026-01-01T00:00:00.000Z  INFO listening address=http://127.0.0.1:40123";
        assert_eq!(
            listening_address(line),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        let coloured = "\u{1b}[32m INFO\u{1b}[0m listening \u{1b}[3maddress\u{1b}[0m\u{1b}[2m=\u{1b}[0mhttp://127.0.0.1:8080";
        assert_eq!(
            listening_address(coloured),
            Some("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(listening_address("INFO migrations applied"), None);
    }
}
