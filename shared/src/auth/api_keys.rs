//! Workspace API keys: their format, their scopes, and the one origin matcher publishable keys use.
//!
//! A key is `pk_ws_` (publishable, for browsers) or `sk_ws_` (secret, for a tenant's backend) followed by
//! 256 random bits from the OS as 43 base64url characters. It is shown once; only its SHA-256 is stored
//! (a 256-bit random secret needs no slow hash: the lookup is by hash, so nothing is compared in variable
//! time) with its first [`DISPLAY_PREFIX_LEN`] characters, enough to recognise it in a list.
//!
//! **Origins** (publishable keys) are written by the admin as:
//! - an exact origin `https://shop.example.com` or `https://shop.example.com:8443` — scheme, host and
//!   optional port, nothing else (no path, no trailing slash, no user, no trailing dot); the host is stored
//!   lower-cased and a default port (`:443`, `:80`) is dropped, as browsers send it;
//! - one leading wildcard label `https://*.example.com`, which matches exactly one label more
//!   (`https://a.example.com`; not `https://a.b.example.com`, not `https://example.com`, not
//!   `https://evil-example.com`) — a wildcard over several labels would hand the key to any sub-sub-domain
//!   a tenant delegates; the part after `*.` needs two labels at least (`https://*.com` is refused);
//! - `http://` only for `localhost` or `127.0.0.1`, where `http://localhost:*` allows any port (any other
//!   host must be `https://`, and only localhost may have a port wildcard).
//!
//! An empty list allows nothing: deny by default.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// Characters of a key kept (and listed) to recognise it: the kind's prefix and 6 random characters.
pub const DISPLAY_PREFIX_LEN: usize = 12;

/// Who a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// For browsers: bound to `allowedOrigins`, opens only the public routes.
    Publishable,
    /// For the tenant's backend: opens the member routes its scopes allow; refused from browsers.
    Secret,
}

impl KeyKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            KeyKind::Publishable => "pk_ws_",
            KeyKind::Secret => "sk_ws_",
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            KeyKind::Publishable => "publishable",
            KeyKind::Secret => "secret",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        match value {
            "publishable" => Some(KeyKind::Publishable),
            "secret" => Some(KeyKind::Secret),
            _ => None,
        }
    }

    /// The kind a bearer token claims by its prefix: anything starting `pk_ws_` / `sk_ws_` is a key (a
    /// malformed one is then unknown, 401), never an access token.
    pub fn of_token(token: &str) -> Option<Self> {
        [KeyKind::Secret, KeyKind::Publishable]
            .into_iter()
            .find(|k| token.starts_with(k.prefix()))
    }
}

/// What a secret key may do on the member routes of the agents group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// A turn (`/run`, `/stream`), conversations, feedback, escalation.
    Chat,
    /// Ingest, documents, search.
    Ingest,
    /// Every GET route of the agents group.
    Read,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Chat, Scope::Ingest, Scope::Read];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Chat => "chat",
            Scope::Ingest => "ingest",
            Scope::Read => "read",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key just made: the whole key (shown once), what is stored of it.
#[derive(Debug)]
pub struct NewKey {
    pub key: String,
    pub hash: Vec<u8>,
    pub prefix: String,
}

/// A new key of this kind, from the OS's random source.
pub fn generate(kind: KeyKind) -> anyhow::Result<NewKey> {
    let (key, hash) = super::refresh::generate_prefixed(kind.prefix())?;
    Ok(NewKey {
        hash,
        prefix: key[..DISPLAY_PREFIX_LEN].to_owned(),
        key,
    })
}

/// What is stored of a key, and looked up by: the SHA-256 of the whole key.
pub fn hash(key: &str) -> Vec<u8> {
    super::refresh::hash(key)
}

/// Whether a token has the shape of a key of its kind (prefix and 43 base64url characters); a token that
/// has not is refused without a lookup.
pub fn is_well_formed(token: &str) -> bool {
    KeyKind::of_token(token)
        .is_some_and(|kind| super::refresh::is_prefixed_token(token, kind.prefix()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    const fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    const fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A browser origin: scheme, lower-cased host, and a port unless the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: Scheme,
    host: String,
    port: Option<u16>,
}

const LOOPBACK_HOSTS: [&str; 2] = ["localhost", "127.0.0.1"];

/// Splits `scheme://host[:port]` (nothing more) into its parts; the host is returned as written.
fn split(value: &str) -> Result<(Scheme, &str, Option<&str>), &'static str> {
    let (scheme, rest) = if let Some(rest) = value.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = value.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return Err("must start with https:// (or http:// for localhost)");
    };
    if rest.contains(['/', '?', '#', '@', '\\']) || rest.chars().any(char::is_whitespace) {
        return Err(
            "must be an origin only: scheme, host and port, without a path or a trailing slash",
        );
    }
    Ok(match rest.rsplit_once(':') {
        Some((host, port)) => (scheme, host, Some(port)),
        None => (scheme, rest, None),
    })
}

/// A DNS name of ASCII labels (IDNs in their `xn--` form), or `127.0.0.1`.
fn valid_host(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn parse_port(port: &str) -> Option<u16> {
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse::<u16>().ok().filter(|p| *p != 0)
}

impl Origin {
    /// A request's `Origin` header; `None` for anything that is not a plain origin (`null` included).
    fn parse(value: &str) -> Option<Self> {
        let (scheme, host, port) = split(value).ok()?;
        let host = host.to_ascii_lowercase();
        if !valid_host(&host) {
            return None;
        }
        let port = match port {
            None => None,
            Some(p) => Some(parse_port(p)?).filter(|p| *p != scheme.default_port()),
        };
        Some(Self { scheme, host, port })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.{0}`: exactly one label before this suffix.
    OneLabelOf(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    /// The scheme's default port.
    Default,
    Exact(u16),
    /// `:*`, on localhost only.
    Any,
}

/// One entry of a publishable key's `allowedOrigins`, parsed and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: Scheme,
    host: HostPattern,
    port: PortPattern,
}

impl OriginPattern {
    /// An entry as an admin wrote it; the error says what is wrong, for a 400 naming the entry.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let (scheme, host, port) = split(value)?;
        let host = host.to_ascii_lowercase();
        let loopback = LOOPBACK_HOSTS.contains(&host.as_str());
        if scheme == Scheme::Http && !loopback {
            return Err("must use https:// (http:// only for localhost or 127.0.0.1)");
        }
        let port = match port {
            None => PortPattern::Default,
            Some("*") if loopback => PortPattern::Any,
            Some("*") => return Err("may have a port wildcard (:*) only on localhost"),
            Some(p) => match parse_port(p) {
                Some(p) if p == scheme.default_port() => PortPattern::Default,
                Some(p) => PortPattern::Exact(p),
                None => return Err("must have a port from 1 to 65535"),
            },
        };
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            if !valid_host(suffix) || !suffix.contains('.') {
                return Err(
                    "may have one leading wildcard label over a domain of two labels or more (https://*.example.com)",
                );
            }
            HostPattern::OneLabelOf(suffix.to_owned())
        } else if host.contains('*') {
            return Err(
                "may have a wildcard only as its whole first label (https://*.example.com)",
            );
        } else if !valid_host(&host) {
            return Err(
                "must have a host name of letters, digits, hyphens and dots (no trailing dot)",
            );
        } else {
            HostPattern::Exact(host)
        };
        Ok(Self { scheme, host, port })
    }

    fn matches(&self, origin: &Origin) -> bool {
        let port_ok = match self.port {
            PortPattern::Default => origin.port.is_none(),
            PortPattern::Exact(p) => origin.port == Some(p),
            PortPattern::Any => true,
        };
        let host_ok = match &self.host {
            HostPattern::Exact(h) => *h == origin.host,
            HostPattern::OneLabelOf(suffix) => origin
                .host
                .strip_suffix(suffix.as_str())
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        };
        self.scheme == origin.scheme && port_ok && host_ok
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        match &self.host {
            HostPattern::Exact(h) => f.write_str(h)?,
            HostPattern::OneLabelOf(s) => write!(f, "*.{s}")?,
        }
        match self.port {
            PortPattern::Default => Ok(()),
            PortPattern::Exact(p) => write!(f, ":{p}"),
            PortPattern::Any => f.write_str(":*"),
        }
    }
}

/// Whether a request's `Origin` is allowed by a key's list (as stored: normalised patterns). An empty
/// list, a missing or `null` origin, or an entry that no longer parses allow nothing.
pub fn origin_allowed(allowed: &[String], origin: Option<&str>) -> bool {
    let Some(origin) = origin.and_then(Origin::parse) else {
        return false;
    };
    allowed
        .iter()
        .filter_map(|p| OriginPattern::parse(p).ok())
        .any(|p| p.matches(&origin))
}

/// Entries of `allowedOrigins`, at most.
pub const MAX_ORIGINS: usize = 50;

/// The `validator` rule of `allowedOrigins`: each entry an origin pattern (see the module's rules), at
/// most [`MAX_ORIGINS`]; the message names the first bad entry.
pub fn valid_origins(origins: &[String]) -> Result<(), validator::ValidationError> {
    let fail = |message: String| {
        Err(validator::ValidationError::new("origins").with_message(message.into()))
    };
    if origins.len() > MAX_ORIGINS {
        return fail(format!("must hold at most {MAX_ORIGINS} origins"));
    }
    for (i, origin) in origins.iter().enumerate() {
        if origin.len() > 300 {
            return fail(format!("entry {i} must be at most 300 characters"));
        }
        if let Err(why) = OriginPattern::parse(origin) {
            return fail(format!("entry {i} ({origin:?}) {why}"));
        }
    }
    Ok(())
}

/// What a new key stores besides itself: normalised, deduplicated origins (publishable) or scopes
/// (secret). The rules between the fields: a publishable key needs `allowedOrigins` (an empty list is
/// accepted and allows nothing) and has no scopes; a secret key needs at least one scope — there is no
/// default, so that a key never gets more than its creator chose — and has no origins (it is never used
/// from a browser). Each broken rule names its field.
pub fn settings(
    kind: KeyKind,
    origins: Option<&[String]>,
    scopes: Option<&[Scope]>,
) -> Result<(Vec<String>, Vec<String>), Vec<crate::error::FieldError>> {
    let field = |field: &str, message: &str| crate::error::FieldError {
        field: field.into(),
        message: message.into(),
    };
    let mut errors = Vec::new();
    match kind {
        KeyKind::Publishable => {
            if origins.is_none() {
                errors.push(field("allowedOrigins", "is required for a publishable key: the origins (https://shop.example.com, https://*.example.com) its pages run on; an empty list allows nothing"));
            }
            if scopes.is_some() {
                errors.push(field(
                    "scopes",
                    "only a secret key has scopes; leave it out",
                ));
            }
        }
        KeyKind::Secret => {
            if origins.is_some() {
                errors.push(field("allowedOrigins", "only a publishable key has origins: a secret key is refused from browsers; leave it out"));
            }
            if scopes.is_none_or(<[Scope]>::is_empty) {
                errors.push(field(
                    "scopes",
                    "a secret key needs at least one scope: chat, ingest or read",
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut origins: Vec<String> = origins
        .unwrap_or_default()
        .iter()
        .filter_map(|o| OriginPattern::parse(o).ok())
        .map(|p| p.to_string())
        .collect();
    origins.sort();
    origins.dedup();
    let mut scopes = scopes.unwrap_or_default().to_vec();
    scopes.sort();
    scopes.dedup();
    Ok((
        origins,
        scopes.iter().map(|s| s.as_str().to_owned()).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(patterns: &[&str], origin: &str) -> bool {
        let stored: Vec<String> = patterns
            .iter()
            .map(|p| OriginPattern::parse(p).expect(p).to_string())
            .collect();
        origin_allowed(&stored, Some(origin))
    }

    #[test]
    fn when_keys_are_generated_they_carry_their_kind_and_256_random_bits_hashed_stably() {
        for kind in [KeyKind::Publishable, KeyKind::Secret] {
            let a = generate(kind).expect("rng");
            let b = generate(kind).expect("rng");
            assert_ne!(a.key, b.key);
            assert!(a.key.starts_with(kind.prefix()));
            assert_eq!(KeyKind::of_token(&a.key), Some(kind));
            assert!(is_well_formed(&a.key), "{}", a.key);
            let random = &a.key[kind.prefix().len()..];
            let decoded =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, random);
            assert_eq!(decoded.expect("base64").len(), 32);
            assert_eq!(a.hash, hash(&a.key));
            assert_eq!(a.hash.len(), 32);
            assert_eq!(a.prefix.len(), DISPLAY_PREFIX_LEN);
            assert!(a.key.starts_with(&a.prefix));
        }
    }

    #[test]
    fn when_a_token_only_resembles_a_key_it_is_not_well_formed() {
        let good = generate(KeyKind::Secret).expect("rng").key;
        assert!(!is_well_formed(&good[..good.len() - 1]));
        assert!(!is_well_formed(&format!("{good}A")));
        assert!(!is_well_formed(&format!("sk_ws_{}+", "A".repeat(42))));
        assert!(is_well_formed(&format!("sk_ws_{}", "A".repeat(43))));
        assert!(!is_well_formed(&format!("sk_live_{}", &good[6..])));
        assert!(!is_well_formed("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
        assert_eq!(KeyKind::of_token("eyJhbGciOiJIUzI1NiJ9.e30.sig"), None);
        assert_eq!(
            KeyKind::of_token("sk_live_abc"),
            None,
            "Stripe's keys are not ours"
        );
        assert_eq!(KeyKind::of_token("pk_ws_"), Some(KeyKind::Publishable));
    }

    #[test]
    fn when_an_origin_is_exact_only_that_origin_matches() {
        let p = ["https://shop.example.com"];
        assert!(allowed(&p, "https://shop.example.com"));
        assert!(
            allowed(&p, "https://SHOP.Example.COM"),
            "hosts compare case-blind"
        );
        assert!(
            allowed(&p, "https://shop.example.com:443"),
            "the default port is the same origin"
        );
        assert!(!allowed(&p, "http://shop.example.com"), "scheme");
        assert!(!allowed(&p, "https://shop.example.com:8443"), "port");
        assert!(
            !allowed(&p, "https://shop.example.com."),
            "a trailing dot is another origin"
        );
        assert!(!allowed(&p, "https://shop.example.com.evil.com"));
        assert!(!allowed(&p, "https://evilshop.example.com"));
        assert!(!allowed(&p, "https://a.shop.example.com"));
        assert!(!allowed(&p, "https://example.com"));
        assert!(
            !allowed(&p, "https://shop.example.com/"),
            "a path is no origin"
        );
        assert!(!allowed(&p, "null"));
        assert!(!allowed(
            &["https://example.com"],
            "https://example.com.evil.com"
        ));
        assert!(allowed(
            &["https://shop.example.com:8443"],
            "https://shop.example.com:8443"
        ));
        assert!(!allowed(
            &["https://shop.example.com:8443"],
            "https://shop.example.com"
        ));
    }

    #[test]
    fn when_an_origin_has_a_wildcard_it_matches_exactly_one_label() {
        let p = ["https://*.example.com"];
        assert!(allowed(&p, "https://a.example.com"));
        assert!(allowed(&p, "https://www.EXAMPLE.com"));
        assert!(!allowed(&p, "https://evil-example.com"));
        assert!(
            !allowed(&p, "https://example.com"),
            "the bare domain is not a subdomain"
        );
        assert!(!allowed(&p, "https://a.b.example.com"), "one label only");
        assert!(!allowed(&p, "https://a.example.com.evil.com"));
        assert!(!allowed(&p, "https://aexample.com"));
        assert!(!allowed(&p, "http://a.example.com"), "scheme");
        assert!(!allowed(&p, "https://a.example.com:8443"), "port");
        assert!(!allowed(&p, "https://.example.com"));
        assert!(!allowed(&p, "https://a.example.com."));
    }

    #[test]
    fn when_localhost_is_allowed_it_is_only_as_written() {
        assert!(allowed(&["http://localhost:*"], "http://localhost:5173"));
        assert!(allowed(&["http://localhost:*"], "http://localhost"));
        assert!(!allowed(&["http://localhost:*"], "https://localhost:5173"));
        assert!(!allowed(&["http://localhost:*"], "http://127.0.0.1:5173"));
        assert!(!allowed(
            &["http://localhost:*"],
            "http://localhost.evil.com:5173"
        ));
        assert!(allowed(&["http://localhost:3000"], "http://localhost:3000"));
        assert!(!allowed(
            &["http://localhost:3000"],
            "http://localhost:3001"
        ));
        assert!(allowed(&["http://127.0.0.1:8080"], "http://127.0.0.1:8080"));
    }

    #[test]
    fn when_the_list_is_empty_or_the_origin_missing_nothing_is_allowed() {
        assert!(!origin_allowed(&[], Some("https://shop.example.com")));
        assert!(!origin_allowed(&["https://shop.example.com".into()], None));
        assert!(!origin_allowed(
            &["garbage".into()],
            Some("https://shop.example.com")
        ));
    }

    #[test]
    fn when_an_admin_writes_an_origin_it_is_normalised_or_refused() {
        for (input, stored) in [
            ("https://Shop.Example.com", "https://shop.example.com"),
            ("https://shop.example.com:443", "https://shop.example.com"),
            (
                "https://shop.example.com:8443",
                "https://shop.example.com:8443",
            ),
            ("https://*.Example.com", "https://*.example.com"),
            ("http://localhost:*", "http://localhost:*"),
            ("http://localhost:80", "http://localhost"),
            (
                "https://xn--bcher-kva.example",
                "https://xn--bcher-kva.example",
            ),
        ] {
            assert_eq!(
                OriginPattern::parse(input).expect(input).to_string(),
                stored
            );
        }
        for bad in [
            "https://shop.example.com/",
            "https://shop.example.com/path",
            "https://shop.example.com?q=1",
            "https://shop.example.com#x",
            "https://user@shop.example.com",
            "*.example.com",
            "shop.example.com",
            "ftp://shop.example.com",
            "http://shop.example.com",
            "https://*",
            "https://*.com",
            "https://*.*.example.com",
            "https://a.*.example.com",
            "https://sh*p.example.com",
            "https://shop.example.com.",
            "https://shop..example.com",
            "https://-shop.example.com",
            "https://shop.example.com:*",
            "https://shop.example.com:0",
            "https://shop.example.com:65536",
            "https://shop.example.com:",
            "https://shop example.com",
            "https://bücher.example",
            "",
        ] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn when_a_key_is_described_its_fields_must_fit_its_kind() {
        let origins = vec![
            "https://B.example.com".to_owned(),
            "https://b.example.com".into(),
        ];
        let (o, s) = settings(KeyKind::Publishable, Some(&origins), None).expect("ok");
        assert_eq!(o, ["https://b.example.com"]);
        assert!(s.is_empty());
        assert!(
            settings(KeyKind::Publishable, Some(&[]), None).is_ok(),
            "empty: allows nothing"
        );
        type Settings = Result<(Vec<String>, Vec<String>), Vec<crate::error::FieldError>>;
        let named = |r: Settings| -> Vec<String> {
            r.expect_err("refused")
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(
            named(settings(KeyKind::Publishable, None, Some(&[Scope::Chat]))),
            ["allowedOrigins", "scopes"]
        );
        assert_eq!(
            named(settings(KeyKind::Secret, Some(&origins), None)),
            ["allowedOrigins", "scopes"]
        );
        assert_eq!(
            named(settings(KeyKind::Secret, None, Some(&[]))),
            ["scopes"]
        );
        let (o, s) = settings(
            KeyKind::Secret,
            None,
            Some(&[Scope::Read, Scope::Chat, Scope::Read]),
        )
        .expect("ok");
        assert!(o.is_empty());
        assert_eq!(s, ["chat", "read"]);
    }

    #[test]
    fn when_origins_are_validated_the_first_bad_entry_is_named() {
        assert!(
            valid_origins(&["https://a.example.com".into(), "http://localhost:*".into()]).is_ok()
        );
        let e = valid_origins(&[
            "https://a.example.com".into(),
            "https://shop.example.com/path".into(),
        ])
        .expect_err("refused");
        assert!(e.message.expect("message").contains("entry 1"));
        assert!(valid_origins(&vec!["https://a.example.com".to_owned(); MAX_ORIGINS + 1]).is_err());
    }
}
