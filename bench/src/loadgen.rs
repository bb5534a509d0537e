//! Running the load generators (wrk, pgbench) pinned to the load core, and reading their output.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The core the load generators run on; the servers get the other one.
pub const LOAD_CORE: &str = "1";

/// What one wrk run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct WrkResult {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    /// Responses that were not 2xx or 3xx: a run with any measured the wrong thing.
    pub non_2xx: u64,
    /// Connect, read, write and timeout errors added up.
    pub socket_errors: u64,
    /// CPU the load generator used, in cores (1.0: its core was busy the whole run).
    pub load_cores: Option<f64>,
}

/// How hard and how long wrk pushes.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub connections: u32,
    pub seconds: u64,
}

/// Runs `wrk -t1 -c{connections} -d{seconds}s --latency` on the load core against `url`, with
/// an optional Lua script and its arguments.
pub fn run(load: Load, url: &str, script: Option<(&Path, &[&str])>) -> anyhow::Result<WrkResult> {
    let mut command = Command::new("taskset");
    command
        .args(["-c", LOAD_CORE, "wrk", "-t1"])
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.seconds))
        .arg("--latency");
    if let Some((script, _)) = script {
        command.arg("-s").arg(script);
    }
    command.arg(url);
    if let Some((_, args)) = script
        && !args.is_empty()
    {
        command.arg("--").args(args);
    }
    let (output, load_cores) = run_measured(&mut command).context("cannot run wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk against {url} failed ({}): {}{}",
            output.status,
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let mut result =
        parse(&stdout).with_context(|| format!("cannot read wrk's output:\n{stdout}"))?;
    result.load_cores = load_cores;
    Ok(result)
}

/// Runs `command` to completion, with the CPU it used per second of wall time. The CPU comes
/// from this process's reaped children, so nothing else may be reaped meanwhile: the harness
/// runs one load generator at a time and reaps servers only when it stops them.
pub fn run_measured(command: &mut Command) -> std::io::Result<(Output, Option<f64>)> {
    let before = children_cpu();
    let started = Instant::now();
    let output = command.output()?;
    let wall = started.elapsed();
    let cores = match (before, children_cpu()) {
        (Some(before), Some(after)) if !wall.is_zero() => {
            Some(after.saturating_sub(before).as_secs_f64() / wall.as_secs_f64())
        }
        _ => None,
    };
    Ok((output, cores))
}

/// User plus system time of all reaped children so far.
fn children_cpu() -> Option<Duration> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
    let time = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(t.tv_sec()).ok()?)
            .checked_add(Duration::from_micros(u64::try_from(t.tv_usec()).ok()?))
    };
    time(usage.user_time())?.checked_add(time(usage.system_time())?)
}

/// Reads requests/sec, the 50th and 99th percentile and the error counts from the output of
/// `wrk --latency`.
pub fn parse(output: &str) -> anyhow::Result<WrkResult> {
    let mut requests_per_sec = None;
    let mut p50_ms = None;
    let mut p99_ms = None;
    let mut requests = None;
    let mut non_2xx = 0;
    let mut socket_errors = 0;
    for line in output.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(value)) => {
                requests_per_sec = Some(value.parse().context("requests/sec")?);
            }
            (Some("50%"), Some(value)) => p50_ms = Some(duration_ms(value)?),
            (Some("99%"), Some(value)) => p99_ms = Some(duration_ms(value)?),
            (Some(count), Some("requests")) if line.contains(" requests in ") => {
                requests = Some(count.parse().context("request count")?);
            }
            _ if line.starts_with("Non-2xx or 3xx responses:") => {
                non_2xx = line
                    .rsplit(' ')
                    .next()
                    .unwrap_or_default()
                    .parse()
                    .context("non-2xx count")?;
            }
            _ if line.starts_with("Socket errors:") => {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                socket_errors = line
                    .trim_start_matches("Socket errors:")
                    .split(',')
                    .filter_map(|part| part.split_whitespace().nth(1))
                    .map(|n| n.parse::<u64>().context("socket error count"))
                    .sum::<anyhow::Result<u64>>()?;
            }
            _ => {}
        }
    }
    Ok(WrkResult {
        requests_per_sec: requests_per_sec.context("no Requests/sec line")?,
        p50_ms: p50_ms.context("no 50% line (was --latency given?)")?,
        p99_ms: p99_ms.context("no 99% line (was --latency given?)")?,
        requests: requests.context("no 'N requests in' line")?,
        non_2xx,
        socket_errors,
        load_cores: None,
    })
}

/// A wrk duration (`850.00us`, `1.23ms`, `1.02s`, `1.50m`) in milliseconds.
pub fn duration_ms(text: &str) -> anyhow::Result<f64> {
    // Longest suffixes first: "ms" and "us" also end in "s".
    const UNITS: [(&str, f64); 5] = [
        ("us", 0.001),
        ("ms", 1.0),
        ("s", 1000.0),
        ("m", 60_000.0),
        ("h", 3_600_000.0),
    ];
    for (suffix, factor) in UNITS {
        if let Some(number) = text.strip_suffix(suffix) {
            let value: f64 = number
                .parse()
                .with_context(|| format!("not a wrk duration: {text}"))?;
            return Ok(value * factor);
        }
    }
    bail!("not a wrk duration: {text}")
}

/// Reads `tps = N (without initial connection time)` from pgbench's report.
pub fn pgbench_tps(output: &str) -> anyhow::Result<f64> {
    output
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("tps = ") && line.contains("without initial connection"))
        .and_then(|line| line["tps = ".len()..].split_whitespace().next())
        .context("no 'tps = N (without initial connection time)' line")?
        .parse()
        .context("tps is not a number")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "Running 5s test @ http://127.0.0.1:40000/healthz
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   436.20us  156.09us   5.04ms   90.28%
    Req/Sec    73.71k     3.61k   78.97k    84.00%
  Latency Distribution
     50%  411.00us
     75%  453.00us
     90%  524.00us
     99%    1.05ms
  366665 requests in 5.00s, 45.41MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 12
Requests/sec:  73325.68
Transfer/sec:      9.08MB
";

    #[test]
    fn reads_a_wrk_report() {
        let result = parse(OUTPUT).unwrap();
        assert_eq!(result.requests_per_sec, 73325.68);
        assert!((result.p50_ms - 0.411).abs() < 1e-9);
        assert!((result.p99_ms - 1.05).abs() < 1e-9);
        assert_eq!(result.requests, 366665);
        assert_eq!(result.non_2xx, 12);
        assert_eq!(result.socket_errors, 5);
    }

    #[test]
    fn a_report_without_latency_distribution_is_an_error() {
        let without: String = OUTPUT
            .lines()
            .filter(|line| !line.trim_start().starts_with("50%"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(parse(&without).is_err());
    }

    #[test]
    fn reads_every_duration_unit() {
        assert!((duration_ms("850.00us").unwrap() - 0.85).abs() < 1e-9);
        assert!((duration_ms("1.23ms").unwrap() - 1.23).abs() < 1e-9);
        assert!((duration_ms("1.02s").unwrap() - 1020.0).abs() < 1e-9);
        assert!((duration_ms("2.00m").unwrap() - 120_000.0).abs() < 1e-9);
        assert!(duration_ms("12").is_err());
        assert!(duration_ms("fast").is_err());
    }

    #[test]
    fn reads_pgbench_tps() {
        let output = "transaction type: <builtin: select only>
scaling factor: 1
number of clients: 32
latency average = 0.760 ms
initial connection time = 25.617 ms
tps = 42096.316532 (without initial connection time)
";
        assert_eq!(pgbench_tps(output).unwrap(), 42096.316532);
        assert!(pgbench_tps("tps = 1 (including connections establishing)").is_err());
    }
}
