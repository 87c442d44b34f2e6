//! Real files for the upload tests, made here rather than shipped: PDFs with a text layer (lopdf writes
//! them as any PDF producer does), a scan (pages that only draw an image), an encrypted PDF, a DOCX (a zip
//! of WordprocessingML parts, as Word writes them) and hostile ones (truncated, decompression bombs).

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};
use std::io::{Cursor, Write};

/// A PDF whose pages hold these texts (one line per `\n`), in a standard font.
pub fn pdf(pages: &[&str]) -> Vec<u8> {
    build_pdf(pages.len(), |i| text_page(pages[i]), true)
}

/// A PDF of `pages` pages that each draw an image and no text, as a scanner makes them.
pub fn scanned_pdf(pages: usize) -> Vec<u8> {
    build_pdf(
        pages,
        |_| Content {
            operations: vec![
                Operation::new("q", vec![]),
                Operation::new(
                    "cm",
                    vec![
                        500.into(),
                        0.into(),
                        0.into(),
                        700.into(),
                        40.into(),
                        60.into(),
                    ],
                ),
                Operation::new("Do", vec!["Im1".into()]),
                Operation::new("Q", vec![]),
            ],
        },
        true,
    )
}

/// [`pdf`] protected by a user password (RC4, 128-bit: what many producers still write).
pub fn encrypted_pdf(pages: &[&str]) -> Vec<u8> {
    let mut doc = Document::load_mem(&pdf(pages)).expect("our own PDF loads");
    // The file identifier the encryption key is derived from, as producers write it.
    let id = Object::String(
        b"0123456789abcdef".to_vec(),
        lopdf::StringFormat::Hexadecimal,
    );
    doc.trailer.set("ID", vec![id.clone(), id]);
    let state = lopdf::EncryptionState::try_from(lopdf::EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner-secret",
        user_password: "user-secret",
        key_length: 128,
        permissions: lopdf::Permissions::all(),
    })
    .expect("encryption state");
    doc.encrypt(&state).expect("encrypt");
    save(&mut doc)
}

/// A one-page PDF whose content stream inflates to `inflated_bytes` bytes of spaces.
pub fn pdf_bomb(inflated_bytes: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let content = doc.add_object(Stream::new(
        dictionary! { "Filter" => "FlateDecode" },
        zlib_of_spaces(inflated_bytes),
    ));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content,
    });
    finish_pdf(&mut doc, pages_id, vec![page])
}

fn zlib_of_spaces(n: usize) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let block = [b' '; 64 * 1024];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        encoder.write_all(&block[..k]).expect("compress");
        left -= k;
    }
    encoder.finish().expect("compress")
}

fn text_page(text: &str) -> Content {
    let mut operations = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 12.into()]),
        Operation::new("TL", vec![14.into()]),
        Operation::new("Td", vec![50.into(), 780.into()]),
    ];
    for line in text.lines() {
        operations.push(Operation::new("Tj", vec![Object::string_literal(line)]));
        operations.push(Operation::new("T*", vec![]));
    }
    operations.push(Operation::new("ET", vec![]));
    Content { operations }
}

fn build_pdf(pages: usize, content: impl Fn(usize) -> Content, compress: bool) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let image = doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => 2, "Height" => 2,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
        },
        vec![0, 255, 255, 0],
    ));
    let resources = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font },
        "XObject" => dictionary! { "Im1" => image },
    });
    let kids: Vec<_> = (0..pages)
        .map(|i| {
            let mut stream = Stream::new(dictionary! {}, content(i).encode().expect("content"));
            if compress {
                let _ = stream.compress();
            }
            let content = doc.add_object(stream);
            doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => content,
                "Resources" => resources,
            })
        })
        .collect();
    finish_pdf(&mut doc, pages_id, kids)
}

fn finish_pdf(
    doc: &mut Document,
    pages_id: lopdf::ObjectId,
    kids: Vec<lopdf::ObjectId>,
) -> Vec<u8> {
    let count = i64::try_from(kids.len()).expect("page count");
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids.into_iter().map(Object::from).collect::<Vec<_>>(),
            "Count" => count,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    save(doc)
}

fn save(doc: &mut Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save PDF");
    out
}

/// A block of a Word document.
#[derive(Debug, Clone, Copy)]
pub enum Block<'a> {
    Heading(u8, &'a str),
    Paragraph(&'a str),
    ListItem(&'a str),
    /// A table row's cells.
    Row(&'a [&'a str]),
}

/// A DOCX holding these blocks; headings use the built-in "heading N" styles (ids `Heading1`…).
pub fn docx(blocks: &[Block<'_>]) -> Vec<u8> {
    let mut body = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => body.push_str(&format!(
                r#"<w:p><w:pPr><w:pStyle w:val="Heading{level}"/></w:pPr><w:r><w:t>{}</w:t></w:r></w:p>"#,
                escape(text)
            )),
            Block::Paragraph(text) => body.push_str(&format!(
                r#"<w:p><w:r><w:t xml:space="preserve">{}</w:t></w:r></w:p>"#,
                escape(text)
            )),
            Block::ListItem(text) => body.push_str(&format!(
                r#"<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>{}</w:t></w:r></w:p>"#,
                escape(text)
            )),
            Block::Row(cells) => {
                body.push_str("<w:tbl><w:tr>");
                for cell in *cells {
                    body.push_str(&format!(
                        "<w:tc><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:tc>",
                        escape(cell)
                    ));
                }
                body.push_str("</w:tr></w:tbl>");
            }
        }
    }
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
    );
    let mut styles = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">"#,
    );
    for level in 1..=3 {
        styles.push_str(&format!(
            r#"<w:style w:type="paragraph" w:styleId="Heading{level}"><w:name w:val="heading {level}"/><w:pPr><w:outlineLvl w:val="{}"/></w:pPr></w:style>"#,
            level - 1
        ));
    }
    styles.push_str("</w:styles>");
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("_rels/.rels", RELS.as_bytes()),
        ("word/document.xml", document.as_bytes()),
        ("word/styles.xml", styles.as_bytes()),
    ])
}

/// A DOCX whose `word/document.xml` inflates to `inflated_bytes` bytes (spaces, compressed ~1000:1).
pub fn docx_bomb(inflated_bytes: usize) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(inflated_bytes as u64 >= u64::from(u32::MAX));
    writer
        .start_file("[Content_Types].xml", options)
        .expect("zip");
    writer.write_all(CONTENT_TYPES.as_bytes()).expect("zip");
    writer
        .start_file("word/document.xml", options)
        .expect("zip");
    let block = [b' '; 64 * 1024];
    let mut left = inflated_bytes;
    while left > 0 {
        let k = left.min(block.len());
        writer.write_all(&block[..k]).expect("zip");
        left -= k;
    }
    writer.finish().expect("zip").into_inner()
}

fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in parts {
        writer.start_file(*name, options).expect("zip");
        writer.write_all(bytes).expect("zip");
    }
    writer.finish().expect("zip").into_inner()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;

const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;
