//! `/api/v1/stripe/*`: the Stripe webhook (signature over the raw body, each event applied at most once).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use studio::auth::{Owner, Tenant};
use studio::billing::{self, Plan, WebhookOutcome};
use studio::error::{ErrorBody, ErrorCode};
use studio::http::ValidJson;
use studio::state::BillingState;
use studio::{ApiError, AppState};
use utoipa::OpenApi;

pub fn routes() -> Router<BillingState> {
    Router::new()
        .route(HEALTH.path, get(studio::http::health))
        .route("/api/v1/stripe/webhook", post(webhook))
        .route("/api/v1/stripe/checkout", post(checkout))
        .route("/api/v1/stripe/portal", post(portal))
}

#[derive(serde::Deserialize, validator::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckoutRequest {
    /// pro or business
    #[validate(custom(function = "paid_plan"))]
    pub plan: String,
}

const NOT_A_PAID_PLAN: &str = "must be pro or business";

impl CheckoutRequest {
    /// The paid plan asked for (`None` only for a request that did not pass validation).
    fn paid_plan(&self) -> Option<Plan> {
        Plan::parse(&self.plan).filter(|p| p.is_paid())
    }
}

fn paid_plan(plan: &str) -> Result<(), validator::ValidationError> {
    match Plan::parse(plan) {
        Some(p) if p.is_paid() => Ok(()),
        _ => Err(validator::ValidationError::new("plan").with_message(NOT_A_PAID_PLAN.into())),
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct UrlResponse {
    /// Send the customer's browser here.
    pub url: String,
}

/// Starts a Stripe Checkout for a paid plan (owner only; workspace from `X-Workspace-Id` or the token).
#[utoipa::path(operation_id = "stripeCheckout", post, path = "/api/v1/stripe/checkout", tag = "stripe", security(("bearer" = [])),
    request_body = CheckoutRequest,
    responses((status = 200, body = UrlResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, description = "billing_not_configured (STRIPE_PRICE_PRO, STRIPE_PRICE_BUSINESS or STRIPE_SECRET_KEY is missing: `details.variable` names it; retrying will not help) or service_unavailable (Stripe or the database is down: retry)", body = ErrorBody)))]
async fn checkout(
    State(state): State<BillingState>,
    tenant: Tenant<Owner>,
    ValidJson(req): ValidJson<CheckoutRequest>,
) -> Result<Json<UrlResponse>, ApiError> {
    let plan = req
        .paid_plan()
        .ok_or_else(|| ApiError::field("plan", NOT_A_PAID_PLAN))?;
    let url = billing::checkout::checkout(&state, &tenant, plan).await?;
    Ok(Json(UrlResponse { url }))
}

/// Opens Stripe's billing portal for the workspace's customer (owner only).
#[utoipa::path(operation_id = "stripePortal", post, path = "/api/v1/stripe/portal", tag = "stripe", security(("bearer" = [])),
    responses((status = 200, body = UrlResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "no subscription yet", body = ErrorBody), (status = 503, description = "billing_not_configured (STRIPE_SECRET_KEY is missing) or service_unavailable (Stripe or the database is down: retry)", body = ErrorBody)))]
async fn portal(
    State(state): State<BillingState>,
    tenant: Tenant<Owner>,
) -> Result<Json<UrlResponse>, ApiError> {
    Ok(Json(UrlResponse {
        url: billing::checkout::portal(&state, &tenant).await?,
    }))
}

/// Liveness and database reachability of the Stripe function.
const HEALTH: studio::openapi::HealthRoute = studio::openapi::HealthRoute {
    path: "/api/v1/stripe/health",
    operation_id: "stripeHealth",
    tag: "stripe",
    summary: "Liveness and database reachability of the Stripe function.",
};

#[derive(OpenApi)]
#[openapi(paths(webhook, checkout, portal), components(schemas(WebhookOutcome, CheckoutRequest, UrlResponse)), tags((name = "stripe", description = "Stripe webhooks")), modifiers(&HEALTH))]
pub struct ApiDoc;

/// Receives a Stripe event. The `Stripe-Signature` header is checked over the raw body (HMAC-SHA256,
/// several `v1` values accepted, 300 s tolerance); each event is applied at most once, and an event older
/// than the subscription state already applied changes nothing. Unknown types are acknowledged.
#[utoipa::path(operation_id = "stripeWebhook", post, path = "/api/v1/stripe/webhook", tag = "stripe",
    params(("Stripe-Signature" = String, Header, description = "t=<unix time>,v1=<hex HMAC-SHA256>")),
    request_body(content = String, description = "The raw Stripe event JSON", content_type = "application/json"),
    responses(
        (status = 200, body = WebhookOutcome),
        (status = 400, description = "invalid_signature or malformed_json", body = ErrorBody),
        (status = 503, description = "billing_not_configured (STRIPE_WEBHOOK_SECRET is missing) or service_unavailable (the database is down); Stripe retries either", body = ErrorBody)))]
async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookOutcome>, ApiError> {
    let secrets = &state.config.billing.webhook_secrets;
    if secrets.is_empty() {
        // Still a 503, so Stripe keeps retrying the event until the secret is set.
        return Err(ApiError::billing_not_configured(
            "STRIPE_WEBHOOK_SECRET",
            "no webhook signing secret is set, so no event can be verified (Stripe retries the event)",
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
