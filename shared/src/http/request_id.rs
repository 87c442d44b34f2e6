//! Every request gets an id: API Gateway's, or the caller's `X-Request-Id`, or a new one. It is echoed in
//! the `X-Request-Id` response header and in every error body, and carried by the request's log span.
//! The context itself (who asks for the current id) is [`crate::telemetry::request_id`].

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

pub const HEADER: &str = "x-request-id";

fn from_request(req: &Request) -> String {
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) =
        req.extensions()
            .get::<lambda_http::request::RequestContext>()
        && let Some(id) = &ctx.request_id
    {
        return id.clone();
    }
    req.headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

pub async fn middleware(req: Request, next: Next) -> Response {
    let id = from_request(&req);
    let started = std::time::Instant::now();
    // `user_id` (or `api_key_id`) is filled in by the auth extractors once the token (or key) is verified.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        user_id = tracing::field::Empty,
        api_key_id = tracing::field::Empty,
    );
    let mut response = crate::telemetry::request_id::scope(
        id.clone(),
        tracing::Instrument::instrument(next.run(req), span.clone()),
    )
    .await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request completed"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}
