//! Fetching tenants' URLs (website sources): the ports a URL may name, whether private networks may be
//! reached (local development and tests only — refused on Lambda), and the time and size limits. The
//! guard that applies them is `crate::fetch`.

use super::{ConfigError, Source};
use std::time::Duration;

/// What is fetched from, and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Ports a URL may name (`FETCH_ALLOWED_PORTS`, comma-separated; default 80 and 443).
    pub ports: Vec<u16>,
    /// Private, loopback and link-local addresses allowed (`FETCH_ALLOW_PRIVATE_NETWORKS=true`): for a
    /// local test site only; a function on Lambda refuses to start with it.
    pub allow_private: bool,
    /// The whole request, redirects included.
    pub timeout: Duration,
    /// The body's bytes, at most.
    pub max_bytes: usize,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            ports: vec![80, 443],
            allow_private: false,
            timeout: Duration::from_secs(20),
            max_bytes: 10 * 1024 * 1024,
        }
    }
}

impl FetchPolicy {
    pub(super) fn from_source(src: &Source, on_lambda: bool) -> Result<Self, ConfigError> {
        let allow_private = src.parsed("FETCH_ALLOW_PRIVATE_NETWORKS", false)?;
        if allow_private && on_lambda {
            return Err(ConfigError::Invalid {
                name: "FETCH_ALLOW_PRIVATE_NETWORKS",
                reason: "lets tenants' URLs reach private networks (the VPC, the metadata endpoint): it is for local tests only and is refused on AWS Lambda; remove it".into(),
            });
        }
        let ports = match src.get("FETCH_ALLOWED_PORTS") {
            None => Self::default().ports,
            Some(list) => list
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or_else(|| ConfigError::Invalid {
                            name: "FETCH_ALLOWED_PORTS",
                            reason: format!("{p:?} is not a port: give a list such as 80,443"),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Self {
            ports,
            allow_private,
            ..Self::default()
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn private_networks_are_for_local_use_only_and_ports_are_a_list() {
        let mut src = Source::default();
        assert_eq!(
            FetchPolicy::from_source(&src, true).unwrap(),
            FetchPolicy::default()
        );
        src.set("FETCH_ALLOW_PRIVATE_NETWORKS", "true");
        assert!(FetchPolicy::from_source(&src, false).unwrap().allow_private);
        assert!(matches!(
            FetchPolicy::from_source(&src, true),
            Err(ConfigError::Invalid {
                name: "FETCH_ALLOW_PRIVATE_NETWORKS",
                ..
            })
        ));
        src.set("FETCH_ALLOWED_PORTS", "443, 8443");
        assert_eq!(
            FetchPolicy::from_source(&src, false).unwrap().ports,
            [443, 8443]
        );
        src.set("FETCH_ALLOWED_PORTS", "443,ssh");
        assert!(matches!(
            FetchPolicy::from_source(&src, false),
            Err(ConfigError::Invalid {
                name: "FETCH_ALLOWED_PORTS",
                ..
            })
        ));
    }
}
