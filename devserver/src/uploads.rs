//! Uploads without S3: the devserver's upload URLs point at [`receive`], which stores the file in
//! `UPLOADS_DIR` once per signed URL and announces it to the extract worker as S3 would (the same
//! notification, the same consumer code). Files the platform writes itself (exports) are downloaded
//! through URLs it signed as well, from [`download`].

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use studio::AppState;
use studio::error::{ApiError, ErrorCode};
use studio::queue::Queue;
use studio::state::ExtractState;
use studio::storage::{LocalFiles, ReceiveError};

#[derive(Clone)]
pub(crate) struct Uploads {
    files: LocalFiles,
    extract: Queue,
}

/// The local upload route, for the files of `files`, announcing each to the `extract` queue.
pub fn routes(files: LocalFiles, extract: Queue) -> Router<AppState> {
    let limit = usize::try_from(studio::billing::plan::MAX_UPLOAD_BYTES).unwrap_or(usize::MAX);
    Router::new()
        .route("/api/v1/uploads/local/{token}", put(receive))
        .route("/api/v1/files/local/{token}", get(download))
        // The API's 4 MB limit is for JSON; a file may have what the largest plan allows.
        .layer(DefaultBodyLimit::max(limit))
        .with_state(Uploads { files, extract })
}

/// Receives a file uploaded through a URL the devserver signed (local development only; in AWS the URL
/// is S3's). The `Content-Type` and the exact length must be those of the grant; each URL works once.
#[utoipa::path(operation_id = "receiveLocalUpload", put, path = "/api/v1/uploads/local/{token}", tag = "devserver",
    params(("token" = String, Path, description = "The signed grant, as in the uploadUrl")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses((status = 200, description = "Stored; the extract worker reads it next"),
        (status = 400, description = "validation_failed: another type or length than granted", body = studio::error::ErrorBody),
        (status = 403, description = "forbidden: the URL is altered, not ours, or expired", body = studio::error::ErrorBody),
        (status = 409, description = "conflict: the URL was already used", body = studio::error::ErrorBody)))]
pub(crate) async fn receive(
    State(uploads): State<Uploads>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let grant = uploads
        .files
        .check(&token, chrono::Utc::now())
        .map_err(refused)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    uploads
        .files
        .receive(&grant, content_type, &body)
        .await
        .map_err(refused)?;
    // Stored: the extract worker is told as S3 would tell it. If the queue is gone, the document waits
    // for the sweep, as an unannounced S3 upload would.
    if let Err(e) = uploads
        .extract
        .send(studio::services::uploads::local_notification(&grant.k))
        .await
    {
        tracing::error!(
            error = format!("{e:#}"),
            "the extract queue did not take the upload"
        );
    }
    Ok(StatusCode::OK)
}

/// The largest file a local download serves (an export is capped well below).
const MAX_DOWNLOAD_BYTES: u64 = 512 * 1024 * 1024;

/// Downloads a file through a URL the devserver signed (local development only; in AWS the URL is S3's
/// presigned one).
#[utoipa::path(operation_id = "downloadLocalFile", get, path = "/api/v1/files/local/{token}", tag = "devserver",
    params(("token" = String, Path, description = "The signed grant, as in the downloadUrl")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, description = "forbidden: the URL is altered, not ours, or expired", body = studio::error::ErrorBody),
        (status = 404, description = "not_found: the file is no longer stored", body = studio::error::ErrorBody)))]
pub(crate) async fn download(
    State(uploads): State<Uploads>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let bytes = uploads
        .files
        .download(&token, chrono::Utc::now(), MAX_DOWNLOAD_BYTES)
        .await
        .map_err(refused)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_DISPOSITION, "attachment"),
        ],
        bytes,
    )
        .into_response())
}

fn refused(e: ReceiveError) -> ApiError {
    let code = match &e {
        ReceiveError::BadSignature | ReceiveError::Expired => ErrorCode::Forbidden,
        ReceiveError::Gone => ErrorCode::NotFound,
        ReceiveError::AlreadyUsed => ErrorCode::Conflict,
        ReceiveError::Mismatch(_) => ErrorCode::ValidationFailed,
        ReceiveError::Io(_) => {
            return ApiError::internal(anyhow::anyhow!("{e}"));
        }
    };
    ApiError::new(code, e.to_string())
}

/// The extract worker on an in-process queue, through the same code the Lambda runs.
pub fn spawn_local_extractor(
    state: ExtractState,
    rx: tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    crate::spawn_local_consumer("extract", rx, move |body, attempt| {
        let state = state.clone();
        async move { studio::services::uploads::process_notification(&state, &body, attempt).await }
    });
}

/// Consumes the real extract queue (when `SQS_EXTRACT_QUEUE_URL` is set).
pub fn spawn_sqs_extractor(state: ExtractState) {
    let queue = state.queue.clone();
    crate::spawn_sqs_consumer("extract", queue, move |event| {
        let state = state.clone();
        async move { extract_worker::handle(&state, event).await }
    });
}

/// Starts the extract worker (on `SQS_EXTRACT_QUEUE_URL` when set, else in-process) and answers the
/// local upload route when files go to a directory (with a bucket, S3 takes the uploads and notifies the
/// queue itself). `None` without file storage.
pub fn start(knowledge: &studio::state::KnowledgeState) -> Option<Router<AppState>> {
    let files = knowledge.files.clone()?;
    let state = |queue: Queue| ExtractState {
        app: knowledge.app.clone(),
        files: files.clone(),
        queue,
        ingest: knowledge.queue.clone(),
    };
    let extract = match &knowledge.app.config.uploads.extract_queue_url {
        Some(url) => {
            let queue = Queue::sqs(url.clone());
            spawn_sqs_extractor(state(queue.clone()));
            queue
        }
        None => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let queue = Queue::Local(tx);
            spawn_local_extractor(state(queue.clone()), rx);
            queue
        }
    };
    match files {
        studio::storage::FileStore::Local(local) => Some(routes(local, extract)),
        studio::storage::FileStore::S3(_) => None,
    }
}
