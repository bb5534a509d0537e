//! The listening socket's defences against clients that hold on to the server:
//!
//! - a cap on open connections, below the process's file-descriptor limit: at the cap the server
//!   stops accepting and the kernel's backlog holds the rest;
//! - accept errors (`EMFILE` and the like) backed off rather than retried at once, which spun a
//!   core while nothing could be accepted;
//! - a deadline for each request's header block: a client sending its headers a byte at a time
//!   (slowloris) is cut off, where the idle timeout, reset by every byte, would never fire;
//! - an idle timeout: a connection that reads and writes nothing for that long is closed.
//!
//! poem's server has neither the cap nor a header-read timeout (and its idle timeout costs a
//! task wake-up per read and write), so they live in an [`Acceptor`] and the streams it hands
//! out.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep, sleep_until};

/// The longest an accept error is waited out before the next try.
const MOST_BACKOFF: Duration = Duration::from_secs(1);
const LEAST_BACKOFF: Duration = Duration::from_millis(10);

/// Accepts connections while fewer than the cap are open.
pub struct GuardedAcceptor {
    inner: TcpAcceptor,
    permits: Arc<Semaphore>,
    timeouts: Timeouts,
}

/// How long a connection may take over a request's header block, and stay silent.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
}

impl GuardedAcceptor {
    pub fn new(inner: TcpAcceptor, max_connections: usize, timeouts: Timeouts) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(max_connections)),
            timeouts,
        }
    }
}

impl Acceptor for GuardedAcceptor {
    type Io = GuardedStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| io::Error::other("the connection semaphore is closed"))?;
        let mut backoff = LEAST_BACKOFF;
        loop {
            match self.inner.accept().await {
                Ok((stream, local, remote, scheme)) => {
                    let stream = GuardedStream::new(stream, permit, self.timeouts);
                    return Ok((stream, local, remote, scheme));
                }
                Err(err) => {
                    // Out of descriptors, or the peer gave up before the accept: waiting lets
                    // connections close; retrying at once only burns the core they need.
                    tracing::warn!(error = %err, retry_in = ?backoff, "cannot accept a connection");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MOST_BACKOFF);
                }
            }
        }
    }
}

/// A connection that holds its place under the cap until it closes. It is cut off when a
/// request's header block takes longer than the header timeout to arrive, and closed when
/// nothing was read or written for the idle timeout.
///
/// Both deadlines share one timer, re-armed only when it fires early: a timer per request, or
/// poem's idle timeout (a task per connection, woken by every read and write), cost a
/// measurable share of a cheap request.
pub struct GuardedStream {
    inner: TcpStream,
    _permit: OwnedSemaphorePermit,
    timeouts: Timeouts,
    headers: Headers,
    /// When a byte was last read or written.
    last_io: Instant,
    /// Fires at or before the earlier of the two deadlines.
    timer: Pin<Box<Sleep>>,
}

/// Where the connection is in the request it is receiving.
enum Headers {
    /// Between requests: the deadline starts with the next request's first byte.
    Awaited,
    /// A header block is arriving, due by `due`; `matched` bytes of the blank line ending it
    /// are seen.
    Arriving { due: Instant, matched: usize },
    /// The header block is in; its body and the response follow.
    Received,
}

/// What ends a header block.
const END_OF_HEADERS: &[u8] = b"\r\n\r\n";

impl GuardedStream {
    fn new(inner: TcpStream, permit: OwnedSemaphorePermit, timeouts: Timeouts) -> Self {
        let now = Instant::now();
        // The first request's clock starts when the connection opens.
        let due = now + timeouts.header;
        Self {
            inner,
            _permit: permit,
            timeouts,
            headers: Headers::Arriving { due, matched: 0 },
            last_io: now,
            timer: Box::pin(sleep_until(due.min(now + timeouts.idle))),
        }
    }

    /// Follows the header block through `bytes` just read.
    fn saw(&mut self, bytes: &[u8], now: Instant) {
        if matches!(self.headers, Headers::Awaited) {
            self.headers = Headers::Arriving {
                due: now + self.timeouts.header,
                matched: 0,
            };
        }
        if let Headers::Arriving { matched, .. } = &mut self.headers {
            match advance(*matched, bytes) {
                Some(now) => *matched = now,
                None => self.headers = Headers::Received,
            }
        }
    }

    /// Which deadline comes first, and when.
    fn next_deadline(&self) -> (Deadline, Instant) {
        let idle = self.last_io + self.timeouts.idle;
        match self.headers {
            Headers::Arriving { due, .. } if due <= idle => (Deadline::Headers, due),
            _ => (Deadline::Idle, idle),
        }
    }

    /// Registers the timer for the next deadline, or says which one has passed.
    fn poll_deadlines(&mut self, cx: &mut Context<'_>) -> Option<Deadline> {
        let (_, at) = self.next_deadline();
        // Brought forward when a header block now has to be waited for; otherwise it only moves
        // once it fires, however often the connection was busy meanwhile.
        if at < self.timer.deadline() {
            self.timer.as_mut().reset(at);
        }
        while self.timer.as_mut().poll(cx).is_ready() {
            let (deadline, at) = self.next_deadline();
            if at <= Instant::now() {
                return Some(deadline);
            }
            self.timer.as_mut().reset(at);
        }
        None
    }
}

/// The two deadlines of a connection.
enum Deadline {
    Headers,
    Idle,
}

/// How many bytes of [`END_OF_HEADERS`] are matched after `bytes`, with `matched` matched before
/// them; `None` once it was seen whole.
fn advance(mut matched: usize, bytes: &[u8]) -> Option<usize> {
    for &byte in bytes {
        matched = match (byte, matched) {
            (b'\r', 0 | 2) | (b'\n', 1 | 3) => matched + 1,
            (b'\r', _) => 1,
            _ => 0,
        };
        if matched == END_OF_HEADERS.len() {
            return None;
        }
    }
    Some(matched)
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                let now = Instant::now();
                self.last_io = now;
                self.saw(&buf.filled()[before..], now);
                // A header block trickling in is cut off at its deadline even while bytes
                // keep coming.
                if let Headers::Arriving { due, .. } = self.headers
                    && due <= now
                {
                    return headers_too_slow();
                }
                Poll::Ready(Ok(()))
            }
            // Waiting: the timer wakes this read when a deadline passes first.
            Poll::Pending => match self.poll_deadlines(cx) {
                Some(Deadline::Headers) => headers_too_slow(),
                // As if the client had closed: the server ends the connection cleanly.
                Some(Deadline::Idle) => Poll::Ready(Ok(())),
                None => Poll::Pending,
            },
            other => other,
        }
    }
}

fn headers_too_slow() -> Poll<io::Result<()>> {
    Poll::Ready(Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "the request's headers took too long",
    )))
}

impl GuardedStream {
    /// Notes a write of `buf`'s first bytes: a response (not an interim `100 Continue`) is on
    /// its way, so the next bytes read belong to the next request.
    fn writing(&mut self, first: Option<&[u8]>) {
        if let Some(first) = first
            && first.starts_with(b"HTTP/")
            && !first.starts_with(b"HTTP/1.1 1")
        {
            self.headers = Headers::Awaited;
        }
    }

    fn wrote(&mut self, result: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(written)) = result
            && *written > 0
        {
            self.last_io = Instant::now();
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writing(Some(buf));
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writing(bufs.iter().find(|buf| !buf.is_empty()).map(|buf| &buf[..]));
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The most connections this process can hold open: its file-descriptor limit (raised to the
/// hard limit when it is lower) less a reserve for the database, log files and the listener.
pub fn descriptor_budget() -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    const RESERVE: u64 = 128;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    let soft = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    usize::try_from(soft.saturating_sub(RESERVE).max(16)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_a_header_block_is_found_however_it_is_split() {
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody";
        for split in 1..request.len() {
            let mut matched = Some(0);
            for part in request.chunks(split) {
                matched = matched.and_then(|matched| advance(matched, part));
            }
            assert_eq!(matched, None, "split every {split}");
        }
        assert_eq!(
            advance(0, b"GET / HTTP/1.1\r\nHost: x\r\n"),
            Some(2),
            "not yet"
        );
        assert_eq!(
            advance(0, b"a\r\r\n\r\n"),
            None,
            "a stray CR does not hide the end"
        );
        assert_eq!(advance(0, b"a\n\n\r\n"), Some(2));
    }
}
