//! The one way this service builds HTTP clients for the vendors it calls (Upstash, OpenAI, Stripe).
//!
//! Server certificates are verified against Mozilla's root store compiled into the binary
//! (`webpki-root-certs`), not the operating system's: loading and parsing the system store cost every cold
//! start about 55 ms, and every vendor here uses a public CA. A server behind a private CA (a self-hosted
//! OpenAI-compatible endpoint, say) needs its CA added here.

use std::sync::OnceLock;

fn roots() -> &'static [reqwest::Certificate] {
    static ROOTS: OnceLock<Vec<reqwest::Certificate>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok())
            .collect()
    })
}

/// A client builder with the compiled-in roots; callers add their timeouts.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_certs_only(roots().iter().cloned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn when_the_roots_are_loaded_the_store_is_not_empty() {
        assert!(super::roots().len() > 100);
        assert!(super::client_builder().build().is_ok());
    }
}
