//! Fetching a tenant-supplied URL without letting it reach our own network (SSRF): the crawler's and
//! the website sources' one way out.
//!
//! - Only `http` and `https`, on the allowed ports (80 and 443 unless `FETCH_ALLOWED_PORTS` says
//!   otherwise), no user name or password in the URL.
//! - The host is resolved once, by [`Guard`]'s resolver, and refused when **any** of its addresses is
//!   loopback, private, link-local (the cloud metadata endpoint `169.254.169.254` among them), shared,
//!   multicast, broadcast, reserved or unspecified. The connection then uses exactly the addresses that
//!   were checked (reqwest asks this resolver), so a name cannot resolve to a public address for the check
//!   and a private one for the connection (DNS rebinding).
//! - An address written in the URL is checked the same way (reqwest does not resolve those), on the first
//!   request and on every redirect; at most [`MAX_REDIRECTS`] redirects.
//! - No proxy from the environment, no cookies, no credentials forwarded; a time limit on the whole
//!   request and a size limit on the body, read as it arrives.
//!
//! `FETCH_ALLOW_PRIVATE_NETWORKS=true` lifts the address rule for local development and tests only: on
//! Lambda the configuration refuses it ([`FetchPolicy`], in `config`).

pub use crate::config::FetchPolicy;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Redirects followed, at most.
pub const MAX_REDIRECTS: usize = 5;

/// Why a URL was not fetched.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("{0:?} is not a valid absolute URL")]
    Invalid(String),
    #[error("only http and https URLs are fetched, not {0}:")]
    Scheme(String),
    #[error("port {0} is not one of the ports fetched from")]
    Port(u16),
    #[error("URLs with a user name or password are not fetched")]
    Credentials,
    #[error("{host} resolves to {addr}, a {kind} address: only public addresses are fetched")]
    Address {
        host: String,
        addr: IpAddr,
        kind: &'static str,
    },
    #[error("{0} did not resolve to any address")]
    Unresolved(String),
}

/// The kind of address that is never fetched from, or `None` for a public one.
pub fn forbidden_kind(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_kind(v4),
            None => v6_kind(v6),
        },
    }
}

fn v4_kind(a: Ipv4Addr) -> Option<&'static str> {
    let [o1, o2, _, _] = a.octets();
    Some(if a.is_loopback() {
        "loopback"
    } else if a.is_private() {
        "private"
    } else if a.is_link_local() {
        "link-local"
    } else if a.is_unspecified() || o1 == 0 {
        "unspecified"
    } else if a.is_multicast() {
        "multicast"
    } else if a.is_broadcast() || o1 >= 240 {
        "reserved"
    } else if o1 == 100 && (64..128).contains(&o2) {
        "shared (carrier-grade NAT)"
    } else if (o1 == 192 && o2 == 0 && a.octets()[2] == 0) || (o1 == 198 && (o2 == 18 || o2 == 19))
    {
        "reserved"
    } else if a.is_documentation() {
        "documentation"
    } else {
        return None;
    })
}

fn v6_kind(a: Ipv6Addr) -> Option<&'static str> {
    let first = a.segments()[0];
    Some(if a.is_loopback() {
        "loopback"
    } else if a.is_unspecified() {
        "unspecified"
    } else if a.is_multicast() {
        "multicast"
    } else if a.is_unicast_link_local() {
        "link-local"
    } else if a.is_unique_local() {
        "private"
    } else if first == 0x2001 && a.segments()[1] == 0x0db8 {
        "documentation"
    } else if first == 0x64 && a.segments()[1] == 0xff9b {
        // NAT64 carries an IPv4 address in its last 32 bits: judged as that address.
        let [.., hi, lo] = a.segments();
        return v4_kind(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    } else {
        return None;
    })
}

/// A name's addresses, being looked up.
pub type Lookup<'a> =
    std::pin::Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Resolves names to addresses: the system's resolver in production, a fixed map in tests.
pub trait Resolver: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> Lookup<'_>;
}

/// The operating system's resolver.
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: &str) -> Lookup<'_> {
        let host = host.to_owned();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// Names mapped to addresses, for tests: any other name does not resolve.
#[derive(Default, Clone)]
pub struct StaticResolver(pub HashMap<String, Vec<IpAddr>>);

impl Resolver for StaticResolver {
    fn lookup(&self, host: &str) -> Lookup<'_> {
        let found = self.0.get(&host.to_ascii_lowercase()).cloned();
        Box::pin(async move {
            found.ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such name (test resolver)")
            })
        })
    }
}

/// The rules, and the resolver they check names with.
#[derive(Clone)]
pub struct Guard {
    policy: FetchPolicy,
    resolver: Arc<dyn Resolver>,
    /// Addresses let through although private: a test's own "public" server on loopback.
    exempt: Vec<IpAddr>,
}

impl Guard {
    pub fn new(policy: FetchPolicy) -> Self {
        Self::with_resolver(policy, Arc::new(SystemResolver))
    }

    pub fn with_resolver(policy: FetchPolicy, resolver: Arc<dyn Resolver>) -> Self {
        Self {
            policy,
            resolver,
            exempt: Vec::new(),
        }
    }

    /// Lets one address through although it is not public (tests stand up a "public" site on loopback
    /// this way, while every other private address stays refused; the port rule still applies).
    pub fn exempting(mut self, addr: IpAddr) -> Self {
        self.exempt.push(addr);
        self
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    fn check_addr(&self, host: &str, addr: IpAddr) -> Result<(), Refusal> {
        if self.policy.allow_private || self.exempt.contains(&addr) {
            return Ok(());
        }
        match forbidden_kind(addr) {
            Some(kind) => Err(Refusal::Address {
                host: host.to_owned(),
                addr,
                kind,
            }),
            None => Ok(()),
        }
    }

    /// The rules a URL itself must meet (scheme, port, credentials, an address written in it).
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Credentials);
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Refusal::Invalid(url.to_string()))?;
        if !self.policy.ports.contains(&port) {
            return Err(Refusal::Port(port));
        }
        match url.host() {
            Some(url::Host::Ipv4(a)) => self.check_addr(&a.to_string(), IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => self.check_addr(&a.to_string(), IpAddr::V6(a)),
            Some(url::Host::Domain(_)) => Ok(()),
            None => Err(Refusal::Invalid(url.to_string())),
        }
    }

    /// A name's addresses, every one of them checked (the first refused one refuses the name).
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, Refusal> {
        let addrs = self
            .resolver
            .lookup(host)
            .await
            .map_err(|_| Refusal::Unresolved(host.to_owned()))?;
        if addrs.is_empty() {
            return Err(Refusal::Unresolved(host.to_owned()));
        }
        for addr in &addrs {
            self.check_addr(host, *addr)?;
        }
        Ok(addrs)
    }
}

/// reqwest's resolver: the guard's checked answer, so the connection uses only checked addresses (the
/// port is reqwest's to fill in).
struct Pinned(Guard);

impl Resolve for Pinned {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let addrs = guard.resolve(name.as_str()).await?;
            let addrs: Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// A page fetched.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where the body came from, after redirects.
    pub url: Url,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("fetching failed: {0}")]
    Http(String),
}

/// The client every outside URL is fetched with.
#[derive(Clone)]
pub struct Fetcher {
    guard: Guard,
    client: reqwest::Client,
}

impl Fetcher {
    pub fn new(guard: Guard, user_agent: &str) -> Result<Self, FetchError> {
        let redirect_guard = guard.clone();
        let client = crate::tls::client_builder()
            .no_proxy()
            .user_agent(user_agent)
            .timeout(guard.policy.timeout)
            .connect_timeout(guard.policy.timeout.min(Duration::from_secs(10)))
            .dns_resolver(Arc::new(Pinned(guard.clone())))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    attempt.error(FetchError::Http(format!(
                        "more than {MAX_REDIRECTS} redirects"
                    )))
                } else if let Err(e) = redirect_guard.check_url(attempt.url()) {
                    attempt.error(e)
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .map_err(|e| FetchError::Http(e.to_string()))?;
        Ok(Self { guard, client })
    }

    /// How long one request may take, redirects included.
    pub fn timeout(&self) -> Duration {
        self.guard.policy.timeout
    }

    /// GETs `url` under the guard's rules; the body is read up to the size limit.
    pub async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        let url = Url::parse(url).map_err(|_| Refusal::Invalid(url.to_owned()))?;
        self.guard.check_url(&url)?;
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| refusal_in(&e).map_or_else(|| http_error(&e), FetchError::Refused))?;
        // A redirect reqwest would not follow (to another scheme, say): refused for the reason the
        // guard gives, never handed on as a page.
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| response.url().join(l).ok());
            return Err(match location {
                Some(next) => match self.guard.check_url(&next) {
                    Err(refusal) => FetchError::Refused(refusal),
                    Ok(()) => FetchError::Http(format!("a redirect to {next} was not followed")),
                },
                None => FetchError::Http("a redirect without a usable Location".into()),
            });
        }
        let max = self.guard.policy.max_bytes;
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(FetchError::TooLarge(max));
        }
        let fetched_url = response.url().clone();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| http_error(&e))? {
            if body.len() + chunk.len() > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            url: fetched_url,
            status,
            content_type,
            body,
        })
    }
}

/// The guard's refusal inside reqwest's error (from the resolver or the redirect policy), if that is
/// what stopped the request.
fn refusal_in(e: &reqwest::Error) -> Option<Refusal> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(r) = err.downcast_ref::<Refusal>() {
            return Some(r.clone());
        }
        source = err.source();
    }
    None
}

fn http_error(e: &reqwest::Error) -> FetchError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        message = format!("{message}: {err}");
        source = err.source();
    }
    FetchError::Http(message)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_non_public_kind_of_address_is_named_and_public_ones_pass() {
        for (addr, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("::1", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("fd00:ec2::254", "private"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("::", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("240.0.0.1", "reserved"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a00:1", "private"),
        ] {
            let ip: IpAddr = addr.parse().unwrap();
            assert_eq!(forbidden_kind(ip), Some(kind), "{addr}");
        }
        for addr in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "100.128.0.1",
        ] {
            assert_eq!(forbidden_kind(addr.parse().unwrap()), None, "{addr}");
        }
    }

    fn guard() -> Guard {
        Guard::with_resolver(FetchPolicy::default(), Arc::new(StaticResolver::default()))
    }

    #[test]
    fn urls_are_checked_for_scheme_port_credentials_and_written_addresses() {
        let g = guard();
        let check = |u: &str| g.check_url(&Url::parse(u).unwrap());
        assert_eq!(check("https://example.com/a"), Ok(()));
        assert_eq!(check("http://example.com:80/"), Ok(()));
        assert_eq!(
            check("ftp://example.com/"),
            Err(Refusal::Scheme("ftp".into()))
        );
        assert_eq!(
            check("file:///etc/passwd"),
            Err(Refusal::Scheme("file".into()))
        );
        assert_eq!(check("http://example.com:8080/"), Err(Refusal::Port(8080)));
        assert_eq!(
            check("https://user:pw@example.com/"),
            Err(Refusal::Credentials)
        );
        assert!(matches!(
            check("http://169.254.169.254/latest/meta-data/"),
            Err(Refusal::Address {
                kind: "link-local",
                ..
            })
        ));
        assert!(matches!(
            check("http://[::1]/"),
            Err(Refusal::Address {
                kind: "loopback",
                ..
            })
        ));
        // Other spellings of loopback parse to the same address.
        assert!(matches!(
            check("http://2130706433/"),
            Err(Refusal::Address {
                kind: "loopback",
                ..
            })
        ));
        assert!(matches!(
            check("http://0x7f.1/"),
            Err(Refusal::Address {
                kind: "loopback",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn a_name_is_refused_when_any_of_its_addresses_is_not_public() {
        let resolver = StaticResolver(HashMap::from([
            (
                "mixed.test".to_owned(),
                vec![
                    "93.184.216.34".parse().unwrap(),
                    "10.1.2.3".parse().unwrap(),
                ],
            ),
            (
                "public.test".to_owned(),
                vec!["93.184.216.34".parse().unwrap()],
            ),
        ]));
        let g = Guard::with_resolver(FetchPolicy::default(), Arc::new(resolver));
        assert!(matches!(
            g.resolve("mixed.test").await,
            Err(Refusal::Address {
                kind: "private",
                ..
            })
        ));
        assert_eq!(g.resolve("public.test").await.unwrap().len(), 1);
        assert_eq!(
            g.resolve("nowhere.test").await,
            Err(Refusal::Unresolved("nowhere.test".into()))
        );
    }

    #[test]
    fn the_development_setting_lets_private_addresses_through() {
        let g = Guard::with_resolver(
            FetchPolicy {
                allow_private: true,
                ..FetchPolicy::default()
            },
            Arc::new(StaticResolver::default()),
        );
        assert_eq!(
            g.check_url(&Url::parse("http://127.0.0.1/").unwrap()),
            Ok(())
        );
        // The other rules stay.
        assert_eq!(
            g.check_url(&Url::parse("http://127.0.0.1:22/").unwrap()),
            Err(Refusal::Port(22))
        );
    }
}
