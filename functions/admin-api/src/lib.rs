//! `/api/v1/admin/*`: the platform's operators — platform stats, the workspace directory, suspension,
//! platform admins, scheduled jobs on demand, the dead-letter queues, and the audit log. Every route is
//! behind `adminAuth` ([`PlatformAdmin`]): the `X-Admin-Key`, or a platform admin's access token.

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::{get, post, put};
use serde::Deserialize;
use studio::auth::PlatformAdmin;
use studio::error::ErrorBody;
use studio::http::{Path, Query, ValidJson};
use studio::openapi::answers;
use studio::paging::{Page, PageParams};
use studio::queue::{Queue, QueueName};
use studio::services::admin::{
    self, AdminWorkspaceView, AuditEntryView, AuditPage, DeadLetterView, NamedQueue,
    PlatformAdminView, QueueStat, RedriveReport, Stats, WorkspaceFilter,
};
use studio::services::jobs::{Job, JobReport, Retention};
use studio::services::reindex::{self, ReindexJobView};
use studio::state::KnowledgeState;
use studio::{ApiError, AppState};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;
use validator::Validate;

/// The admin function's state: the knowledge-base state (jobs delete vectors and send to the queues),
/// the extract queue (its dead letters are redriven to it) and the four dead-letter queues (the crawl
/// queue is the knowledge state's).
#[derive(Clone, Debug)]
pub struct AdminState {
    pub knowledge: KnowledgeState,
    pub ingest_dlq: Option<Queue>,
    pub email_dlq: Option<Queue>,
    pub extract: Option<Queue>,
    pub extract_dlq: Option<Queue>,
    pub crawl_dlq: Option<Queue>,
}

impl FromRef<AdminState> for AppState {
    fn from_ref(state: &AdminState) -> Self {
        state.knowledge.app.clone()
    }
}

impl AdminState {
    /// The dead-letter queues from `SQS_INGEST_DLQ_URL`, `SQS_EMAIL_DLQ_URL`, `SQS_EXTRACT_DLQ_URL` and
    /// `SQS_CRAWL_DLQ_URL`, and the extract queue from `SQS_EXTRACT_QUEUE_URL`.
    pub async fn new(knowledge: KnowledgeState) -> Self {
        let config = &knowledge.app.config;
        let ingest_dlq = config.ops.ingest_dlq_url.clone().map(Queue::sqs);
        let email_dlq = config.ops.email_dlq_url.clone().map(Queue::sqs);
        let extract = config.uploads.extract_queue_url.clone().map(Queue::sqs);
        let extract_dlq = config.uploads.extract_dlq_url.clone().map(Queue::sqs);
        let crawl_dlq = config.crawl.dlq_url.clone().map(Queue::sqs);
        Self {
            knowledge,
            ingest_dlq,
            email_dlq,
            extract,
            extract_dlq,
            crawl_dlq,
        }
    }

    fn db(&self) -> &deadpool_postgres::Pool {
        &self.knowledge.app.db
    }

    /// The purge job's retention: the window in which a deleted workspace can be restored.
    fn retention(&self) -> Retention {
        Retention::of(&self.knowledge.app.config)
    }

    /// A dead-letter queue and its source queue, by the name used in the route.
    fn dead_letter_queue(&self, name: QueueName) -> Result<(&Queue, Option<&Queue>), ApiError> {
        let (dlq, source) = match name {
            QueueName::Ingest => (self.ingest_dlq.as_ref(), Some(&self.knowledge.queue)),
            QueueName::Email => (
                self.email_dlq.as_ref(),
                self.knowledge.app.email_queue.as_ref(),
            ),
            QueueName::Extract => (self.extract_dlq.as_ref(), self.extract.as_ref()),
            QueueName::Crawl => (self.crawl_dlq.as_ref(), self.knowledge.crawl.as_ref()),
        };
        let dlq = dlq.ok_or_else(|| {
            ApiError::new(
                studio::ErrorCode::ServiceUnavailable,
                format!(
                    "The {name} dead-letter queue is not configured here: set {}.",
                    name.dead_letter_variable()
                ),
            )
        })?;
        Ok((dlq, source))
    }
}

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route(HEALTH.path, get(studio::http::health))
        .route("/api/v1/admin/stats", get(stats))
        .route("/api/v1/admin/workspaces", get(workspaces))
        .route(
            "/api/v1/admin/workspaces/{workspaceId}/suspend",
            post(suspend),
        )
        .route(
            "/api/v1/admin/workspaces/{workspaceId}/unsuspend",
            post(unsuspend),
        )
        .route(
            "/api/v1/admin/workspaces/{workspaceId}/restore",
            post(restore),
        )
        .route(
            "/api/v1/admin/platform-admins/{userId}",
            put(grant_platform_admin).delete(revoke_platform_admin),
        )
        .route("/api/v1/admin/jobs", get(list_jobs))
        .route("/api/v1/admin/jobs/{name}/run", post(run_job))
        .route("/api/v1/admin/dlq/{queue}", get(dead_letters))
        .route("/api/v1/admin/dlq/{queue}/redrive", post(redrive))
        .route("/api/v1/admin/audit-log", get(audit_log))
        .route(
            "/api/v1/admin/reindex",
            get(list_reindex).post(start_reindex),
        )
        .route("/api/v1/admin/reindex/{jobId}", get(get_reindex))
}

/// Liveness and database reachability of the admin function (no credentials needed).
const HEALTH: studio::openapi::HealthRoute = studio::openapi::HealthRoute {
    path: "/api/v1/admin/health",
    operation_id: "adminHealth",
    tag: "admin",
    summary: "Liveness and database reachability of the admin function (no credentials needed).",
};

#[derive(OpenApi)]
#[openapi(
    paths(stats, workspaces, suspend, unsuspend, restore, grant_platform_admin, revoke_platform_admin, list_jobs, run_job, dead_letters, redrive, audit_log, start_reindex, list_reindex, get_reindex),
    components(schemas(Stats, QueueStat, studio::queue::QueueDepth, AdminWorkspaceView, SuspendRequest, PlatformAdminView, Job, JobReport, DeadLetterView, RedriveRequest, RedriveReport, AuditPage, AuditEntryView, ReindexRequest, ReindexJobView)),
    tags((name = "admin", description = "The platform's operators (X-Admin-Key or a platform admin's token)")),
    modifiers(&HEALTH)
)]
pub struct ApiDoc;

#[derive(Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WorkspacesQuery {
    /// Part of the name or slug (case-insensitive).
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    pub search: Option<String>,
    /// Only suspended workspaces.
    pub suspended: Option<bool>,
    /// `true`: only soft-deleted workspaces not yet purged (with `deletedAt` and `purgeAfter`, until when
    /// they can be restored); otherwise only live ones.
    pub deleted: Option<bool>,
    /// `created` (the default: newest first, paged by `cursor`) or `cost`: the live workspaces that cost
    /// most from `from` to `to`, one page of up to `limit`, each with `estimatedCost` and `tokens`.
    pub sort: Option<WorkspaceSort>,
    /// With `sort=cost`: the first UTC day (`YYYY-MM-DD`); by default the first day of `to`'s month.
    pub from: Option<chrono::NaiveDate>,
    /// With `sort=cost`: the last UTC day; by default today.
    pub to: Option<chrono::NaiveDate>,
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceSort {
    Created,
    Cost,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SuspendRequest {
    /// Why (kept with the workspace and in the audit log).
    #[validate(
        length(min = 1, max = 500, message = "must be 1 to 500 characters"),
        custom(function = "studio::text::free_text_not_blank")
    )]
    pub reason: String,
}

#[derive(Deserialize, Validate, ToSchema, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RedriveRequest {
    /// At most this many messages (1–1000, default 100).
    #[validate(range(min = 1, max = 1000, message = "must be between 1 and 1000"))]
    pub max: Option<usize>,
}

#[derive(Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Messages to show, 1–10 (default 10).
    #[validate(range(min = 1, max = 10, message = "must be between 1 and 10"))]
    pub limit: Option<i32>,
}

pub use studio::services::audit::AuditQuery;

#[derive(Deserialize)]
struct WorkspacePath {
    #[serde(rename = "workspaceId")]
    workspace_id: Uuid,
}

#[derive(Deserialize)]
struct UserPath {
    #[serde(rename = "userId")]
    user_id: Uuid,
}

#[derive(Deserialize)]
struct JobPath {
    name: String,
}

#[derive(Deserialize)]
struct QueuePath {
    queue: String,
}

impl QueuePath {
    /// The queue the path names; an unknown name is not found.
    fn queue(&self) -> Result<QueueName, ApiError> {
        QueueName::parse(&self.queue).ok_or_else(|| ApiError::not_found("Queue"))
    }
}

/// Platform counts and queue depths.
#[utoipa::path(operation_id = "adminStats", get, path = "/api/v1/admin/stats", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    responses((status = 200, body = Stats), (status = 403, description = "not a platform admin", body = ErrorBody), (status = 429, body = ErrorBody), answers::Signed))]
async fn stats(
    State(state): State<AdminState>,
    admin: PlatformAdmin,
) -> Result<Json<Stats>, ApiError> {
    let queues = [
        NamedQueue {
            name: "ingest",
            queue: Some(&state.knowledge.queue),
        },
        NamedQueue {
            name: "ingestDeadLetter",
            queue: state.ingest_dlq.as_ref(),
        },
        NamedQueue {
            name: "email",
            queue: state.knowledge.app.email_queue.as_ref(),
        },
        NamedQueue {
            name: "emailDeadLetter",
            queue: state.email_dlq.as_ref(),
        },
        NamedQueue {
            name: "extract",
            queue: state.extract.as_ref(),
        },
        NamedQueue {
            name: "extractDeadLetter",
            queue: state.extract_dlq.as_ref(),
        },
        NamedQueue {
            name: "crawl",
            queue: state.knowledge.crawl.as_ref(),
        },
        NamedQueue {
            name: "crawlDeadLetter",
            queue: state.crawl_dlq.as_ref(),
        },
    ];
    Ok(Json(admin::stats(state.db(), &admin, &queues).await?))
}

/// Every live workspace (or, with `deleted=true`, every soft-deleted one not yet purged), newest first;
/// `search` matches name or slug. With `sort=cost`: the live workspaces that cost most in a period (this
/// month by default), by their recorded usage priced with `MODEL_PRICES`.
#[utoipa::path(operation_id = "adminListWorkspaces", get, path = "/api/v1/admin/workspaces", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    params(WorkspacesQuery),
    responses((status = 200, body = Page<AdminWorkspaceView>), (status = 403, body = ErrorBody), answers::SignedInput))]
async fn workspaces(
    State(state): State<AdminState>,
    admin: PlatformAdmin,
    Query(q): Query<WorkspacesQuery>,
) -> Result<Json<Page<AdminWorkspaceView>>, ApiError> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    let config = state.knowledge.app.config.clone();
    let by_cost = (q.sort == Some(WorkspaceSort::Cost)).then(|| {
        let to = q.to.unwrap_or_else(|| chrono::Utc::now().date_naive());
        admin::CostRanking {
            from: q
                .from
                .unwrap_or_else(|| chrono::Datelike::with_day(&to, 1).unwrap_or(to)),
            to,
            prices: &config.usage,
        }
    });
    Ok(Json(
        admin::workspaces(
            state.db(),
            &admin,
            WorkspaceFilter {
                search: q.search.as_deref(),
                suspended_only: q.suspended.unwrap_or(false),
                deleted: q.deleted.unwrap_or(false),
                by_cost,
            },
            state.retention(),
            &page,
        )
        .await?,
    ))
}

/// Suspends a workspace: its members get 403 `workspace_suspended` on every workspace-scoped route.
#[utoipa::path(operation_id = "adminSuspendWorkspace", post, path = "/api/v1/admin/workspaces/{workspaceId}/suspend", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    params(("workspaceId" = Uuid, Path)), request_body = SuspendRequest,
    responses((status = 200, body = AdminWorkspaceView), answers::WorkspaceInput))]
async fn suspend(
    State(state): State<AdminState>,
    admin: PlatformAdmin,
    Path(path): Path<WorkspacePath>,
    ValidJson(req): ValidJson<SuspendRequest>,
) -> Result<Json<AdminWorkspaceView>, ApiError> {
    Ok(Json(
        admin::set_suspended(
            state.db(),
            &admin,
            path.workspace_id,
            true,
            Some(req.reason.trim()),
            state.retention(),
        )
        .await?,
    ))
}

/// Restores a suspended workspace.
#[utoipa::path(operation_id = "adminUnsuspendWorkspace", post, path = "/api/v1/admin/workspaces/{workspaceId}/unsuspend", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    responses((status = 200, body = AdminWorkspaceView), answers::Workspace))]
async fn unsuspend(
    State(state): State<AdminState>,
    admin: PlatformAdmin,
    Path(path): Path<WorkspacePath>,
) -> Result<Json<AdminWorkspaceView>, ApiError> {
    Ok(Json(
        admin::set_suspended(
            state.db(),
            &admin,
            path.workspace_id,
            false,
            None,
            state.retention(),
        )
        .await?,
    ))
}

/// Restores a workspace its owner deleted, while it is inside the retention window
/// (`SOFT_DELETE_RETENTION_DAYS`, until its `purgeAfter`): its members, documents and settings come back as
/// they were. Audited. A live workspace is a 409 (nothing to restore), as is one past its window (waiting
/// for the purge job); an id that does not exist (or was purged) is a 404.
#[utoipa::path(operation_id = "adminRestoreWorkspace", post, path = "/api/v1/admin/workspaces/{workspaceId}/restore", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    responses((status = 200, body = AdminWorkspaceView), (status = 403, body = ErrorBody), (status = 404, description = "no such workspace, or purged already", body = ErrorBody), (status = 409, description = "not deleted, or past its restore window", body = ErrorBody), answers::Signed))]
async fn restore(
    State(state): State<AdminState>,
    admin: PlatformAdmin,
    Path(path): Path<WorkspacePath>,
) -> Result<Json<AdminWorkspaceView>, ApiError> {
    Ok(Json(
        admin::restore_workspace(state.db(), &admin, path.workspace_id, state.retention()).await?,
    ))
}

/// Makes a user a platform admin (their access token then opens the admin API).
#[utoipa::path(operation_id = "adminGrantPlatformAdmin", put, path = "/api/v1/admin/platform-admins/{userId}", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    params(("userId" = Uuid, Path)),
    responses((status = 200, body = PlatformAdminView), answers::Workspace))]
async fn grant_platform_admin(
    State(state): State<AdminState>,
    admin: PlatformAdmin,
    Path(path): Path<UserPath>,
) -> Result<Json<PlatformAdminView>, ApiError> {
    Ok(Json(
        admin::set_platform_admin(state.db(), &admin, path.user_id, true).await?,
    ))
}

/// Takes a user's platform-admin flag away (effective on their next request).
#[utoipa::path(operation_id = "adminRevokePlatformAdmin", delete, path = "/api/v1/admin/platform-admins/{userId}", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    params(("userId" = Uuid, Path)),
    responses((status = 200, body = PlatformAdminView), answers::Workspace))]
async fn revoke_platform_admin(
    State(state): State<AdminState>,
    admin: PlatformAdmin,
    Path(path): Path<UserPath>,
) -> Result<Json<PlatformAdminView>, ApiError> {
    Ok(Json(
        admin::set_platform_admin(state.db(), &admin, path.user_id, false).await?,
    ))
}

/// The scheduled jobs that can be run on demand.
#[utoipa::path(operation_id = "adminListJobs", get, path = "/api/v1/admin/jobs", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<Job>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_jobs(_admin: PlatformAdmin) -> Json<Vec<Job>> {
    Json(Job::ALL.to_vec())
}

/// Runs a scheduled job now and answers what it did. Jobs are idempotent and safe to run while the
/// schedule runs them.
#[utoipa::path(operation_id = "adminRunJob", post, path = "/api/v1/admin/jobs/{name}/run", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    params(("name" = Job, Path)),
    responses((status = 200, body = JobReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, description = "no such job", body = ErrorBody), (status = 503, description = "the job failed; see the logs", body = ErrorBody)))]
async fn run_job(
    State(state): State<AdminState>,
    admin: PlatformAdmin,
    Path(path): Path<JobPath>,
) -> Result<Json<JobReport>, ApiError> {
    Ok(Json(
        admin::run_job(&state.knowledge, &admin, &path.name).await?,
    ))
}

/// Looks at up to 10 messages of a dead-letter queue (`ingest`, `email`, `extract` or `crawl`) without taking
/// them. Email messages show their id and kind only.
#[utoipa::path(operation_id = "adminListDeadLetters", get, path = "/api/v1/admin/dlq/{queue}", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    params(("queue" = String, Path, description = "ingest, email, extract or crawl"), DeadLetterQuery),
    responses((status = 200, body = Vec<DeadLetterView>), answers::WorkspaceInput))]
async fn dead_letters(
    State(state): State<AdminState>,
    admin: PlatformAdmin,
    Path(path): Path<QueuePath>,
    Query(q): Query<DeadLetterQuery>,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    let queue = path.queue()?;
    let (dlq, _) = state.dead_letter_queue(queue)?;
    Ok(Json(
        admin::dead_letters(state.db(), &admin, queue, dlq, q.limit.unwrap_or(10)).await?,
    ))
}

/// Moves messages from a dead-letter queue back to its queue, to be processed again.
#[utoipa::path(operation_id = "adminRedrive", post, path = "/api/v1/admin/dlq/{queue}/redrive", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    params(("queue" = String, Path, description = "ingest, email, extract or crawl")), request_body = RedriveRequest,
    responses((status = 200, body = RedriveReport), answers::WorkspaceInput))]
async fn redrive(
    State(state): State<AdminState>,
    admin: PlatformAdmin,
    Path(path): Path<QueuePath>,
    ValidJson(req): ValidJson<RedriveRequest>,
) -> Result<Json<RedriveReport>, ApiError> {
    let queue = path.queue()?;
    let (dlq, source) = state.dead_letter_queue(queue)?;
    let source = source.ok_or_else(|| {
        ApiError::new(
            studio::ErrorCode::ServiceUnavailable,
            format!("The {queue} queue is not configured here."),
        )
    })?;
    Ok(Json(
        admin::redrive(
            state.db(),
            &admin,
            queue,
            dlq,
            source,
            req.max.unwrap_or(100),
        )
        .await?,
    ))
}

/// Every admin action — who, when, on what — newest first.
#[utoipa::path(operation_id = "adminAuditLog", get, path = "/api/v1/admin/audit-log", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody), answers::SignedInput))]
async fn audit_log(
    State(state): State<AdminState>,
    _admin: PlatformAdmin,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(
        admin::audit_log(
            state.db(),
            q.action.as_deref(),
            q.before,
            q.limit.unwrap_or(50).clamp(1, 100),
        )
        .await?,
    ))
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReindexRequest {
    /// The workspace to re-index; absent: every workspace.
    pub workspace_id: Option<Uuid>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub struct ReindexPath {
    /// The re-index job.
    pub job_id: Uuid,
}

/// Re-indexes every live document of a workspace (or of all) into the current collection: after an
/// upgrade or a change of embedding model (collections are named by model, so the new one starts
/// empty), or to bring BM25's length normalisation to the current averages. Answers 202 with the job;
/// while a job of the same scope is open, 200 with that job (nothing new starts). The work runs in
/// steps on the ingest queue and resumes after an interruption; follow it at
/// `GET /api/v1/admin/reindex/{jobId}`.
#[utoipa::path(operation_id = "adminStartReindex", post, path = "/api/v1/admin/reindex", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    request_body = ReindexRequest,
    responses((status = 202, body = ReindexJobView, description = "started"), (status = 200, body = ReindexJobView, description = "a job of this scope is already open"), (status = 404, description = "no such workspace", body = ErrorBody), answers::WorkspaceInput))]
async fn start_reindex(
    State(state): State<AdminState>,
    admin: PlatformAdmin,
    ValidJson(req): ValidJson<ReindexRequest>,
) -> Result<(axum::http::StatusCode, Json<ReindexJobView>), ApiError> {
    let workspace = match req.workspace_id {
        Some(id) => Some(admin::live_workspace(state.db(), id).await?),
        None => None,
    };
    let (job, started) =
        reindex::start(&state.knowledge, workspace, reindex::Reason::Requested).await?;
    let client = state.db().get().await?;
    if started {
        admin::audit(
            &**client,
            &admin,
            "reindex.start",
            Some(("reindex_job", job.id.to_string())),
            serde_json::json!({"workspaceId": job.workspace_id, "total": job.total, "collection": job.collection}),
        )
        .await?;
    }
    let status = if started {
        axum::http::StatusCode::ACCEPTED
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, Json(job)))
}

/// The latest re-index jobs (50), newest first, with their progress.
#[utoipa::path(operation_id = "adminListReindex", get, path = "/api/v1/admin/reindex", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<ReindexJobView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_reindex(
    State(state): State<AdminState>,
    _admin: PlatformAdmin,
) -> Result<Json<Vec<ReindexJobView>>, ApiError> {
    Ok(Json(reindex::list(&state.knowledge).await?))
}

/// One re-index job's progress: `total`, `done`, `failed`, `steps`, `status`.
#[utoipa::path(operation_id = "adminGetReindex", get, path = "/api/v1/admin/reindex/{jobId}", tag = "admin", security(("adminKey" = []), ("bearer" = [])),
    params(ReindexPath),
    responses((status = 200, body = ReindexJobView), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_reindex(
    State(state): State<AdminState>,
    _admin: PlatformAdmin,
    Path(path): Path<ReindexPath>,
) -> Result<Json<ReindexJobView>, ApiError> {
    Ok(Json(reindex::get(&state.knowledge, path.job_id).await?))
}
