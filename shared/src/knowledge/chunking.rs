//! Documents to text, and text to chunks counted in tokens (cl100k, the embedding models' tokenizer).

use text_splitter::{ChunkConfig, MarkdownSplitter, TextSplitter};
use tiktoken_rs::CoreBPE;

/// The tokenizer, loaded on first use only (its tables cost ~28 MB), in the functions that count tokens.
pub fn tokenizer() -> &'static CoreBPE {
    tiktoken_rs::cl100k_base_singleton()
}

pub fn count_tokens(text: &str) -> usize {
    tokenizer().encode_ordinary(text).len()
}

/// A document's content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    Plain,
    Markdown,
    Html,
}

impl ContentType {
    pub fn parse(raw: Option<&str>) -> Option<Self> {
        match raw
            .map(|s| {
                s.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .as_deref()
        {
            None | Some("text/plain") | Some("plain") | Some("text") => Some(Self::Plain),
            Some("text/markdown") | Some("markdown") | Some("md") => Some(Self::Markdown),
            Some("text/html") | Some("html") => Some(Self::Html),
            _ => None,
        }
    }

    pub const fn mime(self) -> &'static str {
        match self {
            Self::Plain => "text/plain",
            Self::Markdown => "text/markdown",
            Self::Html => "text/html",
        }
    }
}

/// The text a document's chunks are cut from: HTML is converted to plain text.
pub fn to_text(content: &str, content_type: ContentType) -> anyhow::Result<String> {
    match content_type {
        ContentType::Plain | ContentType::Markdown => Ok(content.to_owned()),
        ContentType::Html => html2text::from_read(content.as_bytes(), 100_000)
            .map_err(|e| anyhow::anyhow!("the HTML could not be converted to text: {e}")),
    }
}

/// Splits text into chunks of at most `size` tokens with `overlap` tokens shared between neighbours;
/// Markdown is split along its structure (headings, paragraphs, lists) first.
pub fn chunk(
    text: &str,
    content_type: ContentType,
    size: usize,
    overlap: usize,
) -> anyhow::Result<Vec<String>> {
    let config = ChunkConfig::new(size)
        .with_overlap(overlap)
        .map_err(|e| anyhow::anyhow!("chunk overlap: {e}"))?
        .with_sizer(tokenizer());
    let chunks: Vec<String> = match content_type {
        ContentType::Markdown => MarkdownSplitter::new(config)
            .chunks(text)
            .map(str::to_owned)
            .collect(),
        ContentType::Plain | ContentType::Html => TextSplitter::new(config)
            .chunks(text)
            .map(str::to_owned)
            .collect(),
    };
    Ok(chunks
        .into_iter()
        .filter(|c| !c.trim().is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_text_is_long_it_is_cut_into_overlapping_chunks_within_the_token_budget() {
        let text = (0..400)
            .map(|i| format!("Sentence number {i} talks about refunds and shipping."))
            .collect::<Vec<_>>()
            .join(" ");
        let chunks = chunk(&text, ContentType::Plain, 64, 16).expect("chunks");
        assert!(chunks.len() > 10);
        assert!(chunks.iter().all(|c| count_tokens(c) <= 64));
        // Overlap: consecutive chunks share text.
        let tail: String = chunks[0]
            .split_whitespace()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(chunks[1].contains(&tail), "{tail:?} not in {:?}", chunks[1]);
    }

    #[test]
    fn when_markdown_is_chunked_sections_stay_whole_where_they_fit() {
        let md = "# Refunds\n\nRefunds take 5 days.\n\n# Shipping\n\nWe ship worldwide.\n";
        let chunks = chunk(md, ContentType::Markdown, 12, 0).expect("chunks");
        assert!(chunks.iter().any(|c| c.contains("Refunds take 5 days")));
        assert!(
            chunks
                .iter()
                .all(|c| !(c.contains("Refunds take") && c.contains("ship worldwide"))),
            "{chunks:?}"
        );
    }

    #[test]
    fn when_html_is_ingested_tags_are_gone() {
        let text = to_text(
            "<h1>Hours</h1><p>Open <b>9 to 5</b>.</p><script>x()</script>",
            ContentType::Html,
        )
        .expect("html");
        assert!(text.contains("Hours") && text.contains("9 to 5"), "{text}");
        assert!(!text.contains("<b>"));
    }

    #[test]
    fn when_a_content_type_is_unknown_it_is_refused() {
        assert_eq!(ContentType::parse(None), Some(ContentType::Plain));
        assert_eq!(
            ContentType::parse(Some("text/markdown; charset=utf-8")),
            Some(ContentType::Markdown)
        );
        assert_eq!(ContentType::parse(Some("application/pdf")), None);
    }
}
