//! Website sources: a page, a sitemap or a site whose pages become documents and stay in sync. Adding
//! one or syncing it answers 202 at once; the crawl worker does the work, followed with
//! GET /api/v1/agents/sources/{sourceId}.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use studio::ApiError;
use studio::auth::{Admin, Tenant, Viewer};
use studio::error::ErrorBody;
use studio::fetch::Guard;
use studio::http::{Path, ValidJson};
use studio::openapi::answers;
use studio::services::sources::{
    self, CreateSource, SourceDetail, SourceKind, SourceView, SyncEvery,
};
use studio::state::KnowledgeState;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

fn absolute_url(value: &str) -> Result<(), ValidationError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(ValidationError::new("url")
            .with_message("must be an absolute http:// or https:// URL".into())),
    }
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateSourceRequest {
    /// The page (`page`), the sitemap (`sitemap`) or the start page (`site`). Only public http(s)
    /// addresses on the allowed ports are fetched.
    #[validate(
        length(min = 1, max = 2048, message = "must be 1 to 2048 characters"),
        custom(function = "studio::text::single_line"),
        custom(function = "absolute_url")
    )]
    pub url: String,
    /// `page`: that page; `sitemap`: the pages the sitemap lists (sitemap indexes followed); `site`: the
    /// start page and the pages its links lead to within the site (5 links deep at most), plus those
    /// the sitemaps in its robots.txt list.
    pub kind: SourceKind,
    /// Pages to crawl at most (default and maximum: the plan's — 50 free, 500 pro, 2000 business).
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub max_pages: Option<u64>,
    /// Re-sync on its own `daily` or `weekly` (null, the default: only on request).
    pub sync_every: Option<SyncEvery>,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateSourceRequest {
    /// `daily`, `weekly`, or null for only on request.
    pub sync_every: Option<SyncEvery>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceList {
    pub items: Vec<SourceView>,
}

#[derive(Deserialize)]
pub(crate) struct SourcePath {
    #[serde(rename = "sourceId")]
    source_id: Uuid,
}

/// Adds a website source (admin or higher) and starts its first crawl in the background: 202 with the
/// source, `queued`. Its pages become documents (`sourceType: "url"`, `sourceUrl` the page, `sourceId`
/// this source) as they are read. The URL is checked at once: a private, loopback, link-local (the cloud
/// metadata endpoint) or otherwise non-public address, a port other than 80/443, or a URL with
/// credentials is refused (400), and so is any page or redirect the crawl meets later.
#[utoipa::path(operation_id = "createSource", post, path = "/api/v1/agents/sources", tag = "knowledge base", security(("bearer" = [])),
    request_body = CreateSourceRequest,
    params(("X-Workspace-Id" = Option<uuid::Uuid>, Header, description = "The workspace (default: the token's)")),
    responses(
        (status = 202, body = SourceView),
        (status = 402, description = "quota_exceeded: the plan's sources, or maxPages above the plan's pages per source", body = ErrorBody),
        (status = 409, description = "the workspace already has a source of this URL", body = ErrorBody),
        answers::WorkspaceInput))]
pub(crate) async fn create(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Admin>,
    ValidJson(req): ValidJson<CreateSourceRequest>,
) -> Result<(StatusCode, Json<SourceView>), ApiError> {
    let url = url::Url::parse(&req.url).map_err(|e| ApiError::field("url", e.to_string()))?;
    let guard = Guard::new(state.app.config.fetch.clone());
    let request = CreateSource {
        url,
        kind: req.kind,
        max_pages: req.max_pages,
        sync_every: req.sync_every,
    };
    let source = sources::create(&state, &tenant, &guard, request).await?;
    Ok((StatusCode::ACCEPTED, Json(source)))
}

/// The workspace's website sources, newest first, each with its current crawl's progress.
#[utoipa::path(operation_id = "listSources", get, path = "/api/v1/agents/sources", tag = "knowledge base", security(("bearer" = [])),
    responses((status = 200, body = SourceList), answers::SignedInput))]
pub(crate) async fn list(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer>,
) -> Result<Json<SourceList>, ApiError> {
    Ok(Json(SourceList {
        items: sources::list(&state, &tenant).await?,
    }))
}

/// A website source: its crawl's status and progress (pages queued, new, changed, unchanged, failed,
/// skipped, removed), the last sync and error, and its pages with what became of each.
#[utoipa::path(operation_id = "getSource", get, path = "/api/v1/agents/sources/{sourceId}", tag = "knowledge base", security(("bearer" = [])),
    params(("sourceId" = Uuid, Path)),
    responses((status = 200, body = SourceDetail), (status = 404, body = ErrorBody), answers::SignedInput))]
pub(crate) async fn get(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer>,
    Path(path): Path<SourcePath>,
) -> Result<Json<SourceDetail>, ApiError> {
    Ok(Json(sources::get(&state, &tenant, path.source_id).await?))
}

/// Changes how often a source re-syncs on its own (admin or higher).
#[utoipa::path(operation_id = "updateSource", patch, path = "/api/v1/agents/sources/{sourceId}", tag = "knowledge base", security(("bearer" = [])),
    params(("sourceId" = Uuid, Path)),
    request_body = UpdateSourceRequest,
    responses((status = 200, body = SourceView), (status = 404, body = ErrorBody), answers::WorkspaceInput))]
pub(crate) async fn update(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Admin>,
    Path(path): Path<SourcePath>,
    ValidJson(req): ValidJson<UpdateSourceRequest>,
) -> Result<Json<SourceView>, ApiError> {
    Ok(Json(
        sources::set_schedule(&state, &tenant, path.source_id, req.sync_every).await?,
    ))
}

/// Syncs a source now (admin or higher): 202 with the new crawl, `queued`. Only pages whose text changed
/// are embedded again, and pages gone from the site are removed. While a crawl is queued or running, the
/// answer is that crawl (nothing starts twice).
#[utoipa::path(operation_id = "syncSource", post, path = "/api/v1/agents/sources/{sourceId}/sync", tag = "knowledge base", security(("bearer" = [])),
    params(("sourceId" = Uuid, Path)),
    responses((status = 202, body = SourceView), (status = 404, body = ErrorBody), answers::WorkspaceInput))]
pub(crate) async fn sync(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Admin>,
    Path(path): Path<SourcePath>,
) -> Result<(StatusCode, Json<SourceView>), ApiError> {
    let source = sources::sync(&state, &tenant, path.source_id).await?;
    Ok((StatusCode::ACCEPTED, Json(source)))
}

/// Deletes a source (admin or higher) with its documents and their vectors; a crawl still running stops.
#[utoipa::path(operation_id = "deleteSource", delete, path = "/api/v1/agents/sources/{sourceId}", tag = "knowledge base", security(("bearer" = [])),
    params(("sourceId" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), answers::WorkspaceInput))]
pub(crate) async fn delete(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Admin>,
    Path(path): Path<SourcePath>,
) -> Result<StatusCode, ApiError> {
    sources::delete(&state, &tenant, path.source_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
