//! A minimal HTTP/1.1 keep-alive client: one request at a time on one connection, bodies with
//! `Content-Length` only. It costs the load generator a few microseconds per request, so that
//! on a two-core machine the measurements say something about the server, not about the client.

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `http://host:port[/base]` (or `ws://…`) split into what a request needs.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: String,
    pub host: String,
    /// The path prefix the URL carried, without a trailing slash (normally empty).
    pub base: String,
}

impl Target {
    pub fn parse(url: &str) -> anyhow::Result<Target> {
        Target::parse_scheme(url, "http")
    }

    /// As `parse`, for a URL of `scheme` (`http`, `ws`).
    pub fn parse_scheme(url: &str, scheme: &str) -> anyhow::Result<Target> {
        let rest = url
            .strip_prefix(scheme)
            .and_then(|rest| rest.strip_prefix("://"))
            .with_context(|| format!("{url}: only {scheme}:// URLs"))?;
        let (authority, base) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let addr = if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(Target {
            addr,
            host: authority.to_owned(),
            base: base.to_owned(),
        })
    }
}

/// One keep-alive connection.
pub struct HttpConnection {
    target: Target,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    request: Vec<u8>,
}

/// A response: status and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpConnection {
    pub fn new(target: Target) -> HttpConnection {
        HttpConnection {
            target,
            stream: None,
            buf: Vec::with_capacity(4096),
            request: Vec::with_capacity(512),
        }
    }

    async fn stream(&mut self) -> anyhow::Result<&mut TcpStream> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.target.addr)
                .await
                .with_context(|| format!("connecting to {}", self.target.addr))?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.buf.clear();
        }
        Ok(self.stream.as_mut().expect("just set"))
    }

    /// POSTs a JSON body; reconnects once if a kept-alive connection was closed meanwhile.
    pub async fn post_json(&mut self, path: &str, body: &str) -> anyhow::Result<Response> {
        self.request("POST", path, Some(body)).await
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Response> {
        self.request("GET", path, None).await
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> anyhow::Result<Response> {
        self.request.clear();
        let t = &self.target;
        self.request.extend_from_slice(
            format!("{method} {}{path} HTTP/1.1\r\nHost: {}\r\n", t.base, t.host).as_bytes(),
        );
        if let Some(body) = body {
            self.request.extend_from_slice(
                format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            self.request.extend_from_slice(body.as_bytes());
        } else {
            self.request.extend_from_slice(b"\r\n");
        }
        let fresh = self.stream.is_none();
        match self.exchange().await {
            Ok(response) => Ok(response),
            // A kept-alive connection the server closed: try once on a new one.
            Err(_) if !fresh => {
                self.stream = None;
                self.exchange().await
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }

    async fn exchange(&mut self) -> anyhow::Result<Response> {
        let request = std::mem::take(&mut self.request);
        let result = self.exchange_inner(&request).await;
        self.request = request;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange_inner(&mut self, request: &[u8]) -> anyhow::Result<Response> {
        self.stream().await?.write_all(request).await?;
        self.buf.clear();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut parsed = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = parsed.parse(&self.buf)? {
                let status = parsed.code.unwrap_or(0);
                let mut length = None;
                let mut close = false;
                for h in parsed.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        length = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|v| v.trim().parse::<usize>().ok());
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        close = h.value.eq_ignore_ascii_case(b"close");
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        bail!("chunked responses are not supported by seatbench's client");
                    }
                }
                let length = length.unwrap_or(0);
                while self.buf.len() < head + length {
                    self.read_more().await?;
                }
                let body = self.buf[head..head + length].to_vec();
                self.buf.drain(..head + length);
                if close {
                    self.stream = None;
                }
                return Ok(Response { status, body });
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> anyhow::Result<()> {
        let stream = self.stream.as_mut().context("not connected")?;
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed by the server");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((t.addr.as_str(), t.base.as_str()), ("127.0.0.1:8080", ""));
        let t = Target::parse("http://localhost/prefix/").unwrap();
        assert_eq!(
            (t.addr.as_str(), t.base.as_str()),
            ("localhost:80", "/prefix")
        );
        assert!(Target::parse("https://x").is_err());
    }
}
