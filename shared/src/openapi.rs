//! Pieces of the OpenAPI document shared by every route group: the bearer scheme, the error body, and
//! the `X-Workspace-Id` header.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Adds the `bearer` security scheme that routes reference with `security(("bearer" = []))`, and the
/// admin routes' `adminKey`.
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
    doc
}
