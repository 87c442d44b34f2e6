//! Stripe's REST API (form-encoded), for the two calls the platform makes: a Checkout Session and a
//! billing-portal session. The Checkout Session carries the workspace id as `client_reference_id` and in
//! `metadata.workspaceId`, copied into the subscription's metadata, so every later event finds its tenant.

use secrecy::ExposeSecret;
use studio::config::BillingConfig;
use studio::{ApiError, WorkspaceId};

#[derive(serde::Deserialize)]
struct SessionUrl {
    url: String,
}

fn unavailable(e: impl Into<anyhow::Error>) -> ApiError {
    ApiError::unavailable("payment provider (Stripe)", e)
}

async fn post(
    cfg: &BillingConfig,
    http: &reqwest::Client,
    path: &str,
    form: &[(&str, String)],
) -> Result<String, ApiError> {
    let key = cfg.stripe_secret_key.as_ref().ok_or_else(|| {
        ApiError::billing_not_configured(
            "STRIPE_SECRET_KEY",
            "no Stripe API key is set, so Stripe cannot be called",
        )
    })?;
    let response = http
        .post(format!("{}{path}", cfg.api_base))
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

/// The form of a Checkout Session for `plan` (a plain function, so its contents are tested on their own).
pub fn checkout_form(
    cfg: &BillingConfig,
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
            format!("{}/billing?checkout=success", cfg.app_url),
        ),
        (
            "cancel_url",
            format!("{}/billing?checkout=cancel", cfg.app_url),
        ),
    ];
    if let Some(c) = customer {
        form.push(("customer", c.to_owned()));
    }
    form
}

pub async fn checkout(
    cfg: &BillingConfig,
    http: &reqwest::Client,
    workspace: WorkspaceId,
    price: &str,
    customer: Option<&str>,
) -> Result<String, ApiError> {
    post(
        cfg,
        http,
        "/v1/checkout/sessions",
        &checkout_form(cfg, workspace, price, customer),
    )
    .await
}

pub async fn portal(
    cfg: &BillingConfig,
    http: &reqwest::Client,
    customer: &str,
) -> Result<String, ApiError> {
    let form = [
        ("customer", customer.to_owned()),
        ("return_url", format!("{}/billing", cfg.app_url)),
    ];
    post(cfg, http, "/v1/billing_portal/sessions", &form).await
}
