//! A keep-alive HTTP/1 connection for loading the book and fetching the bodies the baselines
//! serve. Plain hyper: no compression is asked for, so bodies are what wrk receives too.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

/// A response's status, content type and body.
pub struct Response {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub body: Bytes,
}

impl Connection {
    pub async fn open(address: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to {address}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // Runs the connection until the sender is dropped; an error then surfaces on the
        // next request, which is where it is reported.
        tokio::spawn(connection);
        Ok(Self {
            sender,
            host: address.to_string(),
        })
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Response> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post_json(&mut self, path: &str, body: String) -> anyhow::Result<Response> {
        self.send(Method::POST, path, Some(Bytes::from(body))).await
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<Response> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::HOST, &self.host);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(body.unwrap_or_default()))?;
        self.sender.ready().await.context("connection closed")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .with_context(|| format!("{method} {path}"))?;
        let text = |name| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = text(header::CONTENT_TYPE);
        let content_encoding = text(header::CONTENT_ENCODING);
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Response {
            status,
            content_type,
            content_encoding,
            body,
        })
    }
}

impl Response {
    /// The body as JSON, when the status is the expected one.
    pub fn json(&self, expected: StatusCode) -> anyhow::Result<serde_json::Value> {
        if self.status != expected {
            bail!(
                "expected {expected}, got {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            );
        }
        serde_json::from_slice(&self.body).context("the body is not JSON")
    }
}
