//! Request extractors whose rejections speak the error model: JSON bodies that are checked for content
//! type, size, syntax, unknown fields, forbidden characters and field rules, and path/query parameters
//! with field errors. How every bad field is found and named is in [`super::fields`].

use super::fields;
pub use super::fields::field_errors;
use crate::error::{ApiError, ErrorCode};
use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;
use serde::de::DeserializeOwned;
use validator::Validate;

/// A JSON body, deserialised strictly (types derive `deny_unknown_fields`) and validated.
#[derive(Debug, Clone)]
pub struct ValidJson<T>(pub T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

fn not_json() -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedMediaType,
        "Send the body as JSON with the header Content-Type: application/json.",
    )
}

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(not_json());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse(&bytes).map(Self)
    }
}

/// A JSON body that may be left out altogether: an empty body (with or without a content type) is the
/// type's default; a body that is there is held to the same rules as [`ValidJson`].
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(&req);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        if !json {
            return Err(not_json());
        }
        parse(&bytes).map(Self)
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

/// Deserialises a JSON body into `T` and checks its field rules: syntax errors are `malformed_json`; every
/// shape error, forbidden character and broken rule is listed once in one `validation_failed`.
pub fn parse<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ApiError> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(fields::malformed)?;
    fields::from_value(doc)
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
                PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
                    ErrorKind::ParseErrorAtKey {
                        key, expected_type, ..
                    } => ApiError::field(key.as_str(), path_message(expected_type)),
                    ErrorKind::InvalidUtf8InPathParam { key } => {
                        ApiError::field(key.as_str(), "must be valid UTF-8")
                    }
                    _ => ApiError::field("path", e.body_text()),
                },
                other => ApiError::internal(anyhow::anyhow!("path extraction: {other}")),
            })
    }
}

fn path_message(expected_type: &str) -> String {
    format!("must be {}", fields::describe(expected_type))
}

/// Query parameters, held to the same rules as a body: unknown or malformed ones, and NUL characters, are
/// a 400 naming each parameter once.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        fields::from_query(parts.uri.query().unwrap_or_default()).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldError;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Input {
        #[validate(length(min = 2, message = "must be at least 2 characters"))]
        display_name: String,
    }

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Register {
        #[validate(email(message = "must be an email address"))]
        email: String,
        #[validate(length(min = 8, message = "must be at least 8 characters"))]
        password: String,
        #[validate(
            length(min = 1, max = 100, message = "must be 1 to 100 characters"),
            custom(function = "crate::text::single_line")
        )]
        name: String,
        age: Option<u32>,
        #[validate(nested)]
        items: Option<Vec<Item>>,
    }

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Item {
        #[validate(custom(function = "crate::text::free_text_not_blank"))]
        content: String,
        title: String,
    }

    fn fields_of(err: &ApiError) -> Vec<(String, String)> {
        err.details
            .as_ref()
            .and_then(|d| d.as_array())
            .map(|list| {
                list.iter()
                    .map(|f| {
                        (
                            f["field"].as_str().unwrap_or_default().to_owned(),
                            f["message"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
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
        assert_eq!(fields_of(&err)[0].0, "admin");
        assert!(err.message.contains("admin"), "{}", err.message);
        let err = parse::<Input>(br#"{"displayName":5}"#).expect_err("type");
        assert_eq!(
            fields_of(&err),
            vec![("displayName".into(), "must be a string".into())]
        );
        let err = parse::<Input>(b"{}").expect_err("missing");
        assert_eq!(
            fields_of(&err),
            vec![("displayName".into(), "is required".into())]
        );
    }

    #[test]
    fn when_rules_fail_fields_are_listed_in_camel_case() {
        let input: Input = parse::<Input>(br#"{"displayName":"xy"}"#).expect("valid");
        assert_eq!(input.display_name, "xy");
        let err = parse::<Input>(br#"{"displayName":"x"}"#).expect_err("too short");
        assert_eq!(
            err.details.map(|d| *d),
            Some(serde_json::json!([FieldError {
                field: "displayName".into(),
                message: "must be at least 2 characters".into()
            }]))
        );
    }

    #[test]
    fn when_the_body_is_not_an_object_it_says_so_without_naming_rust_types() {
        for body in [&b"[]"[..], b"\"text\"", b"42", b"null"] {
            let err = parse::<Register>(body).expect_err("not an object");
            assert_eq!(
                fields_of(&err),
                vec![("body".into(), "must be a JSON object".into())]
            );
            assert!(!err.message.contains("Register"), "{}", err.message);
        }
    }

    #[test]
    fn when_several_fields_are_bad_each_is_listed_once() {
        // A type error, a missing field, an unknown field and two broken rules in one body.
        let err = parse::<Register>(
            br#"{"email":"not-an-email","name":"","age":"ten","colour":"red","items":[{"content":"ok","title":1}]}"#,
        )
        .expect_err("five problems");
        assert_eq!(
            fields_of(&err),
            vec![
                ("age".into(), "must be a whole number of 0 or more".into()),
                (
                    "colour".into(),
                    "is not a field of this request (expected email, password, name, age, items)"
                        .into()
                ),
                ("email".into(), "must be an email address".into()),
                ("items[0].title".into(), "must be a string".into()),
                ("name".into(), "must be 1 to 100 characters".into()),
                ("password".into(), "is required".into()),
            ]
        );
    }

    #[test]
    fn when_a_string_holds_nul_anywhere_it_is_refused_by_path() {
        let err = parse::<Register>(
            br#"{"email":"a@example.com","password":"secret\u0000word","name":"A","items":[{"content":"x\u0000","title":"t"}]}"#,
        )
        .expect_err("nul");
        let fields = fields_of(&err);
        assert_eq!(
            fields.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
            vec!["items[0].content", "password"]
        );
        assert!(fields[0].1.contains("NUL"), "{fields:?}");
    }

    #[test]
    fn when_control_characters_appear_names_refuse_all_and_free_text_keeps_tabs_and_line_breaks() {
        let ok = parse::<Register>(
            br#"{"email":"a@example.com","password":"12345678","name":"Ada","items":[{"content":"line\n\tnext\r\n","title":"t"}]}"#,
        );
        assert!(ok.is_ok(), "{:?}", ok.err());
        let err = parse::<Register>(
            br#"{"email":"a@example.com","password":"12345678","name":"A\nB","items":[{"content":"bell\u0007","title":"t"}]}"#,
        )
        .expect_err("controls");
        assert_eq!(
            fields_of(&err),
            vec![
                ("items[0].content".into(), "must not contain the control character U+0007 (only tabs and line breaks are allowed)".into()),
                ("name".into(), "must not contain a line break".into()),
            ]
        );
    }

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    struct Listing {
        #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
        limit: Option<u32>,
        cursor: Option<String>,
    }

    #[test]
    fn when_query_parameters_are_bad_each_is_named() {
        let err = fields::from_query::<Listing>("limit=abc&sort=asc").expect_err("bad");
        assert_eq!(
            fields_of(&err),
            vec![
                ("limit".into(), "must be a number".into()),
                (
                    "sort".into(),
                    "is not a field of this request (expected limit, cursor)".into()
                ),
            ]
        );
        let err = fields::from_query::<Listing>("limit=0").expect_err("range");
        assert_eq!(
            fields_of(&err),
            vec![("limit".into(), "must be between 1 and 100".into())]
        );
        let err = fields::from_query::<Listing>("cursor=a%00b").expect_err("nul");
        assert_eq!(fields_of(&err)[0].0, "cursor");
        let ok = fields::from_query::<Listing>("limit=5&cursor=abc").expect("fine");
        assert_eq!((ok.limit, ok.cursor.as_deref()), (Some(5), Some("abc")));
    }
}
