//! External identity providers (`AUTH_OIDC_ISSUERS`): Clerk and any OpenID Connect provider whose
//! signed tokens sign members in beside our own.
//!
//! `AUTH_OIDC_ISSUERS` is a JSON list (in the environment or in the `APP_SECRETS_ARN` secret):
//!
//! ```json
//! [{"issuer": "https://clerk.example.com", "provider": "clerk"},
//!  {"issuer": "https://example.eu.auth0.com/", "audience": "https://api.example.com"}]
//! ```
//!
//! - `issuer`: the exact `iss` of the provider's tokens; `https://` (plain `http://` only for a loopback
//!   host, which serves tests and local providers).
//! - `provider`: `"clerk"` or `"oidc"` (the default). A Clerk session token carries no `aud` by default:
//!   its `azp` (the page's origin) is checked against `CORS_ALLOWED_ORIGINS` instead, and `audience` is
//!   optional. Any other provider must name its `audience`: without it, every token the provider issues
//!   to any of its clients (any app signing in with Google, say) would open this API.
//! - `jwksUrl`: where the signing keys are; by default Clerk's `{issuer}/.well-known/jwks.json`, and for
//!   other providers the `jwks_uri` of `{issuer}/.well-known/openid-configuration` (read once).
//!
//! `AUTH_OIDC_LEEWAY_SECS` (default 30, at most 300) is the clock skew allowed on `exp` and `nbf`;
//! `AUTH_OIDC_JWKS_TTL_SECS` (default 3600, 60 to 86400) how long fetched keys serve before they are
//! read again. An unknown `kid` reads them again at most once a minute per issuer.

use super::{ConfigError, Source};
use serde::Deserialize;
use std::time::Duration;

const NAME: &str = "AUTH_OIDC_ISSUERS";
/// The most issuers one deployment may trust.
const MAX_ISSUERS: usize = 16;

/// Which rules a provider's tokens follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Clerk's session tokens: `azp` checked against the allowed origins, `aud` only when configured.
    Clerk,
    /// Any OpenID Connect provider: `aud` required.
    Oidc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIssuer {
    pub issuer: String,
    pub provider: Provider,
    pub audience: Option<String>,
    /// Where the keys are; `None`: discovered from the issuer's OpenID configuration.
    pub jwks_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuers: Vec<OidcIssuer>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// How long fetched keys serve before they are read again.
    pub jwks_ttl: Duration,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Entry {
    issuer: String,
    #[serde(default)]
    provider: Option<Provider>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    jwks_url: Option<String>,
}

fn invalid(reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: NAME,
        reason: reason.into(),
    }
}

/// An issuer's or key set's URL: `https://`, or `http://` to a loopback host.
fn check_url(what: &str, raw: &str) -> Result<(), ConfigError> {
    let url =
        url::Url::parse(raw).map_err(|e| invalid(format!("{what} {raw:?} is not a URL ({e})")))?;
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(invalid(format!(
            "{what} {raw:?} must be an https:// URL (http:// only to localhost)"
        ))),
    }
}

impl OidcConfig {
    /// `own_issuer` is our tokens' `iss` (`JWT_ISSUER`): no provider may claim it.
    pub(super) fn from_source(src: &Source, own_issuer: &str) -> Result<Self, ConfigError> {
        let leeway = src.parsed("AUTH_OIDC_LEEWAY_SECS", 30u64)?;
        if leeway > 300 {
            return Err(ConfigError::Invalid {
                name: "AUTH_OIDC_LEEWAY_SECS",
                reason: "must be at most 300 (5 minutes)".into(),
            });
        }
        let ttl = src.parsed("AUTH_OIDC_JWKS_TTL_SECS", 3600u64)?;
        if !(60..=86_400).contains(&ttl) {
            return Err(ConfigError::Invalid {
                name: "AUTH_OIDC_JWKS_TTL_SECS",
                reason: "must be from 60 to 86400 (a day)".into(),
            });
        }
        let entries: Vec<Entry> = match src.get(NAME).map(str::trim) {
            None | Some("") => Vec::new(),
            Some(raw) => serde_json::from_str(raw).map_err(|e| {
                invalid(format!(
                    "must be a JSON list of {{issuer, provider?, audience?, jwksUrl?}} ({e})"
                ))
            })?,
        };
        if entries.len() > MAX_ISSUERS {
            return Err(invalid(format!("at most {MAX_ISSUERS} issuers")));
        }
        let mut issuers: Vec<OidcIssuer> = Vec::with_capacity(entries.len());
        for entry in entries {
            let issuer = entry.issuer.trim().to_owned();
            check_url("issuer", &issuer)?;
            if issuer == own_issuer {
                return Err(invalid(format!(
                    "issuer {issuer:?} is this API's own JWT_ISSUER; an external provider needs its own"
                )));
            }
            if issuers.iter().any(|i| i.issuer == issuer) {
                return Err(invalid(format!("issuer {issuer:?} is listed twice")));
            }
            let provider = entry.provider.unwrap_or(Provider::Oidc);
            let audience = entry
                .audience
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty());
            if provider == Provider::Oidc && audience.is_none() {
                return Err(invalid(format!(
                    "issuer {issuer:?} needs an \"audience\" (the client id or API identifier its tokens are issued for): without it any token the provider issues to any application would be accepted"
                )));
            }
            let jwks_url = match entry.jwks_url.map(|u| u.trim().to_owned()) {
                Some(url) => {
                    check_url("jwksUrl", &url)?;
                    Some(url)
                }
                None if provider == Provider::Clerk => Some(format!(
                    "{}/.well-known/jwks.json",
                    issuer.trim_end_matches('/')
                )),
                None => None,
            };
            issuers.push(OidcIssuer {
                issuer,
                provider,
                audience,
                jwks_url,
            });
        }
        Ok(Self {
            issuers,
            leeway: Duration::from_secs(leeway),
            jwks_ttl: Duration::from_secs(ttl),
        })
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn read(value: &str) -> Result<OidcConfig, ConfigError> {
        OidcConfig::from_source(
            &Source::from_pairs([(NAME, value)]),
            "https://api.example.com",
        )
    }

    #[test]
    fn when_nothing_is_set_no_issuer_is_trusted() {
        let cfg =
            OidcConfig::from_source(&Source::from_pairs::<&str, &str>([]), "x").expect("defaults");
        assert!(cfg.issuers.is_empty());
        assert_eq!(cfg.leeway, Duration::from_secs(30));
        assert_eq!(cfg.jwks_ttl, Duration::from_secs(3600));
    }

    #[test]
    fn when_clerk_is_listed_its_key_set_is_at_the_well_known_path() {
        let cfg =
            read(r#"[{"issuer":"https://clerk.example.com/","provider":"clerk"}]"#).expect("clerk");
        assert_eq!(
            cfg.issuers,
            vec![OidcIssuer {
                issuer: "https://clerk.example.com/".into(),
                provider: Provider::Clerk,
                audience: None,
                jwks_url: Some("https://clerk.example.com/.well-known/jwks.json".into()),
            }]
        );
    }

    #[test]
    fn when_a_generic_provider_has_no_audience_it_is_refused_by_name() {
        let err = read(r#"[{"issuer":"https://accounts.google.com"}]"#).expect_err("no audience");
        let text = err.to_string();
        assert!(text.contains(NAME) && text.contains("audience"), "{text}");
        let cfg = read(r#"[{"issuer":"https://accounts.google.com","audience":"client-1"}]"#)
            .expect("with audience");
        assert_eq!(cfg.issuers[0].provider, Provider::Oidc);
        assert_eq!(cfg.issuers[0].jwks_url, None, "discovered");
    }

    #[test]
    fn when_an_entry_is_unsafe_or_malformed_it_is_refused_with_the_reason() {
        for (value, needle) in [
            (
                r#"[{"issuer":"http://idp.example.com","provider":"clerk"}]"#,
                "https://",
            ),
            (
                r#"[{"issuer":"https://api.example.com","provider":"clerk"}]"#,
                "JWT_ISSUER",
            ),
            (
                r#"[{"issuer":"https://a.example","provider":"clerk"},{"issuer":"https://a.example","provider":"clerk"}]"#,
                "twice",
            ),
            (
                r#"[{"issuer":"https://a.example","provider":"okta"}]"#,
                "JSON list",
            ),
            (
                r#"[{"issuer":"https://a.example","audence":"x"}]"#,
                "JSON list",
            ),
            (
                r#"[{"issuer":"https://a.example","provider":"clerk","jwksUrl":"ftp://a.example/k"}]"#,
                "jwksUrl",
            ),
            ("{}", "JSON list"),
        ] {
            let err = read(value).expect_err(value).to_string();
            assert!(err.contains(NAME) && err.contains(needle), "{value}: {err}");
        }
        // A loopback provider over plain HTTP serves tests and local set-ups.
        read(r#"[{"issuer":"http://127.0.0.1:9999","provider":"clerk"}]"#).expect("loopback");
    }

    #[test]
    fn when_the_leeway_or_ttl_is_out_of_range_it_is_refused_by_name() {
        for (name, value) in [
            ("AUTH_OIDC_LEEWAY_SECS", "301"),
            ("AUTH_OIDC_JWKS_TTL_SECS", "59"),
            ("AUTH_OIDC_JWKS_TTL_SECS", "86401"),
        ] {
            let err = OidcConfig::from_source(&Source::from_pairs([(name, value)]), "x")
                .expect_err(value)
                .to_string();
            assert!(err.contains(name), "{err}");
        }
    }
}
