//! The one TLS set-up for every outbound connection: the vendors this service calls (Upstash, OpenAI,
//! Stripe, Sentry), PostgreSQL over TLS and the AWS SDK all use ring, the one crypto provider linked into
//! the binaries (qdrant-client's gRPC transport requires it; a second provider cost every bundle ~1 MB).
//!
//! Vendor certificates are verified against Mozilla's root store compiled into the binary as ready trust
//! anchors (`webpki-roots`): nothing is loaded or parsed at cold start (the system store cost ~55 ms), and
//! every vendor here uses a public CA. A server behind a private CA (a self-hosted OpenAI-compatible
//! endpoint, say) needs its CA added in [`vendor_tls`].

use std::sync::{Arc, OnceLock};

/// The crypto provider every TLS client of this service uses.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// TLS for vendor APIs: TLS 1.2 and 1.3 over ring, Mozilla's roots.
fn vendor_tls() -> &'static rustls::ClientConfig {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth()
    })
}

/// A client builder with the vendor TLS set-up; callers add their timeouts.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(vendor_tls().clone())
}

#[cfg(test)]
pub(crate) mod tests {
    #[test]
    fn the_vendor_tls_trusts_mozillas_roots_over_ring() {
        assert!(super::vendor_tls().crypto_provider().cipher_suites.len() > 3);
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        assert!(super::client_builder().build().is_ok());
    }

    /// A local TLS server presenting a self-signed certificate for `localhost`: its `https://` address and
    /// the task serving it. A verifying client completes no handshake with it.
    pub(crate) async fn self_signed_server() -> (String, tokio::task::JoinHandle<()>) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let server = rustls::ServerConfig::builder_with_provider(super::crypto_provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let _ = acceptor.accept(socket).await;
            }
        });
        (format!("https://localhost:{port}"), task)
    }

    #[tokio::test]
    async fn a_vendor_whose_certificate_no_public_ca_signed_is_refused() {
        let (url, _server) = self_signed_server().await;
        let client = super::client_builder().build().expect("client");
        let err = client
            .get(format!("{url}/"))
            .send()
            .await
            .expect_err("a self-signed certificate must not be trusted");
        let chain = format!("{:?}", anyhow::Error::from(err));
        assert!(chain.contains("UnknownIssuer"), "{chain}");
    }
}
