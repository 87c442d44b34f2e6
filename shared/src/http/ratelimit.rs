//! The rate-limit layer every route group runs behind. Budgets are per purpose, chosen by the route alone
//! (never by what a request carries, so adding a header cannot move a request to another budget):
//! - the credential routes — every `/api/v1/auth/*` route that takes no access token: register, login,
//!   token refresh, logout, password forgot/reset — are limited per client IP (by default failing closed
//!   when the limiter is down: a brute-force guard that silently switches off is no guard);
//! - every other route, the auth routes a verified access token opens (`/auth/me…`) included, is limited
//!   per client IP and per tenant: the workspace the verified token names, else its user — per user on
//!   `/auth/me…` (by default failing open, logged: an outage of the limiter must not take the API down).
//!
//! Both behaviours are configuration.
//! All of a request's limits are checked in one limiter round trip, and a request one of them refuses
//! counts against none; answers carry `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset`, and a refusal is `429 rate_limited` with `Retry-After`.

use crate::auth::api_keys::{self, KeyKind};
use crate::error::{ApiError, ErrorCode};
use crate::http::auth::{AuthUser, bearer};
use crate::ratelimit::{Decision, Limit};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use std::time::Duration;

const WINDOW: Duration = Duration::from_secs(60);

/// The client's IP: API Gateway's source IP on Lambda, else the first `X-Forwarded-For` hop (the
/// devserver), else `unknown`.
pub(crate) fn client_ip(extensions: &http::Extensions, headers: &http::HeaderMap) -> String {
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) =
        extensions.get::<lambda_http::request::RequestContext>()
        && let Some(ip) = &ctx.http.source_ip
    {
        return ip.clone();
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The auth routes that need an access token (see `auth-api`): account reads and settings, limited per
/// user like the rest of the API. Every other `/api/v1/auth/*` path is a credential route.
const AUTHENTICATED_AUTH_ROUTES: [&str; 3] = [
    "/api/v1/auth/me",
    "/api/v1/auth/me/default-workspace",
    "/api/v1/auth/me/export",
];
/// The linked identities (`/api/v1/auth/identities[/{id}]`): authenticated too.
const IDENTITIES_ROUTES: &str = "/api/v1/auth/identities";

/// What a request's budget protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Credential guessing: per client IP, failing closed by default.
    Credentials,
    /// Everything else: per client IP and per tenant, failing open by default.
    Api,
    /// The signed-in caller's own account (`/auth/me…`): like [`Purpose::Api`], per user.
    Account,
}

fn purpose(method: &http::Method, path: &str) -> Purpose {
    // Erasing the account checks its password again: a credential route, whoever's token comes with it.
    if method == http::Method::DELETE && path == "/api/v1/auth/me" {
        Purpose::Credentials
    } else if AUTHENTICATED_AUTH_ROUTES.contains(&path)
        || path == IDENTITIES_ROUTES
        || path
            .strip_prefix(IDENTITIES_ROUTES)
            .is_some_and(|rest| rest.starts_with('/'))
    {
        Purpose::Account
    } else if path.starts_with("/api/v1/auth/") {
        Purpose::Credentials
    } else {
        Purpose::Api
    }
}

/// The tenant a request counts against: the workspace its verified token names, else its user (always
/// its user for [`Purpose::Account`]), or the workspace key it carries. An unverified header never
/// chooses whose budget is spent. The verified caller is kept on the request, so that [`AuthUser`] does
/// not verify the token again.
async fn tenant_key(state: &AppState, req: &mut Request, purpose: Purpose) -> Option<String> {
    let token = bearer(req.headers().get(http::header::AUTHORIZATION)?)?.to_owned();
    if KeyKind::of_token(&token).is_some() {
        // A workspace key counts against itself, named by (part of) its hash: no lookup here, and an
        // unknown key costs its sender only the per-IP budget's worth of lookups.
        return Some(format!(
            "key:{}",
            hex::encode(&api_keys::hash(&token)[..16])
        ));
    }
    let user = AuthUser::verify(state, &token).await.ok()?;
    req.extensions_mut().insert(user);
    Some(match user.token_workspace {
        Some(wid) if purpose == Purpose::Api => format!("ws:{wid}"),
        _ => format!("user:{}", user.user_id),
    })
}

fn exempt(path: &str) -> bool {
    // Health and the document are cheap; Stripe's webhook is signed and retried by Stripe; the public
    // routes check their own budgets — per IP, key and visitor, and a turn's caps — in one round trip
    // (`http::public`); the widget's script files are static, served from memory and cached by browsers
    // (a limiter round trip would cost more than the answer, on every page view of every tenant's site).
    path.ends_with("/health")
        || path == "/api/v1/openapi.json"
        || path == "/api/v1/stripe/webhook"
        || path.starts_with(crate::http::public::PREFIX)
        || path.starts_with("/widget/")
}

pub(crate) fn set_headers(response: &mut Response, d: &Decision) {
    let h = response.headers_mut();
    let reset = d.reset.as_secs() + u64::from(d.reset.subsec_nanos() > 0);
    for (name, value) in [
        ("ratelimit-limit", d.limit),
        ("ratelimit-remaining", d.remaining),
        ("ratelimit-reset", reset),
    ] {
        h.insert(name, HeaderValue::from(value));
    }
}

pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if exempt(&path) {
        return next.run(req).await;
    }
    let rl = &state.config.rate_limits;
    let purpose = purpose(req.method(), &path);
    let auth = purpose == Purpose::Credentials;
    let fail_open = if auth {
        rl.auth_fail_open
    } else {
        rl.api_fail_open
    };
    let ip = client_ip(req.extensions(), req.headers());
    let limit = |key: String, limit: u64| Limit::window(key, limit, WINDOW);
    let mut limits = Vec::with_capacity(2);
    if auth {
        limits.push(limit(format!("rl:auth:ip:{ip}"), rl.auth_per_ip_per_minute));
    } else {
        limits.push(limit(format!("rl:api:ip:{ip}"), rl.api_per_ip_per_minute));
        if let Some(tenant) = tenant_key(&state, &mut req, purpose).await {
            limits.push(limit(
                format!("rl:api:{tenant}"),
                rl.api_per_tenant_per_minute,
            ));
        }
    }
    // Every limit of the request in one round trip; a refused request counts against none of them.
    let tightest = match state.limiter.check_all(&limits).await {
        Ok((admitted, decisions)) => {
            if !admitted && let Some(d) = decisions.iter().find(|d| !d.allowed) {
                // Whole seconds, rounded up: a client that waits Retry-After is admitted.
                let retry = (d.reset.as_secs() + u64::from(d.reset.subsec_nanos() > 0)).max(1);
                let mut response = ApiError::new(
                    ErrorCode::RateLimited,
                    format!("Too many requests; retry in {retry} s."),
                )
                .with_header(http::header::RETRY_AFTER, HeaderValue::from(retry))
                .into_response();
                set_headers(&mut response, d);
                return response;
            }
            decisions.into_iter().min_by_key(|d| d.remaining)
        }
        Err(e) if !fail_open => {
            tracing::error!(
                error = format!("{e:#}"),
                auth,
                "rate limiter unreachable; failing closed"
            );
            return ApiError::unavailable("rate limiter", e).into_response();
        }
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                auth,
                "rate limiter unreachable; failing open"
            );
            None
        }
    };
    let mut response = next.run(req).await;
    if let Some(d) = tightest {
        set_headers(&mut response, &d);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_budgeted_by_path_alone() {
        for credential in [
            "/api/v1/auth/login",
            "/api/v1/auth/register",
            "/api/v1/auth/token",
            "/api/v1/auth/logout",
            "/api/v1/auth/password/forgot",
            "/api/v1/auth/password/reset",
            // Unknown auth paths (and near misses of the account routes) stay on the strict budget.
            "/api/v1/auth/me/",
            "/api/v1/auth/me/other",
            "/api/v1/auth/nothing",
            "/api/v1/auth/identitiesx",
        ] {
            assert_eq!(
                purpose(&http::Method::POST, credential),
                Purpose::Credentials,
                "{credential}"
            );
        }
        for account in AUTHENTICATED_AUTH_ROUTES.into_iter().chain([
            "/api/v1/auth/identities",
            "/api/v1/auth/identities/0190a0a0-0000-7000-8000-000000000000",
        ]) {
            assert_eq!(
                purpose(&http::Method::GET, account),
                Purpose::Account,
                "{account}"
            );
        }
        assert_eq!(
            purpose(&http::Method::GET, "/api/v1/workspaces"),
            Purpose::Api
        );
        // Erasure asks for the password again: on the per-IP credential budget (failing closed).
        assert_eq!(
            purpose(&http::Method::DELETE, "/api/v1/auth/me"),
            Purpose::Credentials
        );
        assert_eq!(
            purpose(&http::Method::GET, "/api/v1/auth/me"),
            Purpose::Account
        );
    }
}
