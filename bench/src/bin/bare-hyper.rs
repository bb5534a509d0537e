//! Baseline server: bare hyper 1.x HTTP/1 answering every request with one fixed body, the
//! bytes the service returned for the scenario, so that the difference in throughput is the
//! service's own work (routing, storage, serialisation) and not HTTP or the network stack.
//!
//!     bare-hyper --body FILE [--port N]      # prints `listening address=http://127.0.0.1:N`

use std::convert::Infallible;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

// Default worker count, as the service's runtime has: under `taskset -c 0` both get one worker.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut body_path = None;
    let mut port: u16 = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--body" => body_path = args.next(),
            "--port" => port = args.next().context("--port needs a value")?.parse()?,
            other => bail!("unknown argument {other}; usage: bare-hyper --body FILE [--port N]"),
        }
    }
    let body_path = body_path.context("usage: bare-hyper --body FILE [--port N]")?;
    let body =
        Bytes::from(std::fs::read(&body_path).with_context(|| format!("cannot read {body_path}"))?);

    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    // The same line the service logs, so that the harness finds both the same way.
    println!("listening address=http://{}", listener.local_addr()?);
    let mut terminate = signal(SignalKind::terminate())?;
    loop {
        let (stream, _) = tokio::select! {
            _ = terminate.recv() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: the next accept may succeed.
                Err(err) => {
                    eprintln!("bare-hyper: accept: {err}");
                    continue;
                }
            },
        };
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_request| {
                let response = Response::builder()
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Full::new(body.clone()));
                async move { Ok::<_, Infallible>(response.expect("static headers are valid")) }
            });
            // Connections end when the client closes them; that is no error worth a line.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
