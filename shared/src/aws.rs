//! The AWS SDK's configuration (region, credentials chain, `AWS_ENDPOINT_URL`, the HTTPS client over the
//! one TLS provider), loaded once per process and shared by every client built at cold start (Secrets
//! Manager, SQS, SES).

static CONFIG: tokio::sync::OnceCell<aws_config::SdkConfig> = tokio::sync::OnceCell::const_new();

/// The process's configuration, loaded on first use.
pub async fn config() -> &'static aws_config::SdkConfig {
    CONFIG.get_or_init(load).await
}

/// A freshly loaded configuration (tests that change the environment between loads).
pub async fn load() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// Amazon Trust Services' roots, which every AWS service endpoint (and its VPC interface endpoints)
/// chains to. The SDK trusts these alone: its default, the system store, is read from disk and parsed when
/// a client is built, which cost every cold start several milliseconds.
const AMAZON_ROOTS: &str = include_str!("../certs/amazon-trust-services.pem");

/// The SDK's HTTPS client over ring, the one crypto provider in the binaries (see
/// [`crate::tls`]), trusting [`AMAZON_ROOTS`].
fn https_client() -> aws_sdk_sqs::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let trust = tls::TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_ROOTS.as_bytes());
    let context = tls::TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context from a trust store always builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(context)
        .build_https()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sdk_trusts_the_five_amazon_trust_services_roots() {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let certs = CertificateDer::pem_slice_iter(super::AMAZON_ROOTS.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("valid PEM");
        assert_eq!(certs.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        let (valid, invalid) = store.add_parsable_certificates(certs);
        assert_eq!((valid, invalid), (5, 0));
    }

    #[tokio::test]
    async fn an_aws_endpoint_whose_certificate_amazon_did_not_issue_is_refused() {
        let (endpoint, _server) = crate::tls::tests::self_signed_server().await;
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(super::https_client())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::for_tests())
            .load()
            .await;
        let err = aws_sdk_sqs::Client::new(&sdk)
            .list_queues()
            .send()
            .await
            .expect_err("a self-signed certificate must not be trusted");
        let chain = format!("{:?}", anyhow::Error::from(err));
        assert!(chain.contains("UnknownIssuer"), "{chain}");
    }
}
