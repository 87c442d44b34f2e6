//! Text out of uploaded files: the kind is sniffed from the bytes (the client's content type only tells
//! Markdown from plain text, which bytes cannot), then PDF ([`pdf`], page by page), DOCX ([`docx`], to
//! Markdown with its headings), HTML, Markdown and plain text become the content the ingest worker chunks.
//!
//! Every limit is checked while reading, not after: a file that inflates past [`Limits`] (a zip or a PDF
//! stream that decompresses to gigabytes) fails as `too_large` before it is held in memory. What cannot be
//! bounded from here (a parser that loops, or a process that runs out of memory anyway) is bounded by the
//! extract worker's own function: one file per invocation, with its memory and time limits.

pub mod docx;
pub mod pdf;

use std::fmt;

/// How much a file may become while it is read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes any one decompressed part may reach (a PDF stream, a DOCX part).
    pub max_decompressed_bytes: usize,
    /// Bytes of text the whole file may yield.
    pub max_text_bytes: usize,
    /// Pages a PDF may have.
    pub max_pages: usize,
}

impl Limits {
    /// The error of a file whose text passes `max_text_bytes`.
    pub(crate) fn text_too_large(&self) -> ExtractError {
        ExtractError::TooLarge(format!(
            "its text is over {} MB",
            self.max_text_bytes / (1024 * 1024)
        ))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_decompressed_bytes: 64 * 1024 * 1024,
            max_text_bytes: 16 * 1024 * 1024,
            max_pages: 2_000,
        }
    }
}

/// What a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Docx,
    Html,
    Markdown,
    Text,
}

impl FileKind {
    /// The file's media type, as recorded on the document (`fileType`).
    pub const fn mime(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileKind::Html => "text/html",
            FileKind::Markdown => "text/markdown",
            FileKind::Text => "text/plain",
        }
    }
}

/// The text of a file, in the form the ingest worker chunks: `content_type` says how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub kind: FileKind,
    /// PDF: each page's text, pages separated by a form feed (`\f`, as `pdftotext` does); DOCX: Markdown;
    /// HTML, Markdown and plain text: the text itself.
    pub content: String,
    /// `application/pdf` (pages), `text/markdown`, `text/html` or `text/plain`.
    pub content_type: &'static str,
    /// Pages of a PDF.
    pub pages: Option<u32>,
}

pub use crate::text::PAGE_BREAK;

/// Why a file's text could not be extracted; each has a stable code clients may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractError {
    /// A PDF whose pages hold no text (a scan): it needs OCR first.
    NoTextLayer,
    /// Password-protected (a PDF with a user password, an encrypted Office file).
    Encrypted,
    /// Corrupt, truncated or not what its first bytes claim.
    Unreadable(String),
    /// Over a limit: the file, a decompressed part, the pages, or the text.
    TooLarge(String),
    /// A kind of file we do not read (images, archives, legacy .doc, …).
    UnsupportedType(String),
    /// A readable file with no text at all.
    Empty,
}

impl ExtractError {
    /// The stable code stored on the document (`errorCode`).
    pub const fn code(&self) -> &'static str {
        match self {
            ExtractError::NoTextLayer => "no_text_layer",
            ExtractError::Encrypted => "encrypted",
            ExtractError::Unreadable(_) => "unreadable",
            ExtractError::TooLarge(_) => "too_large",
            ExtractError::UnsupportedType(_) => "unsupported_type",
            ExtractError::Empty => "empty",
        }
    }
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtractError::NoTextLayer => f.write_str(
                "the PDF has no text layer (its pages are images, as in a scan): run it through OCR and upload the result",
            ),
            ExtractError::Encrypted => f.write_str(
                "the file is password-protected: remove the password and upload it again",
            ),
            ExtractError::Unreadable(why) => {
                write!(f, "the file could not be read ({why}): it may be corrupt or truncated; upload it again")
            }
            ExtractError::TooLarge(why) => write!(f, "the file is too large to index: {why}"),
            ExtractError::UnsupportedType(what) => write!(
                f,
                "{what} cannot be indexed: upload PDF, DOCX, HTML, Markdown or plain text"
            ),
            ExtractError::Empty => f.write_str("the file holds no text to index"),
        }
    }
}

impl std::error::Error for ExtractError {}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Pdf,
    /// A zip archive (a DOCX, if it holds `word/document.xml`).
    Zip,
    /// An OLE compound file: legacy Office, or an encrypted Office Open XML file.
    Compound,
    /// A known binary format, named.
    Binary(&'static str),
    /// Anything else: text, if it decodes.
    Other,
}

const SIGNATURES: &[(&[u8], &str)] = &[
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a program"),
    (b"{\\rtf", "an RTF document"),
];

/// The kind of file the bytes are, from their signatures (a PDF's `%PDF-` may follow up to 1 KB of
/// junk, as readers allow).
pub fn sniff(bytes: &[u8]) -> Sniffed {
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Sniffed::Pdf;
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Sniffed::Zip;
    }
    if bytes.starts_with(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
        return Sniffed::Compound;
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" {
        return Sniffed::Binary("a RIFF media file (WebP, WAV, AVI)");
    }
    for (signature, name) in SIGNATURES {
        if bytes.starts_with(signature) {
            return Sniffed::Binary(name);
        }
    }
    Sniffed::Other
}

/// The text of a file: its kind from its bytes; between Markdown and plain text, from the declared
/// content type or the file name's extension.
pub fn extract(
    bytes: &[u8],
    declared_type: &str,
    file_name: &str,
    limits: &Limits,
) -> Result<Extracted, ExtractError> {
    let extracted = match sniff(bytes) {
        Sniffed::Pdf => pdf::extract(bytes, limits)?,
        Sniffed::Zip => docx::extract(bytes, limits)?,
        Sniffed::Compound => {
            return Err(if contains_utf16(bytes, "EncryptedPackage") {
                ExtractError::Encrypted
            } else {
                ExtractError::UnsupportedType(
                    "A legacy Office file (.doc, .xls, .ppt; save it as .docx)".into(),
                )
            });
        }
        Sniffed::Binary(name) => return Err(ExtractError::UnsupportedType(capitalised(name))),
        Sniffed::Other => text(bytes, declared_type, file_name)?,
    };
    if extracted.content.len() > limits.max_text_bytes {
        return Err(limits.text_too_large());
    }
    if extracted.content.trim().is_empty() {
        return Err(if extracted.kind == FileKind::Pdf {
            ExtractError::NoTextLayer
        } else {
            ExtractError::Empty
        });
    }
    Ok(extracted)
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn contains_utf16(bytes: &[u8], needle: &str) -> bool {
    let pattern: Vec<u8> = needle.encode_utf16().flat_map(u16::to_le_bytes).collect();
    bytes.windows(pattern.len()).any(|w| w == pattern)
}

/// A text file: UTF-8 (with or without its byte order mark) or UTF-16 with one; HTML when it starts as
/// HTML, else Markdown or plain text as declared.
fn text(bytes: &[u8], declared_type: &str, file_name: &str) -> Result<Extracted, ExtractError> {
    let decoded = decode_text(bytes)?;
    if decoded.contains('\0') {
        return Err(ExtractError::UnsupportedType("Binary data".into()));
    }
    let declared = declared_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let kind = if looks_like_html(&decoded) {
        FileKind::Html
    } else if declared == "text/markdown"
        || matches!(extension.as_str(), "md" | "markdown" | "mdown" | "mkd")
    {
        FileKind::Markdown
    } else {
        FileKind::Text
    };
    Ok(Extracted {
        kind,
        content_type: kind.mime(),
        content: decoded,
        pages: None,
    })
}

fn decode_text(bytes: &[u8]) -> Result<String, ExtractError> {
    let utf16 = |units: Vec<u16>| {
        String::from_utf16(&units)
            .map_err(|_| ExtractError::Unreadable("its UTF-16 text is malformed".into()))
    };
    if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        return utf16(
            rest.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect(),
        );
    }
    if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        return utf16(
            rest.chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect(),
        );
    }
    let rest = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    String::from_utf8(rest.to_vec()).map_err(|_| {
        ExtractError::UnsupportedType(
            "Text that is not UTF-8 (or UTF-16 with a byte order mark; save it as UTF-8)".into(),
        )
    })
}

/// Whether text starts as an HTML document does (after blanks and comments).
fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .trim_start()
        .chars()
        .take(512)
        .collect::<String>()
        .to_ascii_lowercase();
    let mut rest = head.as_str();
    while let Some(after) = rest.strip_prefix("<!--") {
        rest = after.split_once("-->").map_or("", |(_, r)| r).trim_start();
    }
    if let Some(after) = rest.strip_prefix("<?xml") {
        rest = after.split_once("?>").map_or("", |(_, r)| r).trim_start();
    }
    ["<!doctype html", "<html", "<head", "<body"]
        .iter()
        .any(|p| rest.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_bytes_are_sniffed_the_signature_decides_not_the_name() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Sniffed::Pdf);
        assert_eq!(sniff(b"junk before\n%PDF-1.4"), Sniffed::Pdf);
        assert_eq!(sniff(b"PK\x03\x04rest"), Sniffed::Zip);
        assert_eq!(
            sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1...."),
            Sniffed::Compound
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\nIHDR"),
            Sniffed::Binary("a PNG image")
        );
        assert_eq!(sniff(b"# Title\n\ntext"), Sniffed::Other);
    }

    #[test]
    fn when_text_is_extracted_html_is_recognised_and_markdown_comes_from_the_declared_type() {
        let limits = Limits::default();
        let html = extract(
            b"  <!-- saved -->\n<!DOCTYPE html><html><body><h1>A</h1></body></html>",
            "text/plain",
            "a.txt",
            &limits,
        )
        .expect("html");
        assert_eq!(
            (html.kind, html.content_type),
            (FileKind::Html, "text/html")
        );
        let md = extract(b"# A\n\nb", "text/markdown", "notes", &limits).expect("md");
        assert_eq!(md.kind, FileKind::Markdown);
        let by_name = extract(b"# A\n\nb", "application/octet-stream", "notes.MD", &limits)
            .expect("md by extension");
        assert_eq!(by_name.kind, FileKind::Markdown);
        let plain = extract(b"\xef\xbb\xbfplain", "text/plain", "a.txt", &limits).expect("txt");
        assert_eq!(
            (plain.kind, plain.content.as_str()),
            (FileKind::Text, "plain")
        );
        let utf16: Vec<u8> = b"\xff\xfe"
            .iter()
            .copied()
            .chain("héllo".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(
            extract(&utf16, "text/plain", "a.txt", &limits)
                .expect("utf-16")
                .content,
            "héllo"
        );
    }

    #[test]
    fn when_a_file_is_not_text_we_read_it_fails_with_a_code_and_a_sentence() {
        let limits = Limits::default();
        let cases: [(&[u8], &str); 5] = [
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "unsupported_type"),
            (b"caf\xe9 latin-1", "unsupported_type"),
            (b"a\0b\0c", "unsupported_type"),
            (b"  \n\t ", "empty"),
            (
                b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1legacy",
                "unsupported_type",
            ),
        ];
        for (bytes, code) in cases {
            let err = extract(bytes, "text/plain", "f", &limits).expect_err("must fail");
            assert_eq!(err.code(), code, "{bytes:?}: {err}");
            assert!(!err.to_string().is_empty());
        }
        let mut encrypted_office = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1".to_vec();
        encrypted_office.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
        let err = extract(&encrypted_office, "", "f.docx", &limits).expect_err("encrypted");
        assert_eq!(err, ExtractError::Encrypted);
    }

    #[test]
    fn when_the_text_is_over_the_limit_it_is_too_large() {
        let limits = Limits {
            max_text_bytes: 10,
            ..Limits::default()
        };
        let err = extract(b"eleven bytes", "text/plain", "a.txt", &limits).expect_err("too large");
        assert_eq!(err.code(), "too_large");
    }
}
