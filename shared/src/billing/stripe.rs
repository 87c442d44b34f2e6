//! Stripe's REST API (form-encoded), for the two calls the platform makes: a Checkout Session and a
//! billing-portal session. The Checkout Session carries the workspace id as `client_reference_id` and in
//! `metadata.workspaceId`, copied into the subscription's metadata, so every later event finds its tenant.
//!
//! The client is built once per cold start ([`StripeClient::new`]) on the vendor TLS set-up with a
//! timeout; a missing API key is not a start-up failure but a `billing_not_configured` answer per call.

use crate::config::BillingConfig;
use crate::error::ApiError;
use crate::ids::WorkspaceId;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// How long one call to Stripe may take before the request fails as unavailable.
pub const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(serde::Deserialize)]
struct SessionUrl {
    url: String,
}

fn unavailable(e: impl Into<anyhow::Error>) -> ApiError {
    ApiError::unavailable("payment provider (Stripe)", e)
}

/// Stripe's API with this deployment's key, base URL and return pages.
#[derive(Clone, Debug)]
pub struct StripeClient {
    http: reqwest::Client,
    api_base: String,
    secret_key: Option<SecretString>,
    app_url: String,
}

impl StripeClient {
    /// Builds the HTTP client (vendor TLS, [`TIMEOUT`]); a failure here is a configuration error that
    /// fails the cold start.
    pub fn new(cfg: &BillingConfig, app_url: &str) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: crate::tls::client_builder().timeout(TIMEOUT).build()?,
            api_base: cfg.api_base.clone(),
            secret_key: cfg.stripe_secret_key.clone(),
            app_url: app_url.to_owned(),
        })
    }

    async fn post(&self, path: &str, form: &[(&str, String)]) -> Result<String, ApiError> {
        let key = self.secret_key.as_ref().ok_or_else(|| {
            ApiError::billing_not_configured(
                "STRIPE_SECRET_KEY",
                "no Stripe API key is set, so Stripe cannot be called",
            )
        })?;
        let response = self
            .http
            .post(format!("{}{path}", self.api_base))
            .bearer_auth(key.expose_secret())
            .form(form)
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(unavailable(anyhow::anyhow!(
                "Stripe answered {status} to {path}: {body}"
            )));
        }
        Ok(response
            .json::<SessionUrl>()
            .await
            .map_err(unavailable)?
            .url)
    }

    /// The form of a Checkout Session for the plan priced `price` (a plain function, so its contents are
    /// tested on their own).
    pub fn checkout_form(
        &self,
        workspace: WorkspaceId,
        price: &str,
        customer: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        let ws = workspace.to_string();
        let mut form = vec![
            ("mode", "subscription".to_owned()),
            ("line_items[0][price]", price.to_owned()),
            ("line_items[0][quantity]", "1".to_owned()),
            ("client_reference_id", ws.clone()),
            ("metadata[workspaceId]", ws.clone()),
            ("subscription_data[metadata][workspaceId]", ws),
            (
                "success_url",
                format!("{}/billing?checkout=success", self.app_url),
            ),
            (
                "cancel_url",
                format!("{}/billing?checkout=cancel", self.app_url),
            ),
        ];
        if let Some(c) = customer {
            form.push(("customer", c.to_owned()));
        }
        form
    }

    /// Starts a Checkout Session; the URL to send the customer's browser to.
    pub async fn checkout(
        &self,
        workspace: WorkspaceId,
        price: &str,
        customer: Option<&str>,
    ) -> Result<String, ApiError> {
        let form = self.checkout_form(workspace, price, customer);
        self.post("/v1/checkout/sessions", &form).await
    }

    /// Opens a billing-portal session for the customer; the URL to send their browser to.
    pub async fn portal(&self, customer: &str) -> Result<String, ApiError> {
        let form = [
            ("customer", customer.to_owned()),
            ("return_url", format!("{}/billing", self.app_url)),
        ];
        self.post("/v1/billing_portal/sessions", &form).await
    }
}
