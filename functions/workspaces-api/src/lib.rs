//! `/api/v1/workspaces/*`: workspaces, their members, invitations, API keys ([`api_keys`]), the identity
//! secret ([`identity`]), the widget's settings ([`widget`]) and the workspace's export ([`export`]);
//! `/api/v1/invitations/*`: accepting one.

mod api_keys;
mod audit;
mod export;
mod identity;
mod usage;
mod widget;

pub use api_keys::ApiKeyRequest;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use studio::agent::Intake;
use studio::auth::{Admin, AnyRole, Owner, Tenant, Viewer};
use studio::billing::BillingView;
use studio::error::ErrorBody;
use studio::http::{AuthUser, Path, Query, ValidJson};
use studio::openapi::answers;
use studio::paging::{Page, PageParams};
use studio::services::agent_config::{self, AgentConfigView};
use studio::services::invitations::{self, AcceptedInvitation, InvitationStatus, InvitationView};
use studio::services::workspaces::{self, MemberView, WorkspaceDeleted, WorkspaceView};
use studio::text::single_line;
use studio::{ApiError, AppState, Role};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;
use validator::Validate;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(HEALTH.path, get(studio::http::health))
        .route("/api/v1/workspaces", get(list).post(create))
        .route(
            "/api/v1/workspaces/{workspaceId}",
            get(show).patch(rename).delete(destroy),
        )
        .route("/api/v1/workspaces/{workspaceId}/members", get(members))
        .route(
            "/api/v1/workspaces/{workspaceId}/retention",
            axum::routing::put(set_retention),
        )
        .route(
            "/api/v1/workspaces/{workspaceId}/audit-log",
            get(audit::list),
        )
        .route(
            "/api/v1/workspaces/{workspaceId}/intake",
            axum::routing::put(put_intake),
        )
        .route(
            "/api/v1/workspaces/{workspaceId}/agent-config",
            get(agent_config),
        )
        .route("/api/v1/workspaces/{workspaceId}/billing", get(billing))
        .route(
            "/api/v1/workspaces/{workspaceId}/members/{userId}",
            axum::routing::patch(change_role).delete(remove_member),
        )
        .route(
            "/api/v1/workspaces/{workspaceId}/invitations",
            get(list_invitations).post(invite),
        )
        .route(
            "/api/v1/workspaces/{workspaceId}/invitations/{invitationId}",
            axum::routing::delete(revoke_invitation),
        )
        .route(
            "/api/v1/workspaces/{workspaceId}/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            "/api/v1/workspaces/{workspaceId}/api-keys/{keyId}",
            axum::routing::delete(api_keys::revoke),
        )
        .route(
            "/api/v1/workspaces/{workspaceId}/identity-secret",
            get(identity::describe)
                .post(identity::rotate)
                .delete(identity::delete),
        )
        .route("/api/v1/workspaces/{workspaceId}/usage", get(usage::get))
        .route(
            "/api/v1/workspaces/{workspaceId}/export",
            get(export::get).post(export::request),
        )
        .route(
            "/api/v1/workspaces/{workspaceId}/widget",
            get(widget::get).put(widget::put),
        )
        .route(
            "/api/v1/invitations/{token}/accept",
            axum::routing::post(accept_invitation),
        )
}

/// Liveness and database reachability of the workspaces function.
const HEALTH: studio::openapi::HealthRoute = studio::openapi::HealthRoute {
    path: "/api/v1/workspaces/health",
    operation_id: "workspacesHealth",
    tag: "workspaces",
    summary: "Liveness and database reachability of the workspaces function.",
};

#[derive(OpenApi)]
#[openapi(
    paths(create, list, show, rename, set_retention, destroy, members, change_role, remove_member, put_intake, agent_config, billing, invite, list_invitations, revoke_invitation, accept_invitation, api_keys::create, api_keys::list, api_keys::revoke, identity::rotate, identity::describe, identity::delete, widget::get, widget::put, audit::list, export::request, export::get, usage::get),
    components(schemas(studio::services::usage::UsageView, studio::services::usage::UsagePeriod, studio::services::usage::ModelUsage, studio::services::usage::Cost, studio::services::usage::UsageGranularity, studio::services::exports::ExportView, RetentionRequest, WorkspaceRequest, RoleRequest, WorkspaceView, WorkspaceDeleted, MemberView, Intake, AgentConfigView, BillingView, InviteRequest, InvitationView, InvitationStatus, AcceptedInvitation, ApiKeyRequest, studio::services::api_keys::ApiKeyView, studio::services::api_keys::CreatedApiKey, studio::auth::api_keys::KeyKind, studio::auth::api_keys::Scope, studio::services::identity::CreatedIdentitySecret, studio::services::identity::IdentitySecretView, studio::agent::widget::WidgetSettings, studio::agent::widget::Budgets, studio::agent::widget::EffectiveWidget, studio::services::widget::WidgetView)),
    tags((name = "workspaces", description = "Workspaces (tenants) and their members")),
    modifiers(&HEALTH)
)]
pub struct ApiDoc;

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkspaceRequest {
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "single_line")
    )]
    pub name: String,
}

/// How long the workspace keeps its conversations.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetentionRequest {
    /// Days a conversation is kept after its last message (1 to 3650); null (or absent) keeps
    /// conversations until they are deleted.
    #[validate(range(
        min = 1,
        max = 3650,
        message = "must be between 1 and 3650 days, or null"
    ))]
    pub conversation_days: Option<u32>,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RoleRequest {
    pub role: Role,
}

#[derive(Deserialize)]
struct MemberPath {
    #[serde(rename = "userId")]
    user_id: Uuid,
}

/// Creates a workspace; the caller becomes its owner.
#[utoipa::path(operation_id = "createWorkspace", post, path = "/api/v1/workspaces", tag = "workspaces", security(("bearer" = [])),
    request_body = WorkspaceRequest,
    responses((status = 201, body = WorkspaceView), answers::SignedInput))]
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(req): ValidJson<WorkspaceRequest>,
) -> Result<Response, ApiError> {
    let created = workspaces::create(&state, user.user_id, req.name.trim()).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// The caller's workspaces, oldest membership first.
#[utoipa::path(operation_id = "listWorkspaces", get, path = "/api/v1/workspaces", tag = "workspaces", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Page<WorkspaceView>), answers::SignedInput))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<WorkspaceView>>, ApiError> {
    Ok(Json(
        workspaces::list_mine(&state, user.user_id, &page).await?,
    ))
}

/// One workspace (viewer or higher).
#[utoipa::path(operation_id = "getWorkspace", get, path = "/api/v1/workspaces/{workspaceId}", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    responses((status = 200, body = WorkspaceView), (status = 404, description = "no such workspace, or not a member", body = ErrorBody), answers::Signed))]
async fn show(
    State(state): State<AppState>,
    tenant: Tenant<Viewer>,
) -> Result<Json<WorkspaceView>, ApiError> {
    Ok(Json(workspaces::get(&state, &tenant).await?))
}

/// Renames a workspace (admin or higher).
#[utoipa::path(operation_id = "renameWorkspace", patch, path = "/api/v1/workspaces/{workspaceId}", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)), request_body = WorkspaceRequest,
    responses((status = 200, body = WorkspaceView), answers::WorkspaceInput))]
async fn rename(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    ValidJson(req): ValidJson<WorkspaceRequest>,
) -> Result<Json<WorkspaceView>, ApiError> {
    Ok(Json(
        workspaces::rename(&state, &tenant, req.name.trim()).await?,
    ))
}

/// Sets how long the workspace keeps its conversations (admin or higher).
///
/// With `conversationDays`, the daily purge deletes conversations (their messages and ratings with
/// them) whose last message is older than that; null keeps them until they are deleted. Recorded in
/// the workspace's audit log.
#[utoipa::path(operation_id = "setRetention", put, path = "/api/v1/workspaces/{workspaceId}/retention", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    request_body = RetentionRequest,
    responses((status = 200, body = WorkspaceView), answers::Workspace))]
async fn set_retention(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    ValidJson(req): ValidJson<RetentionRequest>,
) -> Result<Json<WorkspaceView>, ApiError> {
    Ok(Json(
        workspaces::set_retention(&state, &tenant, req.conversation_days).await?,
    ))
}

/// Deletes a workspace (owner only).
///
/// It disappears for every member at once; its rows, vectors and uploaded files are purged for good at
/// `purgeAt` (`SOFT_DELETE_RETENTION_DAYS`, 30 days by default). Until then the platform's operators can
/// restore it.
#[utoipa::path(operation_id = "deleteWorkspace", delete, path = "/api/v1/workspaces/{workspaceId}", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    responses((status = 202, description = "deleted; purged at purgeAt", body = WorkspaceDeleted), answers::Workspace))]
async fn destroy(
    State(state): State<AppState>,
    tenant: Tenant<Owner>,
) -> Result<Response, ApiError> {
    let deleted = workspaces::delete(&state, &tenant).await?;
    Ok((StatusCode::ACCEPTED, Json(deleted)).into_response())
}

/// The workspace's members (viewer or higher), oldest first.
#[utoipa::path(operation_id = "listMembers", get, path = "/api/v1/workspaces/{workspaceId}/members", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<MemberView>), (status = 404, body = ErrorBody), answers::SignedInput))]
async fn members(
    State(state): State<AppState>,
    tenant: Tenant<Viewer>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<MemberView>>, ApiError> {
    Ok(Json(workspaces::members(&state, &tenant, &page).await?))
}

/// Changes a member's role (admin or higher; only an owner grants or removes `owner`; the last owner
/// cannot be demoted).
#[utoipa::path(operation_id = "changeMemberRole", patch, path = "/api/v1/workspaces/{workspaceId}/members/{userId}", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path), ("userId" = Uuid, Path)), request_body = RoleRequest,
    responses((status = 200, body = MemberView), (status = 409, description = "the last owner", body = ErrorBody), answers::WorkspaceInput))]
async fn change_role(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    Path(path): Path<MemberPath>,
    ValidJson(req): ValidJson<RoleRequest>,
) -> Result<Json<MemberView>, ApiError> {
    Ok(Json(
        workspaces::change_role(&state, &tenant, path.user_id, req.role).await?,
    ))
}

/// Removes a member (admin or higher), or leaves the workspace (your own user id).
#[utoipa::path(operation_id = "removeMember", delete, path = "/api/v1/workspaces/{workspaceId}/members/{userId}", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path), ("userId" = Uuid, Path)),
    responses((status = 204), (status = 409, description = "the last owner", body = ErrorBody), answers::Workspace))]
async fn remove_member(
    State(state): State<AppState>,
    tenant: Tenant<AnyRole>,
    Path(path): Path<MemberPath>,
) -> Result<StatusCode, ApiError> {
    workspaces::remove_member(&state, &tenant, path.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Saves the workspace's intake (admin or higher) and maps it into the agent's configuration. Only
/// `companyName` is required.
#[utoipa::path(operation_id = "putIntake", put, path = "/api/v1/workspaces/{workspaceId}/intake", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)), request_body = Intake,
    responses((status = 200, body = AgentConfigView), answers::WorkspaceInput))]
async fn put_intake(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    ValidJson(intake): ValidJson<Intake>,
) -> Result<Json<AgentConfigView>, ApiError> {
    Ok(Json(
        agent_config::save_intake(&state, &tenant, intake).await?,
    ))
}

/// The agent configuration (viewer or higher): from the intake, or the workspace's name and defaults.
#[utoipa::path(operation_id = "getAgentConfig", get, path = "/api/v1/workspaces/{workspaceId}/agent-config", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    responses((status = 200, body = AgentConfigView), (status = 404, body = ErrorBody), answers::Signed))]
async fn agent_config(
    State(state): State<AppState>,
    tenant: Tenant<Viewer>,
) -> Result<Json<AgentConfigView>, ApiError> {
    Ok(Json(agent_config::get(&state, &tenant).await?))
}

/// The workspace's plan, Stripe status, limits and this month's usage (admin or higher).
#[utoipa::path(operation_id = "getBilling", get, path = "/api/v1/workspaces/{workspaceId}/billing", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    responses((status = 200, body = BillingView), answers::Workspace))]
async fn billing(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
) -> Result<Json<BillingView>, ApiError> {
    Ok(Json(studio::billing::view(&state, &tenant).await?))
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InviteRequest {
    #[serde(deserialize_with = "studio::text::email::trimmed")]
    #[validate(custom(function = "studio::text::email::new_address"))]
    pub email: String,
    /// viewer, member, admin, or owner (only an owner invites an owner)
    pub role: Role,
}

#[derive(Deserialize)]
struct InvitationPath {
    #[serde(rename = "invitationId")]
    invitation_id: Uuid,
}

#[derive(Deserialize)]
struct TokenPath {
    token: String,
}

/// Invites an address into the workspace (admin or higher) and mails it a link valid for 7 days. Pending
/// invitations count against the plan's members limit.
#[utoipa::path(operation_id = "invite", post, path = "/api/v1/workspaces/{workspaceId}/invitations", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)), request_body = InviteRequest,
    responses((status = 201, body = InvitationView),
        (status = 402, description = "quota_exceeded (members)", body = ErrorBody),
        (status = 403, description = "forbidden (role too low; only an owner invites an owner) or workspace_suspended", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "already a member, or a pending invitation exists", body = ErrorBody),
        (status = 429, body = ErrorBody), answers::SignedInput))]
async fn invite(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    ValidJson(req): ValidJson<InviteRequest>,
) -> Result<Response, ApiError> {
    let out = invitations::invite(&state, &tenant, &req.email, req.role).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// The workspace's invitations (admin or higher), newest first, with their status.
#[utoipa::path(operation_id = "listInvitations", get, path = "/api/v1/workspaces/{workspaceId}/invitations", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<InvitationView>), answers::WorkspaceInput))]
async fn list_invitations(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<InvitationView>>, ApiError> {
    Ok(Json(invitations::list(&state, &tenant, &page).await?))
}

/// Revokes a pending invitation (admin or higher): its link stops working.
#[utoipa::path(operation_id = "revokeInvitation", delete, path = "/api/v1/workspaces/{workspaceId}/invitations/{invitationId}", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path), ("invitationId" = Uuid, Path)),
    responses((status = 204), (status = 409, description = "accepted or revoked already", body = ErrorBody), answers::Workspace))]
async fn revoke_invitation(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    Path(path): Path<InvitationPath>,
) -> Result<StatusCode, ApiError> {
    invitations::revoke(&state, &tenant, path.invitation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepts an invitation with the token from its link. The caller must be signed in with the invited
/// address (someone without an account registers first, then accepts). The workspace becomes the
/// caller's default workspace: refresh the token (`POST /api/v1/auth/token`) to act in it without
/// `X-Workspace-Id`.
#[utoipa::path(operation_id = "acceptInvitation", post, path = "/api/v1/invitations/{token}/accept", tag = "workspaces", security(("bearer" = [])),
    params(("token" = String, Path, description = "The token from the invitation link")),
    responses((status = 200, body = AcceptedInvitation),
        (status = 400, description = "invalid_token: unknown, accepted, revoked or expired", body = ErrorBody),
        (status = 402, description = "quota_exceeded (members)", body = ErrorBody),
        (status = 403, description = "the invitation is for another address", body = ErrorBody),
        (status = 429, body = ErrorBody), answers::Signed))]
async fn accept_invitation(
    State(state): State<AppState>,
    user: AuthUser,
    Path(path): Path<TokenPath>,
) -> Result<Json<AcceptedInvitation>, ApiError> {
    Ok(Json(
        invitations::accept(&state, user.user_id, &path.token).await?,
    ))
}
