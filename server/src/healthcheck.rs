//! `healthcheck`: asks a running server whether it is alive (`GET /healthz`) and exits 0 if it
//! answered 200 in time, 1 otherwise. Container images this small have no HTTP client to run
//! as their health check, so the server's own binary is the client: one plain HTTP/1.1 request
//! on a TCP connection, nothing more (the server never speaks TLS; its load balancer does).

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::ServerSettings;

/// Most bytes read while looking for the status line: a server's is a few dozen.
const STATUS_LINE_MAX: usize = 1024;

/// Checks `url`, or else [`default_url`] of `server`; prints what it found on success.
pub async fn run(
    server: &ServerSettings,
    url: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let url = match url {
        Some(url) => url.to_owned(),
        None => default_url(server)?,
    };
    let target = Target::parse(&url).with_context(|| format!("--url {url}"))?;
    let status = tokio::time::timeout(timeout, status_of(&target))
        .await
        .map_err(|_| anyhow!("GET {url}: no answer within {} ms", timeout.as_millis()))?
        .with_context(|| format!("GET {url}"))?;
    if status != 200 {
        bail!("GET {url}: status {status}, not 200");
    }
    println!("GET {url}: 200");
    Ok(())
}

/// `/healthz` on the probe port when one is set (it answers however busy the API is), else on
/// the API's port, at the address the server listens on: loopback when that is every interface.
pub fn default_url(server: &ServerSettings) -> anyhow::Result<String> {
    // Port 0 means "any free port": which one was taken is only in the server's log.
    let port = server
        .probe_port
        .filter(|&port| port != 0)
        .unwrap_or(server.port);
    if port == 0 {
        bail!(
            "server.port is 0 (any free port), so the port to check is only in the server's \
             log; pass --url or --port"
        );
    }
    let host = match server.host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) if ip.is_unspecified() => "127.0.0.1".to_owned(),
        Ok(IpAddr::V6(ip)) if ip.is_unspecified() => "[::1]".to_owned(),
        Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
        Ok(IpAddr::V4(ip)) => ip.to_string(),
        Err(_) => server.host.clone(),
    };
    Ok(format!("http://{host}:{port}/healthz"))
}

/// What an `http://host[:port][/path]` URL says to connect to and ask for.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// A name or an address, IPv6 without its brackets.
    host: String,
    port: u16,
    /// `host[:port]` as the URL spells it, for the `Host` header.
    authority: String,
    /// The path and query, at least `/`.
    path: String,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("only http:// URLs can be checked"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        if authority.contains('@') {
            bail!("credentials in the URL are not supported");
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed
                    .split_once(']')
                    .ok_or_else(|| anyhow!("an IPv6 address without its closing ]"))?;
                (host, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        if host.is_empty() {
            bail!("no host");
        }
        let port = match port {
            None => 80,
            Some(port) => port
                .parse()
                .map_err(|_| anyhow!("the port {port:?} is not a number from 0 to 65535"))?,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path,
        })
    }
}

/// Sends `GET` and returns the status code of the answer.
async fn status_of(target: &Target) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .context("cannot connect")?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: addressbook-server-healthcheck\r\n\
         Connection: close\r\n\r\n",
        target.path, target.authority
    );
    stream
        .write_all(request.as_bytes())
        .await
        .context("cannot send the request")?;
    let mut answer = Vec::new();
    let mut chunk = [0_u8; 256];
    while !answer.windows(2).any(|pair| pair == b"\r\n") && answer.len() < STATUS_LINE_MAX {
        let read = stream
            .read(&mut chunk)
            .await
            .context("cannot read the answer")?;
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..read]);
    }
    status_code(&answer)
}

/// The status code of an HTTP/1.x status line (`HTTP/1.1 200 OK`).
fn status_code(answer: &[u8]) -> anyhow::Result<u16> {
    let line = answer.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/1.") && code.len() == 3 => {
            code.parse().ok()
        }
        _ => None,
    }
    .ok_or_else(|| {
        anyhow!(
            "the answer is not HTTP/1.x: {:?}",
            line.chars().take(80).collect::<String>()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap_or_else(|err| panic!("{url}: {err}"))
    }

    #[test]
    fn urls_name_host_port_and_path() {
        let t = target("http://127.0.0.1:8081/healthz");
        assert_eq!(
            (
                t.host.as_str(),
                t.port,
                t.authority.as_str(),
                t.path.as_str()
            ),
            ("127.0.0.1", 8081, "127.0.0.1:8081", "/healthz")
        );
        let t = target("http://[::1]:9000/readiness?x=1");
        assert_eq!((t.host.as_str(), t.port), ("::1", 9000));
        assert_eq!(t.path, "/readiness?x=1");
        let t = target("http://server");
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("server", 80, "/")
        );
        assert_eq!(target("http://server?probe").path, "/?probe");
    }

    #[test]
    fn urls_it_cannot_check_are_refused() {
        for url in [
            "https://127.0.0.1/healthz",
            "127.0.0.1:8080",
            "http://:8080/",
            "http://host:port/",
            "http://host:70000/",
            "http://[::1/",
            "http://user@host/",
        ] {
            assert!(Target::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn the_default_is_the_probe_port_else_the_api_port_on_loopback() {
        let mut server = ServerSettings {
            host: "0.0.0.0".to_owned(),
            port: 8080,
            ..ServerSettings::default()
        };
        assert_eq!(
            default_url(&server).unwrap(),
            "http://127.0.0.1:8080/healthz"
        );
        server.probe_port = Some(8081);
        assert_eq!(
            default_url(&server).unwrap(),
            "http://127.0.0.1:8081/healthz"
        );
        server.probe_port = Some(0);
        assert_eq!(
            default_url(&server).unwrap(),
            "http://127.0.0.1:8080/healthz"
        );
        server.host = "::".to_owned();
        assert_eq!(default_url(&server).unwrap(), "http://[::1]:8080/healthz");
        server.host = "fd00::5".to_owned();
        assert_eq!(
            default_url(&server).unwrap(),
            "http://[fd00::5]:8080/healthz"
        );
        server.host = "10.1.2.3".to_owned();
        assert_eq!(
            default_url(&server).unwrap(),
            "http://10.1.2.3:8080/healthz"
        );
        server.port = 0;
        let err = default_url(&server).unwrap_err().to_string();
        assert!(err.contains("--url"), "{err}");
    }

    #[test]
    fn the_status_comes_from_the_status_line() {
        assert_eq!(
            status_code(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n").unwrap(),
            200
        );
        assert_eq!(
            status_code(b"HTTP/1.0 503 Service Unavailable\r\n").unwrap(),
            503
        );
        assert!(status_code(b"SSH-2.0-OpenSSH_9.2\r\n").is_err());
        assert!(status_code(b"").is_err());
    }
}
