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

/// The servers as they were given, for logs: `nats://a:4222,nats://b:4222`.
pub fn describe_nats_servers(servers: &[ServerAddr]) -> String {
    servers
        .iter()
        .map(ServerAddr::as_url_str)
        .collect::<Vec<_>>()
        .join(",")
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
