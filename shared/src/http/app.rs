//! Wraps a route group's routes into the service that runs on Lambda and in the devserver: request ids,
//! tracing, CORS from configuration (the public routes' own per key, see [`crate::http::public`]), the 4 MB body limit, and JSON answers for unknown routes and methods.

use crate::error::{ApiError, ErrorCode};
use crate::http::{idempotency, request_id};
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::ToSchema;

/// Lambda's synchronous payload limit is 6 MB including the event envelope; bodies above 4 MB get a 413
/// from us rather than a gateway error.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The routes plus every cross-cutting layer, ready for `lambda_http::run` or a TCP listener.
pub fn app<S>(routes: Router<S>, state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
    AppState: FromRef<S>,
{
    let core = AppState::from_ref(&state);
    let cors = cors(&core.config.cors_allowed_origins);
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            core,
            crate::http::ratelimit::middleware,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        // The public routes' own CORS, outside the member API's (whose layer then sees no Origin there).
        .layer(axum::middleware::from_fn(crate::http::public::cors))
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(state)
}

fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            http::header::AUTHORIZATION,
            http::header::CONTENT_TYPE,
            HeaderName::from_static("x-workspace-id"),
            HeaderName::from_static(idempotency::HEADER),
            HeaderName::from_static(request_id::HEADER),
        ])
        .expose_headers([HeaderName::from_static(request_id::HEADER)])
        .max_age(std::time::Duration::from_secs(600))
}

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "No such route; see GET /api/v1/openapi.json for the API.",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "This route does not accept that method.",
    )
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok` when every dependency answers, else `degraded`.
    pub status: &'static str,
    /// `up` or `down`.
    pub database: &'static str,
    pub version: &'static str,
}

/// The health answer shared by every route group: 200 when the database answers, 503 when it does not.
pub async fn health(State(state): State<AppState>) -> Response {
    let up = crate::db::ping(&state.db).await;
    let body = Health {
        status: if up { "ok" } else { "degraded" },
        database: if up { "up" } else { "down" },
        version: env!("CARGO_PKG_VERSION"),
    };
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}
