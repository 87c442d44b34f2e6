//! The one place an OpenAI client is built (embeddings and chat share it): key, `OPENAI_BASE_URL` for any
//! compatible server, a request timeout, and async-openai's retry layer — 429 and 5xx retried with
//! exponential backoff that honours `Retry-After`, `OPENAI_MAX_RETRIES` times.

use crate::config::KnowledgeConfig;
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::middleware::ReqwestService;
use async_openai::middleware::retry::OpenAIRetryLayer;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

pub fn client(
    cfg: &KnowledgeConfig,
    key: &SecretString,
    timeout: Duration,
) -> anyhow::Result<Client<OpenAIConfig>> {
    let mut oa = OpenAIConfig::new().with_api_key(key.expose_secret());
    if let Some(base) = &cfg.openai_base_url {
        oa = oa.with_api_base(base.trim_end_matches('/'));
    }
    let http = crate::tls::client_builder().timeout(timeout).build()?;
    let service = tower::ServiceBuilder::new()
        .layer(OpenAIRetryLayer::new(cfg.openai_max_retries))
        .service(ReqwestService::new(http.clone()));
    // `build`, not `with_config`: the latter makes a default reqwest client of its own first.
    Ok(Client::build(http, oa).with_http_service(service))
}
