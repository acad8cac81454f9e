//! Who is on the other end of an upgrade: the `Origin` check made before a WebSocket is
//! accepted (so a page from another site cannot drive a visitor's socket), and the client
//! address shown in logs.

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap};

/// The pages whose scripts may open a WebSocket (`ALLOWED_ORIGINS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Unset: the page's own origin, i.e. the `Origin`'s host[:port] equals the `Host` header.
    SameHost,
    /// Exact origins like `http://localhost:8080` (normalised).
    List(Vec<String>),
    /// `*`: any origin.
    Any,
}

impl AllowedOrigins {
    /// Parses `ALLOWED_ORIGINS`: a comma list of origins, `*`, or unset/empty for the default.
    pub fn parse(setting: Option<&str>) -> Result<AllowedOrigins, String> {
        let entries: Vec<&str> = setting
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries.is_empty() {
            return Ok(AllowedOrigins::SameHost);
        }
        if entries.contains(&"*") {
            return Ok(AllowedOrigins::Any);
        }
        entries
            .iter()
            .map(|entry| {
                normalise(entry).ok_or_else(|| {
                    format!(
                        "ALLOWED_ORIGINS: '{entry}' is not an origin like http://localhost:8080"
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(AllowedOrigins::List)
    }

    /// Whether an upgrade with these headers may proceed. No `Origin` header at all (websocat,
    /// scripts, load tools: not a browser page) is allowed.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let mut origins = headers.get_all(header::ORIGIN).iter();
        let Some(origin) = origins.next() else {
            return true;
        };
        if origins.next().is_some() {
            // A browser sends one; two are a forgery whichever of them is checked.
            return matches!(self, AllowedOrigins::Any);
        }
        let Some(origin) = origin.to_str().ok().and_then(normalise) else {
            return matches!(self, AllowedOrigins::Any); // `null`, garbage
        };
        match self {
            AllowedOrigins::Any => true,
            AllowedOrigins::List(allowed) => allowed.contains(&origin),
            AllowedOrigins::SameHost => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_ascii_lowercase);
                let (scheme, authority) = origin.split_once("://").expect("normalised");
                host.is_some_and(|host| without_default_port(scheme, &host) == authority)
            }
        }
    }
}

/// `scheme://host[:port]`, lower case, default port dropped; `None` if it is not one.
fn normalise(origin: &str) -> Option<String> {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, authority) = origin.split_once("://")?;
    let valid_scheme = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let valid_authority = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:[]".contains(c));
    (valid_scheme && valid_authority)
        .then(|| format!("{scheme}://{}", without_default_port(scheme, authority)))
}

fn without_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = match scheme {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => return authority,
    };
    authority.strip_suffix(default).unwrap_or(authority)
}

/// The client's address for logs: NGINX's `X-Real-IP` (or the last `X-Forwarded-For` hop, the
/// one NGINX appended) only when the connection comes from loopback, where NGINX runs beside
/// the edges; anyone else could write those headers, so otherwise it is the TCP peer.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if !peer.ip().is_loopback() {
        return peer.ip();
    }
    let header_ip = |name: &str, pick_last: bool| -> Option<IpAddr> {
        let value = headers.get(name)?.to_str().ok()?;
        let hop = if pick_last {
            value.rsplit(',').next()?
        } else {
            value
        };
        hop.trim().parse().ok()
    };
    header_ip("x-real-ip", false)
        .or_else(|| header_ip("x-forwarded-for", true))
        .unwrap_or(peer.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        if let Some(host) = host {
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        }
        headers
    }

    #[test]
    fn by_default_only_the_pages_own_origin_is_allowed() {
        let same = AllowedOrigins::parse(None).unwrap();
        assert_eq!(same, AllowedOrigins::SameHost);
        assert!(
            same.allows(&headers(None, Some("localhost:8080"))),
            "no Origin: a tool"
        );
        assert!(same.allows(&headers(
            Some("http://localhost:8080"),
            Some("localhost:8080")
        )));
        assert!(same.allows(&headers(Some("http://LocalHost"), Some("localhost:80"))));
        assert!(same.allows(&headers(
            Some("https://seats.example"),
            Some("seats.example")
        )));
        assert!(!same.allows(&headers(
            Some("http://evil.example"),
            Some("localhost:8080")
        )));
        assert!(!same.allows(&headers(
            Some("http://localhost:9999"),
            Some("localhost:8080")
        )));
        assert!(!same.allows(&headers(Some("null"), Some("localhost"))));
        assert!(!same.allows(&headers(Some("http://localhost"), None)));
    }

    #[test]
    fn a_list_allows_exactly_its_origins() {
        let list =
            AllowedOrigins::parse(Some(" http://localhost:8080, https://Seats.example/ ")).unwrap();
        assert!(list.allows(&headers(Some("http://localhost:8080"), Some("edge:3000"))));
        assert!(list.allows(&headers(Some("https://seats.example:443"), None)));
        assert!(!list.allows(&headers(
            Some("http://localhost:3000"),
            Some("localhost:3000")
        )));
        assert!(list.allows(&headers(None, None)));
        assert_eq!(
            AllowedOrigins::parse(Some("*")).unwrap(),
            AllowedOrigins::Any
        );
        assert_eq!(
            AllowedOrigins::parse(Some(" ")).unwrap(),
            AllowedOrigins::SameHost
        );
        assert!(AllowedOrigins::parse(Some("localhost:8080")).is_err());
    }

    #[test]
    fn two_origin_headers_are_refused_even_when_one_is_allowed() {
        let mut twice = headers(Some("http://localhost:8080"), Some("localhost:8080"));
        twice.append(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!AllowedOrigins::SameHost.allows(&twice));
        let list = AllowedOrigins::parse(Some("http://localhost:8080")).unwrap();
        assert!(!list.allows(&twice));
        assert!(AllowedOrigins::Any.allows(&twice));
    }

    #[test]
    fn forwarded_addresses_are_trusted_only_from_loopback() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9"),
        );
        let nginx: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let stranger: SocketAddr = "198.51.100.7:5000".parse().unwrap();
        assert_eq!(client_ip(nginx, &h).to_string(), "203.0.113.9");
        h.insert("x-real-ip", HeaderValue::from_static("203.0.113.10"));
        assert_eq!(client_ip(nginx, &h).to_string(), "203.0.113.10");
        assert_eq!(client_ip(stranger, &h).to_string(), "198.51.100.7");
        assert_eq!(client_ip(nginx, &HeaderMap::new()).to_string(), "127.0.0.1");
    }
}
