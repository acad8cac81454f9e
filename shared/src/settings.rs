//! Settings both services read the same way: comma lists of URLs (`BOOKING_URL`, `NATS_URL`).

use async_nats::ServerAddr;

/// Reads the comma list of URLs in setting `name`, blanks skipped and trailing slashes dropped.
pub fn parse_url_list(name: &str, list: &str) -> Result<Vec<String>, String> {
    let urls: Vec<String> = list
        .split(',')
        .map(|u| u.trim().trim_end_matches('/'))
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    if urls.is_empty() {
        return Err(format!("{name} must name at least one URL"));
    }
    Ok(urls)
}

/// Reads `NATS_URL`: one server, or a comma list of the servers of one NATS cluster. Unlike
/// `parse_url_list` it keeps a trailing slash: a `ws://` server's path is used as it is.
pub fn parse_nats_servers(list: &str) -> Result<Vec<ServerAddr>, String> {
    let urls: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        return Err("NATS_URL must name at least one URL".into());
    }
    urls.iter()
        .map(|url| {
            url.parse::<ServerAddr>()
                .map_err(|e| format!("NATS_URL: '{url}': {e}"))
        })
        .collect()
}

/// The servers as they were given, for logs: `nats://a:4222,nats://b:4222`, with any user and
/// password left out.
pub fn describe_nats_servers(servers: &[ServerAddr]) -> String {
    servers
        .iter()
        .map(|server| without_credentials(server).as_url_str().to_owned())
        .collect::<Vec<_>>()
        .join(",")
}

/// The address without the `user:password@` part.
fn without_credentials(server: &ServerAddr) -> ServerAddr {
    let mut url = server.clone().into_inner();
    // Only fails for URLs that cannot have credentials, which then have none to remove.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    ServerAddr::from_url(url).unwrap_or_else(|_| server.clone())
}

/// Connection options for `NATS_URL`'s servers, and the servers to connect to. A user and
/// password in a URL (`tls://booking:secret@host:4222`, as the servers' `authorization` users
/// expect) become the connection's credentials, since async-nats does not read them from the
/// URL; the addresses returned carry none, so nothing the client logs can show them. TLS (a
/// `tls://` URL, or a server that requires it) trusts the system's roots, or the file named by
/// `SSL_CERT_FILE`.
pub fn nats_connect_options(
    servers: &[ServerAddr],
) -> (async_nats::ConnectOptions, Vec<ServerAddr>) {
    let mut options = async_nats::ConnectOptions::new();
    if let Some(server) = servers.iter().find(|s| s.username().is_some()) {
        let user = percent_decoded(server.username().unwrap_or_default());
        let password = percent_decoded(server.password().unwrap_or_default());
        options = options.user_and_password(user, password);
    }
    if servers.iter().any(ServerAddr::tls_required) {
        options = options.require_tls(true);
    }
    (options, servers.iter().map(without_credentials).collect())
}

/// A URL's user or password as written before percent-encoding.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_lists_skip_blanks_and_trailing_slashes() {
        assert_eq!(
            parse_url_list("BOOKING_URL", " http://a:1/ , http://b:2,").unwrap(),
            vec!["http://a:1", "http://b:2"]
        );
        assert!(parse_url_list("BOOKING_URL", " , ")
            .unwrap_err()
            .contains("BOOKING_URL"));
    }

    #[test]
    fn nats_servers_are_parsed_once_and_named_on_error() {
        let servers = parse_nats_servers("nats://10.0.0.1:4222, nats://10.0.0.2:4222").unwrap();
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[1].port(), 4222);
        assert_eq!(
            describe_nats_servers(&servers),
            "nats://10.0.0.1:4222,nats://10.0.0.2:4222"
        );
        assert!(parse_nats_servers("nats://a:notaport")
            .unwrap_err()
            .contains("NATS_URL"));
        assert!(parse_nats_servers("").unwrap_err().contains("NATS_URL"));
        let proxied = parse_nats_servers("ws://proxy.example/nats/").unwrap();
        assert_eq!(proxied[0].as_url_str(), "ws://proxy.example/nats/");
    }

    #[test]
    fn nats_credentials_leave_the_urls_and_never_reach_the_logs() {
        let servers =
            parse_nats_servers("tls://edge:p%40ss@10.0.0.1:4222,tls://10.0.0.2:4222").unwrap();
        assert_eq!(
            describe_nats_servers(&servers),
            "tls://10.0.0.1:4222,tls://10.0.0.2:4222"
        );
        let (options, bare) = nats_connect_options(&servers);
        assert!(bare
            .iter()
            .all(|s| s.username().is_none() && s.password().is_none()));
        assert!(bare.iter().all(ServerAddr::tls_required));
        let shown = format!("{options:?}");
        assert!(
            !shown.contains("p@ss") && !shown.contains("p%40ss"),
            "{shown}"
        );
        assert_eq!(percent_decoded("p%40ss%2"), "p@ss%2");
        let (_, plain) = nats_connect_options(&parse_nats_servers("nats://a:4222").unwrap());
        assert_eq!(plain[0].as_url_str(), "nats://a:4222");
    }
}

/// `INTERNAL_TOKEN`: the secret the edges show the booking service on its `/internal/` routes
/// (`Authorization: Bearer …`). Unset or empty: those routes are open (one machine behind a
/// firewall); set, it must be at least 16 characters.
pub fn internal_token(value: Option<&str>) -> Result<Option<String>, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(token) if token.len() >= 16 => Ok(Some(token.to_owned())),
        Some(_) => {
            Err("INTERNAL_TOKEN must be at least 16 characters (e.g. openssl rand -hex 32)".into())
        }
    }
}

/// Whether `offered` is `expected`, compared in time that does not depend on where they differ.
pub fn secrets_equal(offered: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    offered.len() == expected.len() && bool::from(offered.ct_eq(expected))
}

#[cfg(test)]
mod internal_token_tests {
    use super::*;

    #[test]
    fn internal_tokens_are_optional_long_and_compared_whole() {
        assert_eq!(internal_token(None), Ok(None));
        assert_eq!(internal_token(Some("  ")), Ok(None));
        assert!(internal_token(Some("short")).is_err());
        assert_eq!(
            internal_token(Some("0123456789abcdef")),
            Ok(Some("0123456789abcdef".into()))
        );
        assert!(secrets_equal(b"0123456789abcdef", b"0123456789abcdef"));
        assert!(!secrets_equal(b"0123456789abcdeX", b"0123456789abcdef"));
        assert!(!secrets_equal(b"0123456789abcde", b"0123456789abcdef"));
    }
}
