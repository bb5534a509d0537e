//! The one writer of the SQLite engine: a thread that owns the only writing connection and
//! commits every write waiting at that moment in one transaction (group commit: one fsync for
//! all of them).
//!
//! Each write runs in a savepoint of its own, so one that fails for its own reasons (a
//! constraint, bad data) is rolled back alone and the others commit. A fault of the storage
//! itself (a full disk, an I/O error, a read-only file, a lock held by another process) rolls the
//! whole group back, answers every write in it with the error and throws the connection away: no
//! connection is used again in a transaction state nobody knows. Nothing is acknowledged before
//! its group's `COMMIT` returned and the file committed to is still the one at the configured
//! path.
//!
//! Between groups the thread watches the file: whether it is still the file at the path, and,
//! while writes fail, whether a small write succeeds again, so the service recovers by itself
//! once the fault is gone.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::file::{FileId, Health, wal_path};
use super::{Role, classify, is_fault, open_connection};
use crate::config::SqliteSettings;
use crate::storage::StorageError;

/// At most this many writes share one transaction: a bound on how long the first waits.
const MAX_GROUP: usize = 256;
/// Writes waiting beyond this many are refused at once (503) rather than queued without bound.
const MAX_WAITING: usize = 8_192;
/// How often the thread looks at the file between writes, and retries a failed write.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// One write, as the writer thread runs it.
trait Job: Send {
    /// Runs inside the group's transaction, in a savepoint of its own.
    fn run(&mut self, conn: &Connection) -> rusqlite::Result<()>;
    /// Answers the request: with its outcome when `result` is `Ok` (its group committed).
    fn answer(self: Box<Self>, result: Result<(), StorageError>);

    /// Whether nobody waits for the answer any more (the request was cancelled, its client
    /// gone, its deadline past): such a write is not made.
    fn abandoned(&self) -> bool;
}

type Work<T> = Box<dyn FnOnce(&Connection) -> rusqlite::Result<T> + Send>;

struct Task<T> {
    work: Option<Work<T>>,
    outcome: Option<T>,
    reply: oneshot::Sender<Result<T, StorageError>>,
}

impl<T: Send> Job for Task<T> {
    fn run(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let work = self.work.take().expect("a job runs once");
        self.outcome = Some(work(conn)?);
        Ok(())
    }

    fn answer(self: Box<Self>, result: Result<(), StorageError>) {
        let Task { outcome, reply, .. } = *self;
        let answer = result.and_then(|()| {
            outcome
                .ok_or_else(|| StorageError::Internal("a write was answered before it ran".into()))
        });
        // The request may have gone (its client left); the write stands or falls regardless.
        let _ = reply.send(answer);
    }

    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }
}

/// Hands writes to the writer thread. Dropping it stops the thread once its queue is empty.
pub struct Writer {
    jobs: SyncSender<Box<dyn Job>>,
}

impl Writer {
    pub fn start(settings: &SqliteSettings, health: Arc<Health>) -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::sync_channel(MAX_WAITING);
        let thread = WriterThread {
            settings: settings.clone(),
            path: settings.path.clone(),
            health,
            conn: None,
            database: None,
            wal: None,
        };
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || thread.run(queue))?;
        Ok(Self { jobs })
    }

    /// Runs `work` in the next group and answers once that group committed (or failed).
    pub async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StorageError> {
        let (reply, answer) = oneshot::channel();
        let task = Task {
            work: Some(Box::new(work)),
            outcome: None,
            reply,
        };
        self.jobs
            .try_send(Box::new(task))
            .map_err(|err| match err {
                TrySendError::Full(_) => {
                    StorageError::Unavailable("too many writes are waiting for the disk".into())
                }
                TrySendError::Disconnected(_) => {
                    StorageError::Unavailable("the database writer has stopped".into())
                }
            })?;
        answer.await.map_err(|_| {
            StorageError::Internal("the database writer dropped a write unanswered".into())
        })?
    }
}

struct WriterThread {
    settings: SqliteSettings,
    path: PathBuf,
    health: Arc<Health>,
    /// The writing connection; `None` after a fault, until the next write opens a new one.
    conn: Option<Connection>,
    /// The database file and its write-ahead log as they were when the writer first opened them.
    database: Option<FileId>,
    wal: Option<FileId>,
}

impl WriterThread {
    fn run(mut self, queue: Receiver<Box<dyn Job>>) {
        let mut watched = Instant::now();
        loop {
            match queue.recv_timeout(WATCH_EVERY) {
                Ok(first) => {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match queue.try_recv() {
                            Ok(job) => group.push(job),
                            Err(_) => break,
                        }
                    }
                    group.retain(|job| !job.abandoned());
                    if !group.is_empty() {
                        self.commit(group);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if watched.elapsed() >= WATCH_EVERY {
                self.watch();
                watched = Instant::now();
            }
        }
        if let Some(conn) = self.conn.take() {
            // Planner statistics for the next start; nothing is lost if it fails.
            let _ = conn.execute_batch("PRAGMA optimize");
        }
    }

    /// Checks that the file is still the one at the path and, while writes fail, tries one.
    fn watch(&mut self) {
        let _ = self.check_attached();
        if self.health.has_write_fault() && !self.health.is_detached() {
            let probe = Task {
                work: Some(Box::new(|conn: &Connection| {
                    conn.prepare_cached("UPDATE storage_probe SET written_at = ?1 WHERE id = 1")?
                        .execute([crate::domain::now().timestamp_micros()])?;
                    Ok(())
                })),
                outcome: None,
                reply: oneshot::channel().0,
            };
            self.commit(vec![Box::new(probe)]);
        }
    }

    /// Whether the files at the path are the ones the writer has open; records them the first
    /// time it sees them.
    fn check_attached(&mut self) -> Result<(), StorageError> {
        let database = FileId::of(&self.path).ok();
        let wal = FileId::of(&wal_path(&self.path)).ok();
        let attached = match (self.database, database) {
            (None, _) => true,
            (Some(open), now) => Some(open) == now && (self.wal.is_none() || self.wal == wal),
        };
        self.health.set_detached(!attached);
        self.health.attached()
    }

    fn connection(&mut self) -> Result<&Connection, StorageError> {
        if self.conn.is_none() {
            let conn =
                open_connection(&self.path, &self.settings, Role::Writer).map_err(classify)?;
            // A new connection after a fault must still be on the file the server started with.
            let opened =
                FileId::of(&self.path).map_err(|err| StorageError::Unavailable(err.into()))?;
            match self.database {
                None => self.database = Some(opened),
                Some(first) if first != opened => {
                    self.health.set_detached(true);
                    return Err(StorageError::Unavailable(
                        "the database file was replaced".into(),
                    ));
                }
                Some(_) => {}
            }
            self.conn = Some(conn);
        }
        Ok(self.conn.as_ref().expect("opened above"))
    }

    /// Runs `group` in one transaction and answers every job in it.
    fn commit(&mut self, group: Vec<Box<dyn Job>>) {
        if let Err(err) = self.check_attached() {
            return answer_all(group, &err);
        }
        let done = match self.run_group(group) {
            Ok(done) => done,
            Err((done, err)) => {
                self.fault(&err);
                return answer_all(done, &err);
            }
        };
        // Committed; but if the file was removed or replaced meanwhile, the commit went to a file
        // nobody will read again, so it is not acknowledged.
        if let Err(err) = self.check_attached() {
            return answer_all(done, &err);
        }
        if self.wal.is_none() {
            self.wal = FileId::of(&wal_path(&self.path)).ok();
        }
        self.health.write_succeeded();
        for job in done {
            job.answer(Ok(()));
        }
    }

    /// The group's transaction. On a fault, every job that has not been answered comes back
    /// with the error.
    #[allow(clippy::type_complexity)]
    fn run_group(
        &mut self,
        group: Vec<Box<dyn Job>>,
    ) -> Result<Vec<Box<dyn Job>>, (Vec<Box<dyn Job>>, StorageError)> {
        let conn = match self.connection() {
            Ok(conn) => conn,
            Err(err) => return Err((group, err)),
        };
        if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
            return Err((group, classify(err)));
        }
        let mut done: Vec<Box<dyn Job>> = Vec::with_capacity(group.len());
        let mut jobs = group.into_iter();
        while let Some(mut job) = jobs.next() {
            let step = conn
                .execute_batch("SAVEPOINT job")
                .and_then(|()| job.run(conn));
            let outcome = match step {
                Ok(()) => conn.execute_batch("RELEASE job"),
                Err(err) if !is_fault(&err) => {
                    // This write's own failure: undo it alone, answer it, go on with the others.
                    let undone = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                    job.answer(Err(classify(err)));
                    match undone {
                        Ok(()) => continue,
                        Err(err) => {
                            let _ = conn.execute_batch("ROLLBACK");
                            return Err((done.into_iter().chain(jobs).collect(), classify(err)));
                        }
                    }
                }
                Err(err) => Err(err),
            };
            match outcome {
                Ok(()) => done.push(job),
                Err(err) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    let unanswered = done.into_iter().chain(std::iter::once(job)).chain(jobs);
                    return Err((unanswered.collect(), classify(err)));
                }
            }
        }
        if let Err(err) = conn.execute_batch("COMMIT") {
            let _ = conn.execute_batch("ROLLBACK");
            return Err((done, classify(err)));
        }
        Ok(done)
    }

    /// After a fault the connection is thrown away; the next write opens a new one.
    fn fault(&mut self, err: &StorageError) {
        self.conn = None;
        if !matches!(err, StorageError::Internal(_)) {
            self.health.write_failed(crate::telemetry::chain(err));
        }
    }
}

fn answer_all(jobs: Vec<Box<dyn Job>>, err: &StorageError) {
    for job in jobs {
        job.answer(Err(err.duplicate()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(dir: &tempfile::TempDir) -> (Writer, PathBuf) {
        let path = dir.path().join("group.db");
        let settings = SqliteSettings {
            path: path.clone(),
            ..SqliteSettings::default()
        };
        let writer = Writer::start(&settings, Arc::new(Health::new(&path))).expect("started");
        (writer, path)
    }

    fn stored(path: &std::path::Path) -> Vec<i64> {
        let conn = Connection::open(path).expect("opens");
        let mut statement = conn
            .prepare("SELECT id FROM t ORDER BY id")
            .expect("prepares");
        statement
            .query_map([], |row| row.get(0))
            .expect("queries")
            .collect::<Result<_, _>>()
            .expect("reads")
    }

    #[tokio::test]
    async fn a_write_failing_in_a_group_is_undone_alone_and_the_others_commit() {
        let dir = tempfile::tempdir().expect("a directory");
        let (writer, path) = writer(&dir);
        // Arrange: the writer is held inside a first write until every other one is queued, so
        // that they all share the next group's transaction.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = writer.write(move |conn| {
            conn.execute_batch(
                "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (0)",
            )?;
            held.recv().expect("released");
            Ok(())
        });
        let insert = |id: i64| {
            writer.write(move |conn| {
                conn.execute("INSERT INTO t VALUES (?1)", [id])?;
                Ok(())
            })
        };

        // Act: good inserts around one that violates the primary key (0 exists).
        // `join!` polls in order: the first write is queued, then the others, then the first
        // is let go.
        let release = async move { release.send(()).expect("the writer waits") };
        let (first, one, duplicate, two, three, ()) =
            futures::join!(first, insert(1), insert(0), insert(2), insert(3), release);

        // Assert: the duplicate alone failed; every other write committed.
        first.expect("the first write commits");
        for (id, result) in [(1, one), (2, two), (3, three)] {
            result.unwrap_or_else(|err| panic!("insert {id}: {err}"));
        }
        assert!(
            matches!(duplicate, Err(StorageError::Internal(_))),
            "{duplicate:?}"
        );
        drop(writer);
        assert_eq!(stored(&path), vec![0, 1, 2, 3]);
    }
}
