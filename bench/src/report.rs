//! The results: markdown tables for a person, the same numbers as JSON for later comparison.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::loadgen::WrkResult;

/// One measured side of a row, or why there is no number.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Requests (or fsyncs, or transactions) per second, with latencies where the tool gives them.
    Measured {
        rate: f64,
        unit: &'static str,
        p50_ms: Option<f64>,
        p99_ms: Option<f64>,
    },
    /// Not measured; the text says why (shown in the table).
    NotAvailable(String),
}

impl Outcome {
    pub fn from_wrk(result: &WrkResult) -> Self {
        Outcome::Measured {
            rate: result.requests_per_sec,
            unit: "req/s",
            p50_ms: Some(result.p50_ms),
            p99_ms: Some(result.p99_ms),
        }
    }

    pub fn rate(rate: f64, unit: &'static str) -> Self {
        Outcome::Measured {
            rate,
            unit,
            p50_ms: None,
            p99_ms: None,
        }
    }

    fn rate_value(&self) -> Option<f64> {
        match self {
            Outcome::Measured { rate, .. } => Some(*rate),
            Outcome::NotAvailable(_) => None,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Outcome::Measured {
                rate,
                unit,
                p50_ms,
                p99_ms,
            } => json!({"rate": rate, "unit": unit, "p50_ms": p50_ms, "p99_ms": p99_ms}),
            Outcome::NotAvailable(reason) => json!({"not_available": reason}),
        }
    }
}

/// A scenario on one engine beside one baseline (a scenario with two baselines has two rows).
#[derive(Clone, Debug)]
pub struct Row {
    pub scenario: String,
    pub engine: &'static str,
    pub service: Outcome,
    /// What the service is compared with; empty when nothing is.
    pub baseline: String,
    pub baseline_outcome: Option<Outcome>,
}

impl Row {
    /// Service rate over baseline rate.
    pub fn ratio(&self) -> Option<f64> {
        let service = self.service.rate_value()?;
        let baseline = self.baseline_outcome.as_ref()?.rate_value()?;
        (baseline > 0.0).then(|| service / baseline)
    }
}

/// One request on the big book, measured one at a time, beside page 1 of the small book.
#[derive(Clone, Debug)]
pub struct SizeRow {
    pub engine: &'static str,
    pub request: String,
    pub big: Outcome,
    /// p50 of page 1 on the BENCH_ENTRIES book, measured the same way.
    pub small_page1_p50_ms: Option<f64>,
}

impl SizeRow {
    pub fn ratio(&self) -> Option<f64> {
        match (&self.big, self.small_page1_p50_ms) {
            (
                Outcome::Measured {
                    p50_ms: Some(big), ..
                },
                Some(small),
            ) if small > 0.0 => Some(big / small),
            _ => None,
        }
    }
}

/// How busy each side was during one load run, in cores (1.0: busy throughout). A side near
/// 1.0 was the limit; the server's figure is its process only (not PostgreSQL's).
#[derive(Clone, Debug)]
pub struct CpuRow {
    pub run: String,
    pub engine: &'static str,
    pub server_cores: Option<f64>,
    pub load_cores: Option<f64>,
    /// The rest of each core's busy time: other processes, PostgreSQL, the hypervisor.
    pub others: [Option<f64>; 2],
    /// PostgreSQL's processes are part of what was measured, so they are among the others.
    pub with_postgres: bool,
}

/// Other work above this share of a core makes a run's numbers suspect.
pub const NOISE_CORES: f64 = 0.1;

impl CpuRow {
    /// Whether something outside the measurement took a noticeable share of either core.
    pub fn noisy(&self) -> bool {
        !self.with_postgres && self.others.iter().flatten().any(|o| *o > NOISE_CORES)
    }
}

/// Everything one run measured.
#[derive(Debug, Default)]
pub struct Report {
    pub commit: String,
    /// When the run started, in seconds since the Unix epoch.
    pub started_unix: u64,
    pub seconds: u64,
    pub entries: usize,
    pub big_entries: usize,
    pub rows: Vec<Row>,
    pub size_rows: Vec<SizeRow>,
    /// Engine, and resident memory of the big-book server after its requests.
    pub resident_kib: Vec<(&'static str, Option<u64>)>,
    pub cpu: Vec<CpuRow>,
    /// Things a reader must know to trust the numbers (errors during runs).
    pub notes: Vec<String>,
    /// Start-up to ready, each run, in milliseconds.
    pub startup_ms: Vec<f64>,
    pub elapsed_secs: f64,
}

pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

fn ms(value: Option<f64>) -> String {
    match value {
        Some(v) if v < 10.0 => format!("{v:.2} ms"),
        Some(v) => format!("{v:.1} ms"),
        None => "—".to_owned(),
    }
}

fn rate(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Measured { rate, unit, .. } if *unit == "req/s" => format!("{rate:.0}"),
        Outcome::Measured { rate, unit, .. } => format!("{rate:.0} {unit}"),
        Outcome::NotAvailable(reason) => reason.clone(),
    }
}

fn latencies(outcome: &Outcome) -> (Option<f64>, Option<f64>) {
    match outcome {
        Outcome::Measured { p50_ms, p99_ms, .. } => (*p50_ms, *p99_ms),
        Outcome::NotAvailable(_) => (None, None),
    }
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |r| format!("{r:.2}"))
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Server at commit {}; {} s per wrk run, {} entries (big book: {}).\n",
            self.commit, self.seconds, self.entries, self.big_entries
        );
        out.push_str(
            "| scenario | engine | req/s | p50 | p99 | baseline | baseline req/s | ratio |\n",
        );
        out.push_str("|---|---|---:|---:|---:|---|---:|---:|\n");
        for row in &self.rows {
            let (p50, p99) = latencies(&row.service);
            let baseline = if row.baseline.is_empty() {
                "—"
            } else {
                &row.baseline
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                row.scenario,
                row.engine,
                rate(&row.service),
                ms(p50),
                ms(p99),
                baseline,
                row.baseline_outcome
                    .as_ref()
                    .map_or_else(|| "—".to_owned(), rate),
                ratio(row.ratio()),
            );
        }
        if !self.size_rows.is_empty() {
            let _ = writeln!(
                out,
                "\nCost per request, one connection (`wrk -c1 -d3s`), on {} entries, \
                 beside page 1 on {} entries:\n",
                self.big_entries, self.entries
            );
            let _ = writeln!(
                out,
                "| request | engine | p50 | p99 | req/s | page 1 p50, {} entries | ratio |",
                self.entries
            );
            out.push_str("|---|---|---:|---:|---:|---:|---:|\n");
            for row in &self.size_rows {
                let (p50, p99) = latencies(&row.big);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    row.request,
                    row.engine,
                    ms(p50),
                    ms(p99),
                    rate(&row.big),
                    ms(row.small_page1_p50_ms),
                    ratio(row.ratio()),
                );
            }
        }
        if !self.cpu.is_empty() {
            out.push_str(
                "\nCPU used during each load run, in cores (1.00: busy the whole run; \
                 the server's figure leaves out PostgreSQL's own processes):\n\n",
            );
            out.push_str(
                "| run | engine | server (core 0) | load generator (core 1) \
                 | others on core 0 | others on core 1 |\n",
            );
            out.push_str("|---|---|---:|---:|---:|---:|\n");
            let cores = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |c| format!("{c:.2}"));
            for row in &self.cpu {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    row.run,
                    row.engine,
                    cores(row.server_cores),
                    cores(row.load_cores),
                    cores(row.others[0]),
                    cores(row.others[1]),
                );
            }
            let noisy = self.cpu.iter().filter(|row| row.noisy()).count();
            if noisy > 0 {
                let _ = writeln!(
                    out,
                    "\n{noisy} of {} runs shared a core with other work (more than \
                     {NOISE_CORES:.2} of a core not used by the server or the load generator, \
                     PostgreSQL aside): their numbers are lower than on a quiet machine.",
                    self.cpu.len()
                );
            }
        }
        out.push('\n');
        for (engine, kib) in &self.resident_kib {
            let _ = writeln!(
                out,
                "Server resident memory ({engine}, {} entries, after the requests above): {}",
                self.big_entries,
                kib.map_or_else(
                    || "unknown".to_owned(),
                    |k| format!("{:.1} MiB", k as f64 / 1024.0)
                )
            );
        }
        let _ = writeln!(
            out,
            "Start-up to ready (SQLite, existing {}-entry file, median of {}): {} (runs: {})",
            self.entries,
            self.startup_ms.len(),
            ms(median(&self.startup_ms)),
            self.startup_ms
                .iter()
                .map(|v| format!("{v:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(out, "Whole run: {:.0} s", self.elapsed_secs);
        for note in &self.notes {
            let _ = writeln!(out, "\nNote: {note}");
        }
        out
    }

    pub fn to_json(&self) -> Value {
        json!({
            "commit": self.commit,
            "started_unix": self.started_unix,
            "settings": {
                "bench_seconds": self.seconds,
                "bench_entries": self.entries,
                "bench_big_entries": self.big_entries,
            },
            "scenarios": self.rows.iter().map(|row| json!({
                "scenario": row.scenario,
                "engine": row.engine,
                "service": row.service.to_json(),
                "baseline": row.baseline,
                "baseline_result": row.baseline_outcome.as_ref().map(Outcome::to_json),
                "ratio": row.ratio(),
            })).collect::<Vec<_>>(),
            "size_independence": self.size_rows.iter().map(|row| json!({
                "request": row.request,
                "engine": row.engine,
                "big_book": row.big.to_json(),
                "small_book_page1_p50_ms": row.small_page1_p50_ms,
                "ratio": row.ratio(),
            })).collect::<Vec<_>>(),
            "resident_kib": self.resident_kib.iter()
                .map(|(engine, kib)| json!({"engine": engine, "kib": kib}))
                .collect::<Vec<_>>(),
            "cpu_cores": self.cpu.iter().map(|row| json!({
                "run": row.run,
                "engine": row.engine,
                "server": row.server_cores,
                "load_generator": row.load_cores,
                "others_core0": row.others[0],
                "others_core1": row.others[1],
                "with_postgres": row.with_postgres,
                "noisy": row.noisy(),
            })).collect::<Vec<_>>(),
            "notes": self.notes,
            "startup_ms": {
                "median": median(&self.startup_ms),
                "runs": self.startup_ms,
            },
            "elapsed_secs": self.elapsed_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn a_row_without_a_measured_baseline_has_no_ratio() {
        let row = Row {
            scenario: "POST /addresses".into(),
            engine: "sqlite",
            service: Outcome::rate(1000.0, "req/s"),
            baseline: "synchronous=off".into(),
            baseline_outcome: Some(Outcome::NotAvailable("n/a".into())),
        };
        assert_eq!(row.ratio(), None);
        let measured = Row {
            baseline_outcome: Some(Outcome::rate(4000.0, "fsyncs/s")),
            ..row
        };
        assert_eq!(measured.ratio(), Some(0.25));
        let table = Report {
            rows: vec![measured],
            ..Report::default()
        }
        .markdown();
        assert!(table.contains("| POST /addresses | sqlite | 1000 | — | — |"));
        assert!(table.contains("| 4000 fsyncs/s | 0.25 |"));
    }
}
