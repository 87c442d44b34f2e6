//! The text rules every field of a request or a stored value follows, as `validator` functions: names,
//! titles, slugs and emails are one visible line ([`single_line`]); free text keeps tabs and line breaks
//! and nothing else below U+0020 ([`free_text`]). Email addresses are trimmed while parsed ([`email`]).
//!
//! Use them on a field as `#[validate(custom(function = "studio::text::single_line"))]`.

pub mod email;
#[cfg(feature = "html")]
pub mod html;

/// The separator between a PDF's pages in a document's content (a form feed, as `pdftotext` writes).
pub const PAGE_BREAK: char = '\u{c}';

/// The SHA-256 of bytes: documents' and chunks' content hashes.
/// The primary subtag of a language tag, lower-cased (`pt-BR` → `pt`); empty or malformed → `en`. It
/// names the language a workspace's text is analysed in (stemmer and stop words, see
/// `knowledge::bm25`).
pub fn language_code(tag: &str) -> String {
    let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
    if (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic()) {
        primary.to_ascii_lowercase()
    } else {
        "en".to_owned()
    }
}

pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

fn control_character(value: &str, allowed: &[char]) -> Option<char> {
    value
        .chars()
        .find(|c| c.is_ascii_control() && *c != '\u{7f}' && !allowed.contains(c))
}

fn rule(code: &'static str, message: String) -> validator::ValidationError {
    validator::ValidationError::new(code).with_message(message.into())
}

fn describe_control(c: char) -> String {
    match c {
        '\0' => "the NUL character (\\u0000)".into(),
        '\n' => "a line break".into(),
        '\r' => "a carriage return".into(),
        '\t' => "a tab".into(),
        other => format!("the control character U+{:04X}", u32::from(other)),
    }
}

/// Names, titles, slugs and emails: one line of visible text — not blank, no control characters at all.
pub fn single_line(value: &str) -> Result<(), validator::ValidationError> {
    if let Some(c) = control_character(value, &[]) {
        return Err(rule(
            "control_character",
            format!("must not contain {}", describe_control(c)),
        ));
    }
    not_blank(value)
}

/// Free text (messages, document content, intake texts): tabs and line breaks are kept, every other
/// control character is refused.
pub fn free_text(value: &str) -> Result<(), validator::ValidationError> {
    match control_character(value, &['\t', '\n', '\r']) {
        Some(c) => Err(rule(
            "control_character",
            format!(
                "must not contain {} (only tabs and line breaks are allowed)",
                describe_control(c)
            ),
        )),
        None => Ok(()),
    }
}

/// Refuses a value that is empty once trimmed.
fn not_blank(value: &str) -> Result<(), validator::ValidationError> {
    if value.trim().is_empty() {
        return Err(rule("blank", "must not be blank".into()));
    }
    Ok(())
}

/// Free text that must also say something.
pub fn free_text_not_blank(value: &str) -> Result<(), validator::ValidationError> {
    free_text(value)?;
    not_blank(value)
}
