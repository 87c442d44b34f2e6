//! A Word (DOCX) file as Markdown: its paragraphs in order, headings as `#` lines (from the paragraph's
//! style, named "heading N" or "Title" in `styles.xml`, or its outline level), list items as `- `, table
//! rows as cells joined by ` | `. Every part is read through a size limit, whatever its header claims,
//! so a zip bomb fails as `too_large`.

use super::{ExtractError, Extracted, FileKind, Limits};
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use std::collections::HashMap;
use std::io::{Cursor, Read};

/// Entries an archive may list (a DOCX has a few dozen).
const MAX_ENTRIES: usize = 10_000;

pub fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ExtractError::Unreadable(format!("zip: {e}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(ExtractError::TooLarge(format!(
            "the archive lists {} entries",
            archive.len()
        )));
    }
    let Some(document) = read_part(&mut archive, "word/document.xml", limits)? else {
        return Err(ExtractError::UnsupportedType(
            "A zip archive that is not a Word document".into(),
        ));
    };
    let levels = match read_part(&mut archive, "word/styles.xml", limits)? {
        Some(styles) => heading_styles(&styles)?,
        None => HashMap::new(),
    };
    let content = to_markdown(&document, &levels)?;
    Ok(Extracted {
        kind: FileKind::Docx,
        content,
        content_type: FileKind::Markdown.mime(),
        pages: None,
    })
}

/// A part of the archive as text, read through the limit; `None` when the archive has no such part.
fn read_part(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    limits: &Limits,
) -> Result<Option<String>, ExtractError> {
    let entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(zip::result::ZipError::UnsupportedArchive(why)) if why.contains("assword") => {
            return Err(ExtractError::Encrypted);
        }
        Err(e) => return Err(ExtractError::Unreadable(format!("{name}: {e}"))),
    };
    let limit = limits.max_decompressed_bytes;
    if entry.size() > limit as u64 {
        return Err(too_large(name, limit));
    }
    let mut out = Vec::new();
    // The header's size may lie: read one byte past the limit to know.
    entry
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ExtractError::Unreadable(format!("{name}: {e}")))?;
    if out.len() > limit {
        return Err(too_large(name, limit));
    }
    String::from_utf8(out)
        .map(Some)
        .map_err(|_| ExtractError::Unreadable(format!("{name} is not UTF-8 XML")))
}

fn too_large(name: &str, limit: usize) -> ExtractError {
    ExtractError::TooLarge(format!(
        "{name} expands past {} MB (a decompression bomb?)",
        limit / (1024 * 1024)
    ))
}

fn xml_error(e: impl std::fmt::Display) -> ExtractError {
    ExtractError::Unreadable(format!("XML: {e}"))
}

/// The `w:val` (or any namespace's `val`) attribute of an element.
fn val(e: &BytesStart<'_>) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == "val")
            .then(|| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(|v| v.into_owned())
            })
            .flatten()
    })
}

/// Heading levels by paragraph style id: "heading 1" … "heading 9" and "Title" by name, or the style's
/// outline level.
fn heading_styles(styles: &str) -> Result<HashMap<String, usize>, ExtractError> {
    let mut reader = Reader::from_str(styles);
    let mut levels = HashMap::new();
    let mut current: Option<String> = None;
    loop {
        match reader.read_event().map_err(xml_error)? {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "style" => {
                    current = e.attributes().flatten().find_map(|a| {
                        (a.key.local_name().as_ref() == "styleId")
                            .then(|| {
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .ok()
                                    .map(|v| v.into_owned())
                            })
                            .flatten()
                    });
                }
                "name" => {
                    if let (Some(id), Some(name)) = (&current, val(&e)) {
                        let name = name.to_ascii_lowercase();
                        let level = if name == "title" {
                            Some(1)
                        } else {
                            name.strip_prefix("heading ")
                                .and_then(|n| n.trim().parse::<usize>().ok())
                        };
                        if let Some(level) = level.filter(|l| (1..=6).contains(l)) {
                            levels.insert(id.clone(), level);
                        }
                    }
                }
                "outlineLvl" => {
                    if let (Some(id), Some(level)) =
                        (&current, val(&e).and_then(|v| v.parse::<usize>().ok()))
                        && level < 6
                    {
                        levels.entry(id.clone()).or_insert(level + 1);
                    }
                }
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == "style" => current = None,
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(levels)
}

/// One paragraph as it is read.
#[derive(Default)]
struct Paragraph {
    text: String,
    heading: Option<usize>,
    list: bool,
}

/// The document's body as Markdown.
fn to_markdown(xml: &str, styles: &HashMap<String, usize>) -> Result<String, ExtractError> {
    let mut reader = Reader::from_str(xml);
    let mut blocks: Vec<String> = Vec::new();
    let mut paragraph: Option<Paragraph> = None;
    let mut in_text = false;
    // Table rows collect their cells' text; a paragraph inside a cell adds to the cell.
    let mut row: Option<Vec<String>> = None;
    let mut cell: Option<String> = None;
    loop {
        match reader.read_event().map_err(xml_error)? {
            Event::Start(e) if matches!(e.local_name().as_ref(), "p" | "t" | "tr" | "tc") => {
                match e.local_name().as_ref() {
                    "p" => paragraph = Some(Paragraph::default()),
                    "t" => in_text = true,
                    "tr" => row = Some(Vec::new()),
                    _ => cell = Some(String::new()),
                }
            }
            // Properties and breaks, whether written empty or with children (`<w:numPr>` has some).
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "pStyle" => {
                    if let (Some(p), Some(id)) = (paragraph.as_mut(), val(&e)) {
                        p.heading = p.heading.or_else(|| styles.get(&id).copied());
                    }
                }
                "outlineLvl" => {
                    if let (Some(p), Some(level)) = (
                        paragraph.as_mut(),
                        val(&e).and_then(|v| v.parse::<usize>().ok()),
                    ) && level < 6
                    {
                        p.heading = Some(level + 1);
                    }
                }
                "numPr" => {
                    if let Some(p) = paragraph.as_mut() {
                        p.list = true;
                    }
                }
                "tab" => push(&mut paragraph, "\t"),
                "br" | "cr" => push(&mut paragraph, "\n"),
                _ => {}
            },
            Event::Text(t) if in_text => {
                let text = t.xml10_content();
                push(&mut paragraph, &text);
            }
            Event::CData(t) if in_text => {
                let text = t.into_inner();
                push(&mut paragraph, &text);
            }
            Event::GeneralRef(r) if in_text => {
                let resolved = match r.resolve_char_ref().map_err(xml_error)? {
                    Some(c) => c.to_string(),
                    None => match r.into_inner().as_ref() {
                        "amp" => "&".into(),
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        other => format!("&{other};"),
                    },
                };
                push(&mut paragraph, &resolved);
            }
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => {
                    if let Some(p) = paragraph.take() {
                        let text = p.text.trim();
                        if text.is_empty() {
                            continue;
                        }
                        if let Some(cell) = cell.as_mut() {
                            if !cell.is_empty() {
                                cell.push(' ');
                            }
                            cell.push_str(text);
                        } else {
                            blocks.push(markdown_block(&p, text));
                        }
                    }
                }
                "tc" => {
                    if let (Some(row), Some(cell)) = (row.as_mut(), cell.take()) {
                        row.push(cell);
                    }
                }
                "tr" => {
                    if let Some(cells) = row.take()
                        && cells.iter().any(|c| !c.is_empty())
                    {
                        blocks.push(cells.join(" | "));
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(blocks.join("\n\n"))
}

fn push(paragraph: &mut Option<Paragraph>, text: &str) {
    if let Some(p) = paragraph.as_mut() {
        p.text.push_str(text);
    }
}

/// A paragraph as a Markdown block: a heading, a list item, or text (a leading `#` or list marker
/// escaped so that it stays text).
fn markdown_block(p: &Paragraph, text: &str) -> String {
    let one_line = || text.split_whitespace().collect::<Vec<_>>().join(" ");
    match (p.heading, p.list) {
        (Some(level), _) => format!("{} {}", "#".repeat(level), one_line()),
        (None, true) => format!("- {}", one_line()),
        (None, false) => {
            if text.starts_with(['#', '-', '*', '+', '>', '=']) {
                format!("\\{text}")
            } else {
                text.to_owned()
            }
        }
    }
}
