//! `REDIS_URL`: one server (`redis://…`) or a Redis Cluster (`redis-cluster://host:port,…`);
//! `rediss://` and `rediss-cluster://` speak TLS (rustls).

use fred::prelude::*;
use fred::types::config::{ServerConfig, TlsConnector};

/// Reads `redis://…` and `redis-cluster://host:port,host:port,…` (the contract's form; fred's
/// own `?node=` form is accepted too), and their `rediss` forms: TLS, trusting the system's roots
/// or the file named by `SSL_CERT_FILE`. A `USER:PASSWORD@` before the host is an ACL user.
pub(super) fn redis_config(url: &str) -> anyhow::Result<Config> {
    let (rest, tls) = match (
        url.strip_prefix("redis-cluster://"),
        url.strip_prefix("rediss-cluster://"),
    ) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => return Ok(Config::from_url(url)?),
    };
    if !rest.contains(',') {
        return Ok(Config::from_url_clustered(url)?);
    }
    let (credentials, hosts) = match rest.rsplit_once('@') {
        Some((credentials, hosts)) => (Some(credentials), hosts),
        None => (None, rest),
    };
    let hosts = hosts
        .trim_end_matches('/')
        .split(',')
        .map(|host| {
            let (name, port) = host
                .trim()
                .rsplit_once(':')
                .ok_or_else(|| anyhow::anyhow!("REDIS_URL: '{host}' needs host:port"))?;
            let port: u16 = port
                .parse()
                .map_err(|_| anyhow::anyhow!("REDIS_URL: '{host}' has no valid port"))?;
            Ok((name.to_owned(), port))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut config = Config {
        server: ServerConfig::new_clustered(hosts),
        ..Config::default()
    };
    if let Some(credentials) = credentials {
        let (user, password) = credentials.split_once(':').unwrap_or(("", credentials));
        config.username = (!user.is_empty()).then(|| user.to_owned());
        config.password = Some(password.to_owned());
    }
    if tls {
        config.tls = Some(TlsConnector::default_rustls()?.into());
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls_select_a_single_server_or_a_cluster() {
        let single = redis_config("redis://127.0.0.1:6379").unwrap();
        assert!(matches!(single.server, ServerConfig::Centralized { .. }));
        let cluster =
            redis_config("redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002").unwrap();
        let ServerConfig::Clustered { hosts, .. } = cluster.server else {
            panic!("a clustered config");
        };
        assert_eq!(hosts.len(), 3);
        assert_eq!(hosts[2].port, 7002);
        let one = redis_config("redis-cluster://127.0.0.1:7000").unwrap();
        assert!(matches!(one.server, ServerConfig::Clustered { .. }));
        let secret = redis_config("redis-cluster://app:pw@10.0.0.1:7000,10.0.0.2:7000").unwrap();
        assert_eq!(
            (secret.username.as_deref(), secret.password.as_deref()),
            (Some("app"), Some("pw"))
        );
        assert!(redis_config("redis-cluster://127.0.0.1:7000,nope").is_err());
    }

    #[test]
    fn rediss_urls_speak_tls() {
        assert!(redis_config("redis://127.0.0.1:6379")
            .unwrap()
            .tls
            .is_none());
        let single = redis_config("rediss://booking:pw@127.0.0.1:6379").unwrap();
        assert!(single.tls.is_some());
        assert_eq!(single.username.as_deref(), Some("booking"));
        let cluster = redis_config("rediss-cluster://b:pw@127.0.0.1:7000,127.0.0.1:7001").unwrap();
        assert!(cluster.tls.is_some());
        assert!(matches!(cluster.server, ServerConfig::Clustered { .. }));
    }
}
