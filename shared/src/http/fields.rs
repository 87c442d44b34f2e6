//! One style for every invalid request: each bad field listed once, under its JSON (or query) name, with a
//! message a person can act on — whether serde (shape, type, unknown or missing field), the character rules
//! or `validator` (field rules) found it.
//!
//! serde stops at the first error; to list them all, the body is deserialised from a `serde_json::Value`
//! and each failing value is replaced by a placeholder of another JSON type until the rest deserialises
//! (bounded), so that every field error — and then the field rules of the fields that were fine — can be
//! reported in one answer.

use crate::error::{ApiError, ErrorCode, FieldError};
use serde::de::DeserializeOwned;
use serde_json::Value;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

/// How many failing values one request may have repaired before the rest is left unreported.
const MAX_REPAIRS: usize = 32;

/// A step of a path into a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn render(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() { "body".into() } else { out }
}

fn steps(path: &serde_path_to_error::Path) -> Vec<Step> {
    path.iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
            _ => None,
        })
        .collect()
}

fn slot<'a>(root: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut at = root;
    for step in path {
        at = match (step, at) {
            (Step::Key(k), Value::Object(map)) => map.get_mut(k)?,
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(at)
}

/// Rejects NUL anywhere in the document (PostgreSQL cannot store it in text or jsonb), in values and keys.
fn find_nul(value: &Value, path: &mut Vec<Step>, out: &mut Vec<FieldError>) {
    const MESSAGE: &str = "must not contain the NUL character (\\u0000)";
    match value {
        Value::String(s) if s.contains('\0') => out.push(FieldError {
            field: render(path),
            message: MESSAGE.into(),
        }),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                find_nul(item, path, out);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                path.push(Step::Key(key.clone()));
                if key.contains('\0') {
                    out.push(FieldError {
                        field: render(path),
                        message: "must not have a NUL character (\\u0000) in its name".into(),
                    });
                } else {
                    find_nul(item, path, out);
                }
                path.pop();
            }
        }
        _ => {}
    }
}

/// What serde said, as one short instruction.
pub(crate) fn friendly(message: &str) -> String {
    let message = match message.find(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    if message.starts_with("missing field `") {
        return "is required".into();
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        return match quoted_names(rest) {
            Some(list) => format!("is not a field of this request (expected {list})"),
            None => "is not a field of this request".into(),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        return match quoted_names(rest) {
            Some(list) => format!("must be one of: {list}"),
            None => "is not an accepted value".into(),
        };
    }
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if message.starts_with(prefix)
            && let Some((_, expected)) = message.split_once(", expected ")
        {
            return format!("must be {}", describe(expected));
        }
    }
    if message.starts_with("UUID parsing failed") {
        return "must be a UUID".into();
    }
    if message.contains("invalid digit")
        || message.contains("cannot parse integer")
        || message.contains("invalid float literal")
    {
        return "must be a number".into();
    }
    if message.contains("too large to fit") || message.contains("too small to fit") {
        return "is out of range".into();
    }
    message.to_owned()
}

/// serde's list of what it expected (`` expected one of `a`, `b` `` or `` expected `a` or `b` ``) as "a, b".
fn quoted_names(rest: &str) -> Option<String> {
    let (_, expected) = rest.split_once(", expected ")?;
    let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

pub(crate) fn describe(expected: &str) -> String {
    let e = expected.trim();
    match e {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number of 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "an array".into(),
        "a map" => "an object".into(),
        _ if e.starts_with("struct ") || e.starts_with("a map") => "an object".into(),
        _ if e.starts_with("a tuple") || e.starts_with("an array") => "an array".into(),
        _ if e.to_ascii_lowercase().contains("uuid") => "a UUID".into(),
        _ if e.starts_with("enum ") || e == "variant identifier" => {
            "one of the accepted values".into()
        }
        _ => e.to_owned(),
    }
}

/// Values of each JSON type, tried in turn where a value failed, to let the rest of the document deserialise.
fn placeholders() -> [Value; 6] {
    [
        Value::String(String::new()),
        Value::from(0),
        Value::Bool(false),
        Value::Array(Vec::new()),
        Value::Object(serde_json::Map::new()),
        Value::Null,
    ]
}

fn is_under(path: &str, parent: &str) -> bool {
    parent == "body"
        || path == parent
        || path
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// The outcome of deserialising as far as possible: the value (when the repaired document deserialised) and
/// every field error met on the way.
struct Attempt<T> {
    value: Option<T>,
    errors: Vec<FieldError>,
}

/// Where and why deserialising `doc` into `T` fails, with the path pointing at the field itself (serde
/// names a missing or unknown field's parent).
struct Failure {
    path: Vec<Step>,
    message: String,
    unknown: bool,
}

fn deserialize<T: DeserializeOwned>(doc: &Value) -> Result<T, Failure> {
    serde_path_to_error::deserialize::<_, T>(doc).map_err(|err| {
        let mut path = steps(err.path());
        let message = err.inner().to_string();
        let named = message
            .strip_prefix("missing field `")
            .or_else(|| message.strip_prefix("unknown field `"))
            .and_then(|rest| rest.split('`').next())
            .map(|name| Step::Key(name.to_owned()));
        if let Some(name) = named
            && path.last() != Some(&name)
        {
            path.push(name);
        }
        Failure {
            path,
            unknown: message.starts_with("unknown field `"),
            message,
        }
    })
}

fn attempt<T: DeserializeOwned>(mut doc: Value) -> Attempt<T> {
    let mut errors: Vec<FieldError> = Vec::new();
    find_nul(&doc, &mut Vec::new(), &mut errors);
    for _ in 0..=MAX_REPAIRS {
        let failure = match deserialize::<T>(&doc) {
            Ok(value) => {
                return Attempt {
                    value: Some(value),
                    errors,
                };
            }
            Err(failure) => failure,
        };
        let field = render(&failure.path);
        if !errors.iter().any(|e| is_under(&field, &e.field)) {
            errors.push(FieldError {
                field,
                message: friendly(&failure.message),
            });
        }
        if failure.path.is_empty() || !repair::<T>(&mut doc, &failure) {
            break;
        }
    }
    Attempt {
        value: None,
        errors,
    }
}

/// Gets the document past one failure: an unknown field is removed; a missing or wrong value is replaced by
/// the first placeholder the target type accepts there (it may then fail further on, or deeper inside).
fn repair<T: DeserializeOwned>(doc: &mut Value, failure: &Failure) -> bool {
    let Some((last, parent)) = failure.path.split_last() else {
        return false;
    };
    if failure.unknown {
        return match (last, slot(doc, parent)) {
            (Step::Key(k), Some(Value::Object(map))) => map.remove(k).is_some(),
            _ => false,
        };
    }
    for candidate in placeholders() {
        match (last, slot(doc, parent)) {
            (Step::Key(k), Some(Value::Object(map))) => {
                map.insert(k.clone(), candidate);
            }
            (Step::Index(i), Some(Value::Array(items))) if *i < items.len() => {
                items[*i] = candidate;
            }
            _ => return false,
        }
        match deserialize::<T>(doc) {
            Err(next) if next.path == failure.path => continue,
            _ => return true,
        }
    }
    false
}

/// Deserialises a JSON document into `T` and runs its field rules, reporting every bad field once.
pub fn from_value<T: DeserializeOwned + Validate>(doc: Value) -> Result<T, ApiError> {
    if !doc.is_object() {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    let Attempt { value, mut errors } = attempt::<T>(doc);
    match value {
        Some(value) if errors.is_empty() => match value.validate() {
            Ok(()) => Ok(value),
            Err(rules) => Err(ApiError::validation(field_errors(&rules))),
        },
        Some(value) => {
            // The shape errors stand; add the field rules of the fields that were fine.
            if let Err(rules) = value.validate() {
                for rule in field_errors(&rules) {
                    if !errors.iter().any(|e| is_under(&rule.field, &e.field)) {
                        errors.push(rule);
                    }
                }
            }
            Err(ApiError::validation(sorted(errors)))
        }
        None => Err(ApiError::validation(sorted(errors))),
    }
}

fn sorted(mut errors: Vec<FieldError>) -> Vec<FieldError> {
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    errors
}

/// Flattens validator's nested errors into `[{field, message}]` with camelCase paths, one message a field.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out.dedup_by(|b, a| a.field == b.field);
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
                // The first rule that failed is the one to fix first; one message a field.
                if let Some(e) = list.first() {
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

/// A malformed body: not JSON at all (as opposed to JSON of the wrong shape).
pub fn malformed(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedJson,
        format!("The request body is not valid JSON: {detail}"),
    )
}

/// Deserialises a query string into `T` and checks its field rules, every bad parameter listed once.
pub fn from_query<T: DeserializeOwned + Validate>(query: &str) -> Result<T, ApiError> {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut errors: Vec<FieldError> = Vec::new();
    pairs.retain(|(k, v)| {
        if k.contains('\0') || v.contains('\0') {
            errors.push(FieldError {
                field: k.replace('\0', ""),
                message: "must not contain the NUL character (\\u0000)".into(),
            });
            false
        } else {
            true
        }
    });
    for _ in 0..=MAX_REPAIRS {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
        match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(value) if errors.is_empty() => {
                return value
                    .validate()
                    .map(|()| value)
                    .map_err(|rules| ApiError::validation(field_errors(&rules)));
            }
            Ok(value) => {
                if let Err(rules) = value.validate() {
                    for rule in field_errors(&rules) {
                        if !errors.iter().any(|e| e.field == rule.field) {
                            errors.push(rule);
                        }
                    }
                }
                break;
            }
            Err(err) => {
                let message = err.inner().to_string();
                let name = message
                    .strip_prefix("missing field `")
                    .or_else(|| message.strip_prefix("unknown field `"))
                    .and_then(|rest| rest.split('`').next())
                    .map(str::to_owned)
                    .or_else(|| {
                        steps(err.path()).into_iter().find_map(|s| match s {
                            Step::Key(k) => Some(k),
                            Step::Index(_) => None,
                        })
                    });
                let Some(name) = name else {
                    errors.push(FieldError {
                        field: "query".into(),
                        message: friendly(&message),
                    });
                    break;
                };
                if !errors.iter().any(|e| e.field == name) {
                    errors.push(FieldError {
                        field: name.clone(),
                        message: friendly(&message),
                    });
                }
                // Leave the parameter out and look for the next problem; a required one stops the search.
                let before = pairs.len();
                pairs.retain(|(k, _)| *k != name);
                if pairs.len() == before {
                    break;
                }
            }
        }
    }
    Err(ApiError::validation(sorted(errors)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_the_intake_is_bad_validation_names_the_fields() {
        let bad: crate::agent::intake::Intake = serde_json::from_value(serde_json::json!({
            "companyName": " ", "website": "nope", "escalationEmail": "x", "languages": ["english language!"]
        }))
        .expect("shape");
        let fields = field_errors(&bad.validate().expect_err("invalid"));
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        for f in ["companyName", "website", "escalationEmail", "languages"] {
            assert!(names.contains(&f), "{f} missing in {names:?}");
        }
        assert!(
            serde_json::from_value::<crate::agent::intake::Intake>(
                serde_json::json!({"companyName": "A", "tone": "angry"})
            )
            .is_err()
        );
        assert!(
            serde_json::from_value::<crate::agent::intake::Intake>(
                serde_json::json!({"companyName": "A", "extra": 1})
            )
            .is_err()
        );
    }
}
