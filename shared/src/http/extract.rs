//! Request extractors whose rejections speak the error model: JSON bodies that are checked for content
//! type, size, syntax, unknown fields and field rules, and path/query parameters with field errors.

use crate::error::{ApiError, ErrorCode, FieldError};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

/// A JSON body, deserialised strictly (types derive `deny_unknown_fields`) and validated.
#[derive(Debug, Clone)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Send the body as JSON with the header Content-Type: application/json.",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        let value: T = parse(&bytes)?;
        value
            .validate()
            .map_err(|e| ApiError::validation(field_errors(&e)))?;
        Ok(Self(value))
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "The request body is larger than the {} byte limit.",
                super::MAX_BODY_BYTES
            ),
        )
    } else {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("The request body could not be read: {rejection}"),
        )
    }
}

/// Deserialises JSON, telling syntax errors (`malformed_json`) from shape errors (`validation_failed`
/// with the offending field's path).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = result.map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::new(
                ErrorCode::MalformedJson,
                format!("The request body is not valid JSON: {inner}"),
            )
        } else {
            let message = strip_position(&inner.to_string());
            // serde reports a missing field at its parent's path; name the field itself.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next());
            let field = match (path.as_str(), missing) {
                (".", Some(name)) => name.to_owned(),
                (parent, Some(name)) => format!("{parent}.{name}"),
                (".", None) => "body".to_owned(),
                (_, None) => path,
            };
            ApiError::field(field, message)
        }
    })?;
    de.end().map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("Unexpected data after the JSON value: {e}"),
        )
    })?;
    Ok(value)
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Flattens validator's nested errors into `[{field, message}]` with camelCase paths.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let name = camel_case(field);
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| e.code.to_string());
                    out.push(FieldError {
                        field: path.clone(),
                        message,
                    });
                }
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    collect(inner, &format!("{path}[{i}]"), out);
                }
            }
        }
    }
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Rejects strings that are empty once trimmed (for names and titles).
pub fn not_blank(value: &str) -> Result<(), validator::ValidationError> {
    if value.trim().is_empty() {
        Err(validator::ValidationError::new("blank").with_message("must not be blank".into()))
    } else {
        Ok(())
    }
}

/// Path parameters; a malformed one (e.g. not a UUID) is a 400 naming the parameter.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|rejection| match rejection {
                PathRejection::FailedToDeserializePathParams(e) => {
                    ApiError::field("path", e.body_text())
                }
                other => ApiError::internal(anyhow::anyhow!("path extraction: {other}")),
            })
    }
}

/// Query parameters; unknown or malformed ones are a 400.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let value = axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|rejection: QueryRejection| ApiError::field("query", rejection.body_text()))?
            .0;
        value
            .validate()
            .map_err(|e| ApiError::validation(field_errors(&e)))?;
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Input {
        #[validate(length(min = 2, message = "must be at least 2 characters"))]
        display_name: String,
    }

    #[test]
    fn when_json_is_broken_the_code_is_malformed_json() {
        let err = parse::<Input>(b"{\"displayName\":").expect_err("eof");
        assert_eq!(err.code, ErrorCode::MalformedJson);
        let err = parse::<Input>(br#"{"displayName":"ok"} trailing"#).expect_err("trailing");
        assert_eq!(err.code, ErrorCode::MalformedJson);
    }

    #[test]
    fn when_a_field_is_unknown_or_mistyped_it_is_named() {
        let err = parse::<Input>(br#"{"displayName":"ok","admin":true}"#).expect_err("unknown");
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert!(err.message.contains("admin"), "{}", err.message);
        let err = parse::<Input>(br#"{"displayName":5}"#).expect_err("type");
        let details = err.details.expect("details");
        assert_eq!(details[0]["field"], "displayName");
        let err = parse::<Input>(b"{}").expect_err("missing");
        assert_eq!(err.details.expect("details")[0]["field"], "displayName");
    }

    #[test]
    fn when_rules_fail_fields_are_listed_in_camel_case() {
        let input: Input = parse(br#"{"displayName":"x"}"#).expect("shape ok");
        let errors = field_errors(&input.validate().expect_err("too short"));
        assert_eq!(
            errors,
            vec![FieldError {
                field: "displayName".into(),
                message: "must be at least 2 characters".into()
            }]
        );
    }
}
