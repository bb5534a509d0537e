//! Baseline for durable writes: how many times a second one thread can append 512 bytes to a
//! file and `sync_data()` it, in a given directory (the SQLite database's, so the same disk).
//! A write the service commits with `synchronous = FULL` needs at least one such flush.
//!
//!     fsync-loop --dir DIR [--seconds N]     # prints `fsyncs_per_sec=N`

use std::fs::OpenOptions;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let mut dir = None;
    let mut seconds: u64 = 5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = args.next(),
            "--seconds" => seconds = args.next().context("--seconds needs a value")?.parse()?,
            other => bail!("unknown argument {other}; usage: fsync-loop --dir DIR [--seconds N]"),
        }
    }
    let dir = dir.context("usage: fsync-loop --dir DIR [--seconds N]")?;
    let path = std::path::Path::new(&dir).join(format!("fsync-loop-{}.tmp", std::process::id()));
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let block = [b'x'; 512];
    let duration = Duration::from_secs(seconds);
    let started = Instant::now();
    let mut syncs: u64 = 0;
    let result = (|| -> std::io::Result<()> {
        while started.elapsed() < duration {
            file.write_all(&block)?;
            // sync_data, like SQLite's fdatasync: the appended bytes and the new length.
            file.sync_data()?;
            syncs += 1;
        }
        Ok(())
    })();
    let elapsed = started.elapsed().as_secs_f64();
    drop(file);
    let _ = std::fs::remove_file(&path);
    result.with_context(|| format!("writing {}", path.display()))?;
    println!("fsyncs_per_sec={:.1}", syncs as f64 / elapsed);
    Ok(())
}
