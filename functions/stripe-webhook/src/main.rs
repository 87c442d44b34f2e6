//! The Stripe route group on AWS Lambda (`/api/v1/stripe/*`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    studio::telemetry::init();
    let state = studio::lambda::app_state().await?;
    if state.config.on_lambda && state.config.billing.webhook_secrets.is_empty() {
        return Err("missing required configuration STRIPE_WEBHOOK_SECRET: set it in the APP_SECRETS_ARN secret".into());
    }
    let state = studio::billing::BillingState::new(state)?;
    lambda_http::run(studio::http::app(stripe_webhook::routes(), state)).await
}
