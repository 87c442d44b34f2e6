//! File uploads: a member asks for an upload URL, `PUT`s the file to it (straight to S3, past Lambda's
//! payload limit), and follows the document as any ingestion while the extract worker reads it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use studio::ApiError;
use studio::auth::{Ingest, MemberRole, Tenant};
use studio::billing::plan::MAX_UPLOAD_BYTES;
use studio::error::ErrorBody;
use studio::http::ValidJson;
use studio::openapi::answers;
use studio::services::uploads::{self, UploadGranted, UploadRequest};
use studio::state::KnowledgeState;
use studio::text::single_line;
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

/// The media types a file may be declared as; what it is, is read from its bytes.
pub const ACCEPTED_TYPES: &[&str] = &[
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text/html",
    "text/markdown",
    "text/plain",
    "application/octet-stream",
];

fn accepted_type(value: &str) -> Result<(), ValidationError> {
    if ACCEPTED_TYPES.contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::new("content_type").with_message(
            format!(
                "must be one of {} (PDF, DOCX, HTML, Markdown, plain text)",
                ACCEPTED_TYPES.join(", ")
            )
            .into(),
        ))
    }
}

/// A file name, not a path.
fn file_name(value: &str) -> Result<(), ValidationError> {
    single_line(value)?;
    if value.contains(['/', '\\']) || value.trim() != value || value == "." || value == ".." {
        return Err(ValidationError::new("filename")
            .with_message("must be a file name without folders or surrounding blanks".into()));
    }
    Ok(())
}

fn json_object(value: &serde_json::Value) -> Result<(), ValidationError> {
    crate::knowledge::json_object(value)
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UploadFileRequest {
    /// The file's name (shown as the document's title unless `title` is given).
    #[validate(
        length(min = 1, max = 255, message = "must be 1 to 255 characters"),
        custom(function = "file_name")
    )]
    pub filename: String,
    /// What the client believes it is; the bytes decide. `application/pdf`, the DOCX type, `text/html`,
    /// `text/markdown`, `text/plain` or `application/octet-stream`. The upload must send this type.
    #[validate(custom(function = "accepted_type"))]
    pub content_type: String,
    /// The file's exact size in bytes (the upload must send exactly this many): at least 1, at most the
    /// plan's limit (10 MB free, 25 MB pro, 50 MB business; more: 413).
    #[validate(range(min = 1, message = "must be at least 1 byte"))]
    pub size: u64,
    /// The document's title (default: the file name).
    #[validate(
        length(min = 1, max = 500, message = "must be 1 to 500 characters"),
        custom(function = "single_line")
    )]
    pub title: Option<String>,
    #[validate(custom(function = "json_object"))]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Asks for an upload URL (member or higher): the answer says where to `PUT` the file, with which
/// headers, until when. The file becomes a document (`uploading` until it arrives and is read, then
/// indexed as any other); follow it with GET /api/v1/agents/ingest/{ingestionId} or the document. Its
/// text is read from PDF (page by page: sources and search hits name the page), DOCX and HTML (headings
/// become sections), Markdown and plain text; a file that cannot be read fails with an `errorCode`
/// (`no_text_layer`, `encrypted`, `unreadable`, `too_large`, `unsupported_type`, `empty`), one that never
/// arrives with `upload_missing`.
#[utoipa::path(operation_id = "uploadFile", post, path = "/api/v1/agents/uploads", tag = "knowledge base", security(("bearer" = []), ("secretKey" = ["ingest"])),
    request_body = UploadFileRequest,
    params(("X-Workspace-Id" = Option<uuid::Uuid>, Header, description = "The workspace (default: the token's)")),
    responses(
        (status = 201, body = UploadGranted),
        (status = 402, description = "quota_exceeded: the plan's document limit is reached", body = ErrorBody),
        (status = 413, description = "payload_too_large: the file is larger than the plan allows", body = ErrorBody),
        (status = 503, description = "file storage is not configured or unreachable", body = ErrorBody),
        answers::WorkspaceInput))]
pub(crate) async fn upload(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole, Ingest>,
    ValidJson(req): ValidJson<UploadFileRequest>,
) -> Result<(StatusCode, Json<UploadGranted>), ApiError> {
    if req.size > MAX_UPLOAD_BYTES {
        return Err(ApiError::new(
            studio::ErrorCode::PayloadTooLarge,
            format!(
                "size is {} bytes; files of up to {} MB are accepted. Split the file.",
                req.size,
                MAX_UPLOAD_BYTES / (1024 * 1024)
            ),
        ));
    }
    let request = UploadRequest {
        file_name: req.filename,
        content_type: req.content_type,
        size: req.size,
        title: req.title.map(|t| t.trim().to_owned()),
        metadata: req.metadata.unwrap_or_else(|| serde_json::json!({})),
    };
    let granted = uploads::grant(&state.app, state.files.as_ref(), &tenant, request).await?;
    Ok((StatusCode::CREATED, Json(granted)))
}
