//! `/api/v1/stripe/*`: the Stripe webhook (signature over the raw body, each event applied at most once).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use studio::error::{ErrorBody, ErrorCode};
use studio::services::billing::{self, WebhookOutcome};
use studio::{ApiError, AppState};
use utoipa::OpenApi;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/stripe/health", get(health))
        .route("/api/v1/stripe/webhook", post(webhook))
}

#[derive(OpenApi)]
#[openapi(paths(health, webhook), components(schemas(WebhookOutcome)), tags((name = "stripe", description = "Stripe webhooks")))]
pub struct ApiDoc;

/// Liveness and database reachability of the Stripe function.
#[utoipa::path(operation_id = "stripeHealth", get, path = "/api/v1/stripe/health", tag = "stripe",
    responses((status = 200, body = studio::http::app::Health), (status = 503, body = studio::http::app::Health)))]
async fn health(state: State<AppState>) -> Response {
    studio::http::health(state).await
}

/// Receives a Stripe event. The `Stripe-Signature` header is checked over the raw body (HMAC-SHA256,
/// several `v1` values accepted, 300 s tolerance); each event is applied at most once, and an event older
/// than the subscription state already applied changes nothing. Unknown types are acknowledged.
#[utoipa::path(operation_id = "stripeWebhook", post, path = "/api/v1/stripe/webhook", tag = "stripe",
    params(("Stripe-Signature" = String, Header, description = "t=<unix time>,v1=<hex HMAC-SHA256>")),
    request_body(content = String, description = "The raw Stripe event JSON", content_type = "application/json"),
    responses(
        (status = 200, body = WebhookOutcome),
        (status = 400, description = "invalid_signature or malformed_json", body = ErrorBody),
        (status = 503, description = "the webhook secret is not configured, or the database is down (Stripe retries)", body = ErrorBody)))]
async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookOutcome>, ApiError> {
    let secrets = &state.config.billing.webhook_secrets;
    if secrets.is_empty() {
        return Err(ApiError::new(
            ErrorCode::ServiceUnavailable,
            "STRIPE_WEBHOOK_SECRET is not configured, so no event can be verified; set it and Stripe will retry.",
        ));
    }
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidSignature,
                "The Stripe-Signature header is missing.",
            )
        })?;
    billing::verify_signature(signature, &body, secrets, chrono::Utc::now().timestamp())?;
    Ok(Json(billing::handle_event(&state, &body).await?))
}
