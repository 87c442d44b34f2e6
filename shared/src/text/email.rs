//! Email addresses in request bodies. Surrounding whitespace (a pasted address, a trailing tab) is not part
//! of an address: it is trimmed while the body is parsed, before the field's rules (format, length) run,
//! so every route that takes an address — register, login, password reset, invitations — accepts
//! `" ada@example.com "` as `ada@example.com`, and an address of spaces only is an empty one.
//!
//! Use it on every email field: `#[serde(deserialize_with = "studio::text::email::trimmed")]`, or on an
//! optional one `#[serde(default, deserialize_with = "studio::text::email::trimmed_option")]`; then the
//! field's rule: [`new_address`] for an address to store (register, invite), [`known_address`] for one
//! to look up (sign in, password reset).

use serde::{Deserialize, Deserializer};
use validator::{ValidateEmail, ValidationError};

/// The longest address we store or look up (RFC 5321's path limit).
pub const MAX_LEN: usize = 254;

/// An address to store: a valid address, at most 254 characters, one line.
pub fn new_address(value: &str) -> Result<(), ValidationError> {
    if !value.validate_email() {
        return Err(super::rule("email", "must be an email address".into()));
    }
    if value.chars().count() > MAX_LEN {
        return Err(super::rule(
            "length",
            format!("must be at most {MAX_LEN} characters"),
        ));
    }
    super::single_line(value)
}

/// An address to look up: 1 to 254 characters, one line (its format is not checked: an unknown address
/// answers like a wrong password).
pub fn known_address(value: &str) -> Result<(), ValidationError> {
    if !(1..=MAX_LEN).contains(&value.chars().count()) {
        return Err(super::rule(
            "length",
            format!("must be 1 to {MAX_LEN} characters"),
        ));
    }
    super::single_line(value)
}

/// Deserialises a string with its surrounding whitespace removed.
pub fn trimmed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let raw = String::deserialize(deserializer)?;
    let trimmed = raw.trim();
    Ok(if trimmed.len() == raw.len() {
        raw
    } else {
        trimmed.to_owned()
    })
}

/// [`trimmed`] for an optional field (with `#[serde(default)]`, so that it may be absent).
pub fn trimmed_option<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Trimmed(#[serde(deserialize_with = "trimmed")] String);
    Ok(Option::<Trimmed>::deserialize(deserializer)?.map(|t| t.0))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::trimmed")]
        email: String,
        #[serde(default, deserialize_with = "super::trimmed_option")]
        other: Option<String>,
    }

    fn parse(json: &str) -> Result<String, serde_json::Error> {
        serde_json::from_str::<Body>(json).map(|b| b.email)
    }

    #[test]
    fn surrounding_whitespace_is_trimmed_and_the_rest_kept() {
        assert_eq!(
            parse(r#"{"email": " a@b.co\t\n"}"#).ok().as_deref(),
            Some("a@b.co")
        );
        assert_eq!(
            parse(r#"{"email": "a@b.co"}"#).ok().as_deref(),
            Some("a@b.co")
        );
        assert_eq!(parse(r#"{"email": "   "}"#).ok().as_deref(), Some(""));
        assert_eq!(
            parse(r#"{"email": "a b@c.co"}"#).ok().as_deref(),
            Some("a b@c.co")
        );
        assert!(parse(r#"{"email": 1}"#).is_err());
    }

    #[test]
    fn an_optional_address_may_be_absent_or_null_and_is_trimmed_when_present() {
        let other = |json: &str| serde_json::from_str::<Body>(json).map(|b| b.other);
        assert_eq!(other(r#"{"email": ""}"#).ok(), Some(None));
        assert_eq!(other(r#"{"email": "", "other": null}"#).ok(), Some(None));
        assert_eq!(
            other(r#"{"email": "", "other": " a@b.co "}"#).ok(),
            Some(Some("a@b.co".to_owned()))
        );
        assert!(other(r#"{"email": "", "other": 1}"#).is_err());
    }

    #[test]
    fn a_new_address_must_be_one_valid_line_and_a_known_one_only_short_and_one_line() {
        let code = |r: Result<(), validator::ValidationError>| r.err().map(|e| e.code.into_owned());
        assert_eq!(code(super::new_address("ada@example.com")), None);
        assert_eq!(code(super::new_address("ada")).as_deref(), Some("email"));
        // A well-formed address past the 254-character limit (64-character local part, long domain).
        let domain = format!("{}.", "c".repeat(60)).repeat(4) + "com";
        let long = format!("{}@{domain}", "a".repeat(64));
        assert!(long.chars().count() > super::MAX_LEN, "{}", long.len());
        assert_eq!(code(super::new_address(&long)).as_deref(), Some("length"));
        assert_eq!(
            code(super::new_address("ada\u{0}@example.com")).as_deref(),
            Some("email")
        );
        assert_eq!(code(super::known_address("ada")), None);
        assert_eq!(code(super::known_address("")).as_deref(), Some("length"));
        assert_eq!(code(super::known_address(&long)).as_deref(), Some("length"));
        assert_eq!(
            code(super::known_address("ada\u{0}@example.com")).as_deref(),
            Some("control_character")
        );
    }
}
