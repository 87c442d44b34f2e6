//! The one error type and the one table of stable error codes.
//!
//! Every failure a client can see goes through [`ApiError`]: a stable [`ErrorCode`] (which fixes the HTTP
//! status), a message that says what was wrong and what to do, optional details, and the request id.
//! Infrastructure errors keep their cause chain for the log and reach the client as an opaque 5xx.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Stable error codes: the contract clients program against. One HTTP status per code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ValidationFailed,
    MalformedJson,
    InvalidSignature,
    Unauthorized,
    InvalidCredentials,
    TokenExpired,
    QuotaExceeded,
    Forbidden,
    WorkspaceSuspended,
    AgentDisabled,
    PersonRequired,
    InsufficientScope,
    SecretKeyInBrowser,
    OriginNotAllowed,
    IdentityRequired,
    InvalidToken,
    NotFound,
    MethodNotAllowed,
    Conflict,
    EmailTaken,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    Internal,
    ServiceUnavailable,
    LlmUnavailable,
    BillingNotConfigured,
    DenseSearchUnavailable,
    VectorStoreMisconfigured,
}

impl ErrorCode {
    /// The table: code → HTTP status.
    pub const fn status(self) -> StatusCode {
        match self {
            ErrorCode::ValidationFailed
            | ErrorCode::MalformedJson
            | ErrorCode::InvalidSignature
            | ErrorCode::InvalidToken
            | ErrorCode::DenseSearchUnavailable => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized | ErrorCode::InvalidCredentials | ErrorCode::TokenExpired => {
                StatusCode::UNAUTHORIZED
            }
            ErrorCode::QuotaExceeded => StatusCode::PAYMENT_REQUIRED,
            ErrorCode::Forbidden
            | ErrorCode::WorkspaceSuspended
            | ErrorCode::AgentDisabled
            | ErrorCode::PersonRequired
            | ErrorCode::InsufficientScope
            | ErrorCode::SecretKeyInBrowser
            | ErrorCode::OriginNotAllowed
            | ErrorCode::IdentityRequired => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict | ErrorCode::EmailTaken => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal | ErrorCode::VectorStoreMisconfigured => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ErrorCode::ServiceUnavailable
            | ErrorCode::LlmUnavailable
            | ErrorCode::BillingNotConfigured => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::WorkspaceSuspended => "workspace_suspended",
            ErrorCode::AgentDisabled => "agent_disabled",
            ErrorCode::PersonRequired => "person_required",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::SecretKeyInBrowser => "secret_key_in_browser",
            ErrorCode::OriginNotAllowed => "origin_not_allowed",
            ErrorCode::IdentityRequired => "identity_required",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::LlmUnavailable => "llm_unavailable",
            ErrorCode::BillingNotConfigured => "billing_not_configured",
            ErrorCode::DenseSearchUnavailable => "dense_search_unavailable",
            ErrorCode::VectorStoreMisconfigured => "vector_store_misconfigured",
        }
    }

    /// Every code, for documentation and for the test that keeps the table complete.
    pub const ALL: [ErrorCode; 29] = [
        ErrorCode::ValidationFailed,
        ErrorCode::MalformedJson,
        ErrorCode::InvalidSignature,
        ErrorCode::Unauthorized,
        ErrorCode::InvalidCredentials,
        ErrorCode::TokenExpired,
        ErrorCode::QuotaExceeded,
        ErrorCode::Forbidden,
        ErrorCode::WorkspaceSuspended,
        ErrorCode::AgentDisabled,
        ErrorCode::PersonRequired,
        ErrorCode::InsufficientScope,
        ErrorCode::SecretKeyInBrowser,
        ErrorCode::OriginNotAllowed,
        ErrorCode::IdentityRequired,
        ErrorCode::InvalidToken,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::EmailTaken,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::ServiceUnavailable,
        ErrorCode::LlmUnavailable,
        ErrorCode::BillingNotConfigured,
        ErrorCode::DenseSearchUnavailable,
        ErrorCode::VectorStoreMisconfigured,
    ];
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's path in the request, in the request's own (camelCase) spelling.
    pub field: String,
    pub message: String,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorObject {
    pub code: ErrorCode,
    pub message: String,
    /// For `validation_failed`: the list of field errors (`[{field, message}]`); for `quota_exceeded`:
    /// `{limit, max, used, plan}` (the members limit adds `members` and `pendingInvitations` when counted);
    /// for `billing_not_configured`: `{variable}`; otherwise null.
    #[schema(value_type = Option<serde_json::Value>)]
    pub details: Option<Value>,
    pub request_id: Option<String>,
}

/// An error on its way to becoming a response.
#[derive(Debug, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Box<Value>>,
    /// The cause, logged for 5xx; never shown to the client.
    #[source]
    pub source: Option<anyhow::Error>,
    /// Extra response headers (e.g. `Retry-After`).
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
            source: None,
            headers: Vec::new(),
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    pub fn with_header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn validation(fields: Vec<FieldError>) -> Self {
        let summary = fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self::new(
            ErrorCode::ValidationFailed,
            format!("The request is invalid: {summary}"),
        )
        .with_details(json!(fields))
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// A bug or an unexpected infrastructure failure: opaque to the client, logged with its chain.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            ErrorCode::Internal,
            "Something went wrong on our side; try again later.",
        );
        e.source = Some(cause.into());
        e
    }

    /// A dependency is down: the client may retry; nothing was changed.
    pub fn unavailable(what: &str, cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            ErrorCode::ServiceUnavailable,
            format!("The {what} is unavailable right now; nothing was changed. Retry shortly."),
        )
        .with_header(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("5"),
        );
        e.source = Some(cause.into());
        e
    }

    /// Billing is not set up on this deployment: `variable` is missing. A configuration error for the
    /// operator, not an outage, so no `Retry-After`; `details` names the variable.
    pub fn billing_not_configured(variable: &str, what: &str) -> Self {
        Self::new(
            ErrorCode::BillingNotConfigured,
            format!(
                "Billing is not configured on this deployment: {what}. The operator must set {variable} \
                 (in the environment or the app secret); retrying will not help until then."
            ),
        )
        .with_details(json!({"variable": variable}))
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        ApiError::unavailable("database", err)
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(err: tokio_postgres::Error) -> Self {
        // A statement that failed because the connection broke is an outage, not a bug.
        let io_failure = std::error::Error::source(&err).is_some_and(|s| s.is::<std::io::Error>());
        let connection_class = err
            .code()
            .is_some_and(|c| c.code().starts_with("08") || c.code().starts_with("57P"));
        if err.is_closed() || io_failure || connection_class {
            ApiError::unavailable("database", err)
        } else {
            ApiError::internal(err)
        }
    }
}

impl ApiError {
    /// Logs the error the one way every answer is logged: a server error with its whole cause chain and the
    /// request id, a client error as a one-line rejection. Streams call it too, for errors sent as events.
    pub fn log(&self, request_id: Option<&str>) {
        let status = self.status();
        if status.is_server_error() {
            match &self.source {
                Some(cause) => tracing::error!(
                    code = self.code.as_str(),
                    request_id,
                    error = format!("{cause:#}"),
                    "request failed"
                ),
                None => tracing::error!(code = self.code.as_str(), request_id, "request failed"),
            }
        } else {
            tracing::info!(
                code = self.code.as_str(),
                status = status.as_u16(),
                "request rejected"
            );
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = crate::telemetry::request_id::current();
        let status = self.status();
        self.log(request_id.as_deref());
        let body = ErrorBody {
            error: ErrorObject {
                code: self.code,
                message: self.message,
                details: self.details.map(|d| *d),
                request_id,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// The name of the unique index or constraint a statement violated, if that is why it failed.
pub fn unique_violation(err: &tokio_postgres::Error) -> Option<&str> {
    let db = err.as_db_error()?;
    (db.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
        .then(|| db.constraint())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_listing_codes_each_has_one_distinct_name_and_a_client_or_server_status() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            let serialized = serde_json::to_value(code).expect("serializable");
            assert_eq!(serialized, json!(code.as_str()));
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }

    #[test]
    fn when_a_validation_error_is_built_the_details_list_each_field() {
        let err = ApiError::validation(vec![
            FieldError {
                field: "email".into(),
                message: "must be an email address".into(),
            },
            FieldError {
                field: "password".into(),
                message: "too short".into(),
            },
        ]);
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            err.details
                .as_ref()
                .and_then(|d| d.as_array())
                .map(Vec::len),
            Some(2)
        );
        assert!(err.message.contains("email: must be an email address"));
    }
}
