//! Benchmark: what listing, paging and searching cost on a book of realistic size, per engine.
//! Prints numbers; asserts nothing (targets belong in numbers a person reads, not in timed tests).
//!
//!     cargo bench -p contract-tests --bench listing            # 10,000 entries per engine
//!     BENCH_ENTRIES=50000 cargo bench -p contract-tests --bench listing
//!
//! It starts the release server binary on each engine (PostgreSQL when reachable), loads the
//! book through the API, then times each request kind over many runs. "page N" fetches a page
//! deep into the walk with its cursor: with keyset pagination on an index it should cost the same
//! as page 1, however deep.

use std::time::{Duration, Instant};

use contract_tests::store::{Engine, Store};
use futures::StreamExt;
use serde_json::{Value, json};

const RUNS: usize = 200;
const LOADERS: usize = 16;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let entries: usize = std::env::var("BENCH_ENTRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    println!(
        "{entries} entries per engine, {RUNS} runs per request kind; latencies in milliseconds\n"
    );
    println!(
        "{:<10} {:<34} {:>8} {:>8} {:>8}",
        "engine", "request", "p50", "p95", "max"
    );
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let Some(store) = Store::new(engine).await else {
            println!("{engine:?}: skipped, no database");
            continue;
        };
        // Logs stay at info, as in production: one line per request is part of the cost.
        let server = store.start().await;
        let http = server.http();
        let base = server.base_url().to_owned();

        let started = Instant::now();
        futures::stream::iter(0..entries)
            .map(|i| {
                let http = http.clone();
                let url = format!("{base}/addresses");
                async move {
                    let response = http.post(url).json(&entry(i)).send().await.expect("create");
                    assert_eq!(response.status(), 201, "create {i}");
                }
            })
            .buffer_unordered(LOADERS)
            .collect::<Vec<_>>()
            .await;
        let load = started.elapsed();
        println!(
            "{:<10} {:<34} {:>8.0} creates/s over {LOADERS} connections",
            format!("{engine:?}"),
            "load",
            entries as f64 / load.as_secs_f64()
        );

        // A cursor half-way through the default order, and one half-way through by name.
        let deep_default = cursor_at(&http, &base, "", entries / 2).await;
        let deep_by_name = cursor_at(&http, &base, "&sort=-full_name", entries / 2).await;
        let kinds = [
            ("page 1", "/addresses?limit=20".to_owned()),
            (
                "page N (half-way)",
                format!("/addresses?limit=20&cursor={deep_default}"),
            ),
            (
                "page 1 by -full_name",
                "/addresses?limit=20&sort=-full_name".to_owned(),
            ),
            (
                "page N by -full_name",
                format!("/addresses?limit=20&sort=-full_name&cursor={deep_by_name}"),
            ),
            (
                "search one e-mail",
                "/addresses?q=person4242%40example.org".to_owned(),
            ),
            (
                "search a common prefix",
                "/addresses?q=ada&limit=20".to_owned(),
            ),
            (
                "search phone digits",
                "/addresses?q=%2B44%2020%20555&limit=20".to_owned(),
            ),
            (
                "city filter + sort by name",
                "/addresses?city=tokyo&sort=full_name&limit=20".to_owned(),
            ),
            ("liveness probe (no storage)", "/healthz".to_owned()),
        ];
        for (name, path) in kinds {
            let mut times = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                let started = Instant::now();
                let response = http
                    .get(format!("{base}{path}"))
                    .send()
                    .await
                    .expect("request");
                assert_eq!(response.status(), 200, "{name}: {path}");
                response.bytes().await.expect("body");
                times.push(started.elapsed());
            }
            print_row(engine, name, &mut times);
        }
        if let Some(rss) = resident_kib(server.pid()) {
            println!(
                "{:<10} {:<34} {:>8} KiB",
                format!("{engine:?}"),
                "server resident memory",
                rss
            );
        }
        println!();
    }
}

/// A varied entry; entry `i` has the e-mail `person{i}@example.org`.
fn entry(i: usize) -> Value {
    const FIRST: [&str; 8] = [
        "Ada", "Alan", "Grace", "Linus", "Priya", "Wanjiru", "Jürgen", "山田",
    ];
    const CITIES: [(&str, &str); 4] = [
        ("London", "United Kingdom"),
        ("Tokyo", "Japan"),
        ("Nairobi", "Kenya"),
        ("Munich", "Germany"),
    ];
    let (city, country) = CITIES[i % CITIES.len()];
    json!({
        "full_name": format!("{} Person{i}", FIRST[i % FIRST.len()]),
        "addresses": [{"street_name": "Main Street", "city": city, "pincode": format!("{:05}", i % 100_000), "country": country}],
        "emails": [{"email": format!("person{i}@example.org")}],
        "phone_numbers": [{"country_code": 44, "area_code": "020", "local_number": format!("555{i:04}")}]
    })
}

/// The cursor after `skip` entries of the listing with `extra` query parameters.
async fn cursor_at(http: &reqwest::Client, base: &str, extra: &str, skip: usize) -> String {
    let mut cursor: Option<String> = None;
    let mut seen = 0;
    while seen < skip {
        let mut url = format!("{base}/addresses?limit=100{extra}");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = http
            .get(url)
            .send()
            .await
            .expect("page")
            .json()
            .await
            .expect("json");
        seen += page["items"].as_array().map_or(0, Vec::len);
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    cursor.expect("the book is longer than the skip")
}

fn print_row(engine: Engine, name: &str, times: &mut [Duration]) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "{:<10} {:<34} {:>8.2} {:>8.2} {:>8.2}",
        format!("{engine:?}"),
        name,
        ms(at(0.5)),
        ms(at(0.95)),
        ms(times[times.len() - 1])
    );
}

fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
