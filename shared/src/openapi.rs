//! Pieces of the OpenAPI document shared by every route group: the bearer scheme, the error body, and
//! the `X-Workspace-Id` header.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Adds the `bearer` security scheme that routes reference with `security(("bearer" = []))`, the
/// `secretKey` scheme of the agents routes a workspace's secret key opens (`("secretKey" = ["chat"])`
/// names the scopes that do), the public routes' `publishableKey` and `visitorSession`, and the admin
/// routes' `adminKey`.
#[derive(Debug)]
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A member's token: our access token (HS256, from POST /api/v1/auth/login or /token), or a token \
                         from one of the deployment's identity providers (AUTH_OIDC_ISSUERS: Clerk's session token, an \
                         OIDC provider's token; RS256, ES256 or EdDSA, verified against the provider's JWKS). A \
                         provider's first token provisions an account with a first workspace.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "secretKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk_ws_…")
                    .description(Some(
                        "A workspace's secret API key (Authorization: Bearer sk_ws_…), from your server only: acts in \
                         its workspace as a member with no user, on the routes whose requirement lists one of its \
                         scopes (chat, ingest, read). Sent with an Origin header it is 403 secret_key_in_browser.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "publishableKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pk_ws_…")
                    .description(Some(
                        "A workspace's publishable key (Authorization: Bearer pk_ws_…), for pages: opens visitor \
                         sessions only, and only from an Origin on the key's allowedOrigins (deny by default; \
                         a missing or other origin is 403 origin_not_allowed).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "visitorSession",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("vs_…")
                    .description(Some(
                        "A visitor session token (Authorization: Bearer vs_…) from POST /api/v1/public/sessions: \
                         at most an hour, bound to the key, the visitor and the origin it was opened from; \
                         ends at once when the key is revoked. Opens the public routes only.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "adminKey",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Header(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "X-Admin-Key",
                    "The platform's admin key (ADMIN_API_KEY); admin routes only.",
                ),
            )),
        );
    }
}

/// A JSON response whose body is the component schema `schema`.
fn json_response(description: &str, schema: &str) -> utoipa::openapi::Response {
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name(schema)))
                .build(),
        )
        .build()
}

/// A function's health route (liveness and database reachability, answered by
/// [`crate::http::health`]) as its document lists it: add it with `modifiers(&HEALTH)` and route
/// `HEALTH.path` to `get(studio::http::health)`.
#[derive(Debug, Clone, Copy)]
pub struct HealthRoute {
    pub path: &'static str,
    pub operation_id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
}

impl Modify for HealthRoute {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
        let health = || json_response("", "Health");
        let operation = OperationBuilder::new()
            .tag(self.tag)
            .summary(Some(self.summary))
            .operation_id(Some(self.operation_id))
            .response("200", health())
            .response("503", health())
            .build();
        openapi.paths.paths.insert(
            self.path.to_owned(),
            PathItem::new(HttpMethod::Get, operation),
        );
    }
}

/// The schemas every group uses.
#[derive(OpenApi)]
#[openapi(
    components(schemas(
        crate::error::ErrorBody,
        crate::error::ErrorObject,
        crate::error::ErrorCode,
        crate::error::FieldError,
        crate::http::app::Health,
        crate::ids::Role,
    )),
    modifiers(&BearerAuth)
)]
pub struct Common;

/// The document for the given route groups' documents merged, with the API's title and version.
pub fn merged(
    parts: impl IntoIterator<Item = utoipa::openapi::OpenApi>,
) -> utoipa::openapi::OpenApi {
    let mut doc = Common::openapi();
    for part in parts {
        doc.merge(part);
    }
    doc.info.title = "Soft Systems Studio API".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(
        "Multi-tenant AI customer-service agent platform. Errors are {\"error\": {code, message, details, requestId}}."
            .into(),
    );
    doc.info.license = None;
    document_common_answers(&mut doc);
    doc
}

/// The answers every route can give that come from the layers and extractors rather than the handler:
/// a malformed path, query or body (400, 413, 415), a missing or bad token (401), an unknown id (404),
/// the rate limit (429) and a database that is down (503). Added where the route does not document them
/// itself, so the document says every status a client can see.
fn document_common_answers(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{PathItem, RefOr, path::Operation};
    let error = |description: &str| RefOr::T(json_response(description, "ErrorBody"));
    for (path, item) in doc.paths.paths.iter_mut() {
        let PathItem {
            get,
            put,
            post,
            delete,
            patch,
            ..
        } = item;
        // The widget's script files are static, served from memory and not rate limited: no 429, no 503,
        // and their header parameters cannot be malformed.
        let static_file = path.starts_with("/widget/");
        let unlimited = static_file || path.ends_with("/health") || path.ends_with("/openapi.json");
        let operations: [&mut Option<Operation>; 5] = [get, put, post, delete, patch];
        for op in operations.into_iter().flatten() {
            let has_path_params = path.contains('{');
            let has_params = has_path_params
                || (!static_file && op.parameters.as_ref().is_some_and(|p| !p.is_empty()));
            let has_body = op.request_body.is_some();
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut add = |code: &str, description: &str| {
                op.responses
                    .responses
                    .entry(code.to_owned())
                    .or_insert_with(|| error(description));
            };
            if has_params || has_body {
                add(
                    "400",
                    "validation_failed or malformed_json: a malformed path, query or body",
                );
            }
            if has_body {
                add("413", "payload_too_large: the body is over 4 MB");
                add(
                    "415",
                    "unsupported_media_type: the body is not application/json",
                );
            }
            if secured {
                add("401", "unauthorized or token_expired");
                add(
                    "403",
                    "forbidden; for a workspace API key: person_required, insufficient_scope or secret_key_in_browser",
                );
            }
            if has_path_params {
                add("404", "not_found");
            }
            if !unlimited {
                add("429", "rate_limited (with Retry-After)");
                add(
                    "503",
                    "service_unavailable: a dependency is down; nothing was changed",
                );
            }
        }
    }
}

/// The error answers routes share, as OpenAPI response sets: `responses((status = 200, body = X),
/// Workspace)` instead of spelling each `(status = N, body = ErrorBody)`. Every one is an `ErrorBody`.
pub mod answers {
    use std::collections::BTreeMap;
    use utoipa::IntoResponses;
    use utoipa::openapi::{RefOr, Response};

    fn errors(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
        statuses
            .iter()
            .map(|status| {
                let response = super::json_response("", "ErrorBody");
                (status.to_string(), RefOr::T(response))
            })
            .collect()
    }

    macro_rules! answer_set {
        ($($(#[$doc:meta])* $name:ident = [$($status:literal),+];)+) => {$(
            $(#[$doc])*
            pub struct $name;
            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    errors(&[$($status),+])
                }
            }
        )+};
    }

    answer_set! {
        /// 503: a dependency is down.
        Unavailable = [503];
        /// A signed-in caller's route: 401 and 503.
        Signed = [401, 503];
        /// A signed-in caller's route with input: 400, 401 and 503.
        SignedInput = [400, 401, 503];
        /// A route behind the workspace check: 401, 403 (role too low, workspace suspended), 404 (not a
        /// member, or no such item) and 503.
        Workspace = [401, 403, 404, 503];
        /// A route behind the workspace check that takes input: 400 and [`Workspace`]'s.
        WorkspaceInput = [400, 401, 403, 404, 503];
    }
}
