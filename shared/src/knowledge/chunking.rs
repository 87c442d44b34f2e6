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
    /// A PDF's text, pages separated by a form feed (the extract worker writes it; clients cannot send
    /// it, see [`ContentType::parse`]).
    PdfPages,
}

pub use crate::text::PAGE_BREAK;

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

    /// A stored document's type: what clients may send, and the PDF pages the extract worker stores.
    pub fn of_stored(raw: &str) -> Self {
        if raw.trim().eq_ignore_ascii_case("application/pdf") {
            Self::PdfPages
        } else {
            Self::parse(Some(raw)).unwrap_or(Self::Plain)
        }
    }

    pub const fn mime(self) -> &'static str {
        match self {
            Self::Plain => "text/plain",
            Self::Markdown => "text/markdown",
            Self::Html => "text/html",
            Self::PdfPages => "application/pdf",
        }
    }
}

/// The text a document's chunks are cut from: HTML becomes Markdown-shaped text (its headings as `#`
/// lines, so its chunks know their sections), from its main content only (see
/// [`crate::text::html::main_text`]).
pub fn to_text(content: &str, content_type: ContentType) -> anyhow::Result<String> {
    match content_type {
        ContentType::Plain | ContentType::Markdown | ContentType::PdfPages => {
            Ok(content.to_owned())
        }
        ContentType::Html => crate::text::html::main_text(content),
    }
}

/// A chunk of a document, and where in it it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub text: String,
    /// The headings it sits under, outermost first, joined by " › " (Markdown and HTML); none for plain
    /// text and PDFs.
    pub section: Option<String>,
    /// The page it is on, from 1 (PDFs).
    pub page: Option<u32>,
}

/// Splits text into chunks of at most `size` tokens with `overlap` tokens shared between neighbours;
/// Markdown (and HTML, once [`to_text`] made it Markdown-shaped) is split along its structure (headings,
/// paragraphs, lists) first, and each of its chunks names the headings it sits under; a PDF's pages are
/// chunked one by one, and each chunk names its page.
pub fn chunk(
    text: &str,
    content_type: ContentType,
    size: usize,
    overlap: usize,
) -> anyhow::Result<Vec<Chunk>> {
    let config = ChunkConfig::new(size)
        .with_overlap(overlap)
        .map_err(|e| anyhow::anyhow!("chunk overlap: {e}"))?
        .with_sizer(tokenizer());
    let chunks: Vec<Chunk> = match content_type {
        ContentType::Markdown | ContentType::Html => {
            let headings = headings(text);
            MarkdownSplitter::new(config)
                .chunk_indices(text)
                .map(|(offset, c)| Chunk {
                    text: c.to_owned(),
                    section: section_at(&headings, offset),
                    page: None,
                })
                .collect()
        }
        ContentType::Plain => TextSplitter::new(config)
            .chunks(text)
            .map(|c| Chunk {
                text: c.to_owned(),
                section: None,
                page: None,
            })
            .collect(),
        ContentType::PdfPages => {
            let splitter = TextSplitter::new(config);
            text.split(PAGE_BREAK)
                .zip(1u32..)
                .flat_map(|(page, number)| {
                    splitter.chunks(page).map(move |c| Chunk {
                        text: c.to_owned(),
                        section: None,
                        page: Some(number),
                    })
                })
                .collect()
        }
    };
    Ok(chunks
        .into_iter()
        .filter(|c| !c.text.trim().is_empty())
        .collect())
}

/// A Markdown heading: where it starts, its level (1–6) and its text.
struct Heading {
    offset: usize,
    level: usize,
    text: String,
}

/// The headings of a Markdown text, in order (from the parser's events, so `#` inside code is not one).
fn headings(text: &str) -> Vec<Heading> {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut out: Vec<Heading> = Vec::new();
    let mut open: Option<Heading> = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                open = Some(Heading {
                    offset: range.start,
                    level: level as usize,
                    text: String::new(),
                });
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = open.as_mut() {
                    h.text.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = open.take().filter(|h| !h.text.trim().is_empty()) {
                    out.push(h);
                }
            }
            _ => {}
        }
    }
    out
}

/// The heading path at byte `offset`: each level's latest heading that starts at or before it.
fn section_at(headings: &[Heading], offset: usize) -> Option<String> {
    let mut path: Vec<&Heading> = Vec::new();
    for h in headings.iter().take_while(|h| h.offset <= offset) {
        while path.last().is_some_and(|p| p.level >= h.level) {
            path.pop();
        }
        path.push(h);
    }
    (!path.is_empty()).then(|| {
        path.iter()
            .map(|h| h.text.trim())
            .collect::<Vec<_>>()
            .join(" › ")
    })
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
        let chunks: Vec<String> = chunk(&text, ContentType::Plain, 64, 16)
            .expect("chunks")
            .into_iter()
            .map(|c| c.text)
            .collect();
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
        let chunks: Vec<String> = chunk(md, ContentType::Markdown, 12, 0)
            .expect("chunks")
            .into_iter()
            .map(|c| c.text)
            .collect();
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
    fn when_html_has_many_links_no_reference_list_is_appended_and_the_link_texts_stay() {
        // The shape of a Sphinx page (Python's command-line documentation): every option is a link.
        let options: String = (0..60)
            .map(|i| {
                format!(
                    "<dt class=\"sig\" id=\"cmdoption-opt{i}\"><span class=\"pre\">-X{i}</span>\
                     <a class=\"headerlink\" href=\"#cmdoption-opt{i}\" title=\"Link to this definition\">¶</a></dt>\
                     <dd><p>Option {i} turns on feature {i}; see <a class=\"reference internal\" href=\"#envvar-PYTHONOPT{i}\">\
                     <code class=\"xref std std-envvar\">PYTHONOPT{i}</code></a> and \
                     <a class=\"reference external\" href=\"https://docs.python.org/3/library/sys.html#sys.flags\">sys.flags</a>.</p></dd>"
                )
            })
            .collect();
        let html = format!(
            "<html><body><nav><a href=\"/\">Home</a> <a href=\"#\">Up</a></nav>\
             <h1>Command line and environment</h1><dl class=\"std option\">{options}</dl></body></html>"
        );
        let text = to_text(&html, ContentType::Html).expect("html");
        assert!(
            text.contains("Option 59 turns on feature 59") && text.contains("PYTHONOPT59"),
            "the link texts stay: {text}"
        );
        assert!(
            !text.contains("cmdoption") && !text.contains("#envvar") && !text.contains("https://"),
            "no link targets: {text}"
        );
        let reference_line = |l: &str| {
            let l = l.trim_start();
            l.starts_with('[')
                && l.split_once("]: ")
                    .is_some_and(|(n, _)| n[1..].chars().all(|c| c.is_ascii_digit()))
        };
        assert!(!text.lines().any(reference_line), "{text}");
        // The reference list no longer fills chunks of its own: each chunk carries the page's prose.
        let chunks: Vec<String> = chunk(&text, ContentType::Html, 64, 8)
            .expect("chunks")
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert!(
            chunks
                .iter()
                .all(|c| c.contains("Option") || c.contains("Command line")),
            "{chunks:#?}"
        );
    }

    #[test]
    fn a_markdown_chunk_names_the_headings_it_sits_under() {
        let md = "Intro before any heading.\n\n# Returns\n\nWithin 45 days.\n\n## Refunds\n\nTo your card in five days.\n\n```\n# not a heading\n```\n\n## Exchanges\n\nAny size.\n\n# Shipping\n\nWorldwide.\n";
        let chunks = chunk(md, ContentType::Markdown, 8, 0).expect("chunks");
        let section_of = |needle: &str| {
            chunks
                .iter()
                .find(|c| c.text.contains(needle))
                .unwrap_or_else(|| panic!("{needle:?} in {chunks:#?}"))
                .section
                .clone()
        };
        assert_eq!(section_of("Intro before"), None);
        assert_eq!(section_of("Within 45 days").as_deref(), Some("Returns"));
        assert_eq!(
            section_of("To your card").as_deref(),
            Some("Returns › Refunds")
        );
        assert_eq!(
            section_of("Any size").as_deref(),
            Some("Returns › Exchanges")
        );
        assert_eq!(section_of("Worldwide").as_deref(), Some("Shipping"));
        // Plain text has no sections.
        assert!(
            chunk("# Not markdown here", ContentType::Plain, 8, 0)
                .expect("chunks")
                .iter()
                .all(|c| c.section.is_none())
        );
    }

    #[test]
    fn when_a_content_type_is_unknown_it_is_refused() {
        assert_eq!(ContentType::parse(None), Some(ContentType::Plain));
        assert_eq!(
            ContentType::parse(Some("text/markdown; charset=utf-8")),
            Some(ContentType::Markdown)
        );
        assert_eq!(ContentType::parse(Some("application/pdf")), None);
        assert_eq!(
            ContentType::of_stored("application/pdf"),
            ContentType::PdfPages
        );
        assert_eq!(ContentType::of_stored("text/html"), ContentType::Html);
        assert_eq!(ContentType::of_stored("unknown/thing"), ContentType::Plain);
    }

    #[test]
    fn a_pdf_chunk_names_its_page_and_never_spans_two() {
        let text = format!(
            "Returns within 30 days.{PAGE_BREAK}{}{PAGE_BREAK}The warranty lasts five years.",
            "Shipping takes two days. ".repeat(40)
        );
        let chunks = chunk(&text, ContentType::PdfPages, 32, 0).expect("chunks");
        let page_of = |needle: &str| {
            chunks
                .iter()
                .find(|c| c.text.contains(needle))
                .unwrap_or_else(|| panic!("{needle:?} in {chunks:#?}"))
                .page
        };
        assert_eq!(page_of("Returns within"), Some(1));
        assert_eq!(page_of("Shipping takes"), Some(2));
        assert_eq!(page_of("warranty"), Some(3));
        assert!(chunks.iter().filter(|c| c.page == Some(2)).count() > 1);
        assert!(
            chunks
                .iter()
                .all(|c| !c.text.contains(PAGE_BREAK) && c.section.is_none())
        );
    }

    #[test]
    fn when_html_is_a_page_only_its_main_content_is_kept_with_its_headings_as_sections() {
        let html = r#"<!doctype html><html><head><title>T</title><style>p{}</style></head><body>
            <header><a href="/">Shop</a> <nav><a href="/tents">Tents</a></nav></header>
            <div role="navigation">Breadcrumbs here</div>
            <main><h1>Care guide</h1><p>Dry the tent before storing it.</p>
              <h2>Poles</h2><p>Wipe the poles after each trip.</p>
              <aside>Related: sleeping bags</aside></main>
            <footer>Copyright footer text</footer><script>track()</script></body></html>"#;
        let text = to_text(html, ContentType::Html).expect("html");
        for gone in [
            "Shop",
            "Tents",
            "Breadcrumbs",
            "sleeping bags",
            "Copyright",
            "track()",
            "p{}",
        ] {
            assert!(!text.contains(gone), "{gone:?} should be gone: {text}");
        }
        let chunks = chunk(&text, ContentType::Html, 12, 0).expect("chunks");
        let section_of = |needle: &str| {
            chunks
                .iter()
                .find(|c| c.text.contains(needle))
                .unwrap_or_else(|| panic!("{needle:?} in {chunks:#?}"))
                .section
                .clone()
        };
        assert_eq!(section_of("Dry the tent").as_deref(), Some("Care guide"));
        assert_eq!(
            section_of("Wipe the poles").as_deref(),
            Some("Care guide › Poles")
        );
        // Without a marked main content, the page less its furniture is kept.
        let plain = to_text(
            "<body><nav>Menu</nav><h1>Hours</h1><p>Open 9 to 5.</p></body>",
            ContentType::Html,
        )
        .expect("html");
        assert!(
            plain.contains("Open 9 to 5") && !plain.contains("Menu"),
            "{plain}"
        );
    }
}
