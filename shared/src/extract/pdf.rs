//! A PDF's text layer, page by page, through lopdf: every stream decoded under a size limit (a
//! decompression bomb fails as `too_large`), an encrypted file refused, a scan (pages without text)
//! told apart from a corrupt file.

use super::{ExtractError, Extracted, FileKind, Limits, PAGE_BREAK};
use lopdf::{DecompressError, Document, Error as PdfError, LoadOptions};

pub fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    let options = LoadOptions {
        max_decompressed_size: Some(limits.max_decompressed_bytes),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(bytes, options).map_err(|e| classify(&e))?;
    // A file with a user password loads, but stays encrypted: its pages cannot be read.
    if doc.is_encrypted() {
        return Err(ExtractError::Encrypted);
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(ExtractError::Unreadable("it has no pages".into()));
    }
    if pages.len() > limits.max_pages {
        return Err(ExtractError::TooLarge(format!(
            "{} pages, more than {}",
            pages.len(),
            limits.max_pages
        )));
    }
    let mut texts = Vec::with_capacity(pages.len());
    let (mut failed, mut size) = (0usize, 0usize);
    let mut first_error = None;
    for &number in pages.keys() {
        match doc.extract_text_with_limit(&[number], limits.max_decompressed_bytes) {
            Ok(text) => {
                let text = tidy(&text);
                size += text.len();
                if size > limits.max_text_bytes {
                    return Err(limits.text_too_large());
                }
                texts.push(text);
            }
            Err(e) => {
                let kind = classify(&e);
                if matches!(kind, ExtractError::TooLarge(_)) {
                    return Err(kind);
                }
                // One damaged page loses its text only; a file where every page is damaged is unreadable.
                tracing::warn!(page = number, error = %e, "a PDF page could not be read");
                failed += 1;
                first_error.get_or_insert(kind);
                texts.push(String::new());
            }
        }
    }
    if failed == texts.len() {
        return Err(first_error.unwrap_or(ExtractError::Unreadable("no page could be read".into())));
    }
    let separator = PAGE_BREAK.to_string();
    Ok(Extracted {
        kind: FileKind::Pdf,
        content: texts.join(&separator),
        content_type: FileKind::Pdf.mime(),
        pages: u32::try_from(texts.len()).ok(),
    })
}

/// A page's text as lopdf gives it (a line per text run), with blank runs and our page separator gone.
fn tidy(text: &str) -> String {
    text.lines()
        .map(|l| l.replace(PAGE_BREAK, " ").trim_end().to_owned())
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn classify(e: &PdfError) -> ExtractError {
    match e {
        PdfError::Decompress(DecompressError::MemoryLimitExceeded { .. }) => {
            ExtractError::TooLarge(
                "a compressed part of it expands past the limit (a decompression bomb?)".into(),
            )
        }
        PdfError::Decryption(_) | PdfError::InvalidPassword => ExtractError::Encrypted,
        other => ExtractError::Unreadable(format!("PDF: {other}")),
    }
}
