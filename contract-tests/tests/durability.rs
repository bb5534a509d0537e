//! Durability on the engines that promise it: every write the server acknowledged (201, 204)
//! survives a SIGKILL in the middle of a stream of concurrent writes, exactly as it was sent.
//! After the restart nothing is half-written and nothing is there that was never sent.
//!
//! Each writer owns the entries it creates, one request at a time, so what may be stored for an
//! entry is known exactly: its last acknowledged content, or the content of the one write to it
//! that was still in flight when the server died (which may or may not have landed).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use contract_tests::fixtures::{self, as_stored, content_of, content_of_json};
use contract_tests::{Store, TestServer, send};
use serde_json::{Value, json};
use uuid::Uuid;

contract_tests::engines!(durable: acknowledged_writes_survive_sigkill_exactly_as_sent);

/// Concurrent writers, each with its own entries.
const WRITERS: usize = 8;
/// Acknowledged writes after which the server is killed, while the writers go on writing.
const ACKED_BEFORE_KILL: usize = 150;
/// How long the server may take to acknowledge them.
const WRITE_PHASE_LIMIT: Duration = Duration::from_secs(30);
/// Replaces of each entry after its create.
const REPLACES_PER_ENTRY: usize = 2;
/// A writer never sends more than this many requests, whatever happens.
const MAX_REQUESTS_PER_WRITER: usize = 10_000;

async fn acknowledged_writes_survive_sigkill_exactly_as_sent(store: Store) {
    // Arrange: a server, and writers sending creates and replaces until it dies.
    let mut server = store.start().await;
    let acked = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a reqwest client builds");
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let writer = Writer {
                number: writer,
                http: http.clone(),
                base_url: server.base_url().to_owned(),
                acked: acked.clone(),
                killed: killed.clone(),
            };
            tokio::spawn(writer.write_until_killed())
        })
        .collect();

    // Act: SIGKILL once enough writes are acknowledged, with more on their way.
    let deadline = Instant::now() + WRITE_PHASE_LIMIT;
    while acked.load(Ordering::SeqCst) < ACKED_BEFORE_KILL && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let acked_at_kill = acked.load(Ordering::SeqCst);
    killed.store(true, Ordering::SeqCst);
    server.kill().await;
    assert!(
        acked_at_kill >= ACKED_BEFORE_KILL,
        "only {acked_at_kill} writes acknowledged within {WRITE_PHASE_LIMIT:?}\n{}",
        server.logs()
    );
    let mut logs = Vec::new();
    for writer in writers {
        let log = tokio::time::timeout(Duration::from_secs(15), writer)
            .await
            .expect("every writer stops once the server is gone")
            .expect("a writer does not panic");
        logs.push(log);
    }
    let unexpected: Vec<&String> = logs.iter().flat_map(|log| &log.unexpected).collect();
    assert!(
        unexpected.is_empty(),
        "answers other than 201/204 before the kill: {unexpected:#?}\n{}",
        server.logs()
    );

    // Assert: on a new server on the same store, every entry is in one of its allowed states.
    let restarted = store.start().await;
    let listed = fixtures::list_all(&restarted.client()).await;
    let mut unknown: HashMap<Uuid, Value> = listed
        .iter()
        .map(|entry| (entry.id, content_of(entry)))
        .collect();
    let mut landed_in_flight = 0;
    for log in &logs {
        for entry in &log.entries {
            let stored = read_content(&restarted, entry.id).await;
            let mut allowed = std::iter::once(&entry.acked).chain(&entry.in_flight);
            assert!(
                allowed.any(|content| as_stored(content) == stored),
                "entry {} of writer {} holds {stored:#}, which is neither its last acknowledged \
                 content {:#} nor the write in flight at the kill {:#?}",
                entry.id,
                log.writer,
                entry.acked,
                entry.in_flight
            );
            if entry
                .in_flight
                .as_ref()
                .is_some_and(|content| as_stored(content) == stored && *content != entry.acked)
            {
                landed_in_flight += 1;
            }
            let listed = unknown.remove(&entry.id);
            assert_eq!(
                listed.as_ref(),
                Some(&stored),
                "entry {}: the list and a read disagree",
                entry.id
            );
        }
    }
    // What is left can only be creates that were in flight, each stored at most once.
    let mut in_flight_creates: Vec<Value> = logs
        .iter()
        .filter_map(|log| log.create_in_flight.as_ref().map(as_stored))
        .collect();
    for (id, content) in &unknown {
        let position = in_flight_creates.iter().position(|sent| sent == content);
        let Some(position) = position else {
            panic!("entry {id} holds {content:#}, which was never sent");
        };
        in_flight_creates.swap_remove(position);
        landed_in_flight += 1;
    }

    let acked_creates: usize = logs.iter().map(|log| log.acked_creates).sum();
    let acked_replaces: usize = logs.iter().map(|log| log.acked_replaces).sum();
    let in_flight = logs.iter().filter(|log| log.had_write_in_flight()).count();
    println!(
        "durability ({}): {acked_creates} creates and {acked_replaces} replaces acknowledged \
         ({acked_at_kill} when the kill was sent), {in_flight} writes in flight at the kill, \
         {landed_in_flight} of them stored; {} entries found after the restart",
        store.engine(),
        listed.len()
    );
    assert_eq!(listed.len(), acked_creates + unknown.len());

    // The store still takes writes after its recovery.
    let created = send(
        restarted
            .http()
            .post(restarted.url("/addresses"))
            .json(&json!({"full_name": "After The Crash"})),
    )
    .await;
    created.expect_json(201);
}

/// The content of entry `id`, read raw: what the server sends, byte for byte.
async fn read_content(server: &TestServer, id: Uuid) -> Value {
    let reply = send(server.http().get(server.url(&format!("/addresses/{id}")))).await;
    let entry = reply.expect_json(200);
    content_of_json(&entry)
}

/// One writer: creates an entry, replaces it a few times, creates the next, until a request
/// gets no answer because the server is gone.
struct Writer {
    number: usize,
    http: reqwest::Client,
    base_url: String,
    acked: Arc<AtomicUsize>,
    killed: Arc<AtomicBool>,
}

/// What one writer did.
#[derive(Debug, Default)]
struct WriterLog {
    writer: usize,
    entries: Vec<EntryLog>,
    /// A create that got no answer: perhaps stored, under an id the writer never learned.
    create_in_flight: Option<Value>,
    acked_creates: usize,
    acked_replaces: usize,
    /// Answers that should not have happened before the kill.
    unexpected: Vec<String>,
}

impl WriterLog {
    fn had_write_in_flight(&self) -> bool {
        self.create_in_flight.is_some() || self.entries.iter().any(|e| e.in_flight.is_some())
    }
}

/// One entry a writer created.
#[derive(Debug)]
struct EntryLog {
    id: Uuid,
    /// The content of the last acknowledged write (the create or a replace).
    acked: Value,
    /// A replace that got no answer.
    in_flight: Option<Value>,
}

/// How a write ended.
enum Outcome {
    /// 201 with the new entry's id, or 204.
    Acked(Option<Uuid>),
    /// No answer, after the kill: the write may or may not have been stored.
    Lost,
    /// Anything else; the writer stops.
    Unexpected(String),
    /// The server was killed before this write was sent; it was not.
    NotSent,
}

impl Writer {
    async fn write_until_killed(self) -> WriterLog {
        let mut log = WriterLog {
            writer: self.number,
            ..WriterLog::default()
        };
        let mut requests = 0;
        for entry in 0.. {
            let content = entry_content(self.number, entry, 0);
            let id = match self.create(&content).await {
                Outcome::Acked(id) => id.expect("a 201 names its entry"),
                Outcome::Lost => {
                    log.create_in_flight = Some(content);
                    return log;
                }
                Outcome::Unexpected(what) => {
                    log.unexpected.push(what);
                    return log;
                }
                Outcome::NotSent => return log,
            };
            log.acked_creates += 1;
            log.entries.push(EntryLog {
                id,
                acked: content,
                in_flight: None,
            });
            let entry_log = log.entries.last_mut().expect("just pushed");
            for version in 1..=REPLACES_PER_ENTRY {
                let content = entry_content(self.number, entry, version);
                match self.replace(id, &content).await {
                    Outcome::Acked(_) => {
                        log.acked_replaces += 1;
                        entry_log.acked = content;
                    }
                    Outcome::Lost => {
                        entry_log.in_flight = Some(content);
                        return log;
                    }
                    Outcome::Unexpected(what) => {
                        log.unexpected.push(what);
                        return log;
                    }
                    Outcome::NotSent => return log,
                }
            }
            requests += 1 + REPLACES_PER_ENTRY;
            if requests >= MAX_REQUESTS_PER_WRITER {
                log.unexpected.push(format!(
                    "writer {} sent {requests} requests and the server was still not killed",
                    self.number
                ));
                return log;
            }
        }
        unreachable!("the loop returns")
    }

    async fn create(&self, content: &Value) -> Outcome {
        if self.killed.load(Ordering::SeqCst) {
            return Outcome::NotSent;
        }
        let request = self
            .http
            .post(format!("{}/addresses", self.base_url))
            .json(content);
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return self.no_answer("POST", &err),
        };
        let status = response.status().as_u16();
        let body = response.bytes().await;
        match (status, body) {
            (201, Ok(body)) => {
                let entry: Value = match serde_json::from_slice(&body) {
                    Ok(entry) => entry,
                    Err(err) => return Outcome::Unexpected(format!("POST → 201, not JSON: {err}")),
                };
                if content_of_json(&entry) != as_stored(content) {
                    return Outcome::Unexpected(format!("POST {content} → 201 {entry}"));
                }
                let id = entry["id"].as_str().and_then(|id| id.parse().ok());
                self.acked.fetch_add(1, Ordering::SeqCst);
                Outcome::Acked(id)
            }
            // The status line arrived but the body did not: the write is done, but unconfirmed.
            (201, Err(err)) => self.no_answer("POST", &err),
            (status, body) => Outcome::Unexpected(format!(
                "POST → {status} {}",
                body.map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            )),
        }
    }

    async fn replace(&self, id: Uuid, content: &Value) -> Outcome {
        if self.killed.load(Ordering::SeqCst) {
            return Outcome::NotSent;
        }
        let request = self
            .http
            .put(format!("{}/addresses/{id}", self.base_url))
            .json(content);
        match request.send().await {
            Ok(response) if response.status().as_u16() == 204 => {
                self.acked.fetch_add(1, Ordering::SeqCst);
                Outcome::Acked(None)
            }
            Ok(response) => Outcome::Unexpected(format!(
                "PUT /addresses/{id} → {} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            )),
            Err(err) => self.no_answer("PUT", &err),
        }
    }

    /// A request that got no (complete) answer: expected once the server is killed, a failure
    /// before.
    fn no_answer(&self, method: &str, err: &reqwest::Error) -> Outcome {
        if self.killed.load(Ordering::SeqCst) {
            Outcome::Lost
        } else {
            Outcome::Unexpected(format!("{method}: no answer before the kill: {err:?}"))
        }
    }
}

/// Distinct, valid content for version `version` of entry `entry` of writer `writer`. Every
/// field carries the same tag, and the sizes differ between versions, so a write that was cut
/// short or mixed with another cannot pass for one that was sent.
fn entry_content(writer: usize, entry: usize, version: usize) -> Value {
    let tag = format!("w{writer}-e{entry}-v{version}");
    json!({
        "full_name": format!("Writer {writer} Entry {entry} Version {version} — Ørsted ✓"),
        "addresses": [{
            "kind": "home",
            "building_name": format!("Haus {}", "ß".repeat(1 + (entry * 7 + version * 13) % 60)),
            "street_name": format!("Street {tag}"),
            "city": format!("City {tag}"),
            "pincode": format!("P{writer}{entry:05}{version}"),
            "country": "Iceland"
        }],
        "phone_numbers": [{
            "kind": "mobile",
            "country_code": 354,
            "local_number": format!("{writer}{entry:06}{version}")
        }],
        "emails": (0..=version)
            .map(|n| json!({"kind": "work", "email": format!("{tag}.{n}@example.org")}))
            .collect::<Vec<_>>()
    })
}
