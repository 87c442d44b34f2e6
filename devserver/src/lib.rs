//! The devserver: every route group on one port, from the same routers the Lambdas run, plus the merged
//! OpenAPI document and an overall health route.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use studio::AppState;
use utoipa::OpenApi;

/// Every route group's routes, merged (no layers: [`studio::http::app`] adds them once).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(openapi_json))
        .merge(auth_api::routes())
        .merge(workspaces_api::routes())
}

/// The whole API's OpenAPI 3.1 document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = studio::openapi::merged([
        auth_api::ApiDoc::openapi(),
        workspaces_api::ApiDoc::openapi(),
        Local::openapi(),
    ]);
    doc.servers = Some(vec![utoipa::openapi::Server::new("http://localhost:3000")]);
    doc
}

#[derive(OpenApi)]
#[openapi(paths(health, openapi_json), tags((name = "devserver", description = "Served by the local devserver")))]
struct Local;

/// The devserver's overall health: the database's state.
#[utoipa::path(operation_id = "health", get, path = "/api/v1/health", tag = "devserver",
    responses((status = 200, body = studio::http::app::Health), (status = 503, body = studio::http::app::Health)))]
async fn health(state: State<AppState>) -> Response {
    studio::http::health(state).await
}

/// This document.
#[utoipa::path(operation_id = "openapi", get, path = "/api/v1/openapi.json", tag = "devserver", responses((status = 200, description = "The OpenAPI 3.1 document")))]
async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(openapi())
}
