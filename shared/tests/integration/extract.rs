//! Text out of real files: PDFs and DOCX made as producers make them, and the hostile ones — a scan, an
//! encrypted PDF, truncated files, decompression bombs — each failing alone with its code.

use studio::extract::{ExtractError, FileKind, Limits, PAGE_BREAK, extract};
use studio_testing::files::{self, Block};

const DOCX_TYPE: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

#[test]
fn when_a_pdf_has_a_text_layer_each_page_keeps_its_text_in_order() {
    let bytes = files::pdf(&[
        "Returns\nItems can be returned within 30 days.",
        "Shipping\nOrders ship in two business days.",
        "Warranty\nThe tent pole warranty lasts five years.",
    ]);
    // Declared as something else: the bytes decide.
    let out = extract(&bytes, "text/plain", "guide.txt", &Limits::default()).expect("extracted");
    assert_eq!(out.kind, FileKind::Pdf);
    assert_eq!(out.content_type, "application/pdf");
    assert_eq!(out.pages, Some(3));
    let pages: Vec<&str> = out.content.split(PAGE_BREAK).collect();
    assert_eq!(pages.len(), 3);
    assert!(pages[0].contains("within 30 days"), "{:?}", pages[0]);
    assert!(pages[1].contains("two business days"), "{:?}", pages[1]);
    assert!(pages[2].contains("five years"), "{:?}", pages[2]);
}

#[test]
fn when_a_pdf_is_a_scan_it_fails_as_no_text_layer() {
    let err = extract(
        &files::scanned_pdf(2),
        "application/pdf",
        "scan.pdf",
        &Limits::default(),
    )
    .expect_err("no text");
    assert_eq!(err, ExtractError::NoTextLayer);
    assert!(err.to_string().contains("OCR"), "{err}");
}

#[test]
fn when_a_pdf_has_a_user_password_it_fails_as_encrypted() {
    let bytes = files::encrypted_pdf(&["Secret price list"]);
    let err = extract(&bytes, "application/pdf", "locked.pdf", &Limits::default())
        .expect_err("encrypted");
    assert_eq!(err.code(), "encrypted", "{err}");
}

#[test]
fn when_a_pdf_is_truncated_it_fails_as_unreadable() {
    let bytes = files::pdf(&["First page text", "Second page text"]);
    for cut in [bytes.len() / 2, 40] {
        let err = extract(
            &bytes[..cut],
            "application/pdf",
            "cut.pdf",
            &Limits::default(),
        )
        .expect_err("truncated");
        assert_eq!(err.code(), "unreadable", "cut at {cut}: {err}");
    }
}

#[test]
fn when_a_pdf_stream_inflates_past_the_limit_it_fails_as_too_large_without_inflating_it() {
    let limits = Limits {
        max_decompressed_bytes: 8 * 1024 * 1024,
        ..Limits::default()
    };
    let bomb = files::pdf_bomb(128 * 1024 * 1024);
    assert!(bomb.len() < 1024 * 1024, "a bomb is small: {}", bomb.len());
    let err = extract(&bomb, "application/pdf", "bomb.pdf", &limits).expect_err("bomb");
    assert_eq!(err.code(), "too_large", "{err}");
}

#[test]
fn when_a_pdf_has_more_pages_than_allowed_it_fails_as_too_large() {
    let limits = Limits {
        max_pages: 2,
        ..Limits::default()
    };
    let err = extract(
        &files::pdf(&["a", "b", "c"]),
        "application/pdf",
        "p.pdf",
        &limits,
    )
    .expect_err("pages");
    assert_eq!(err.code(), "too_large");
    assert!(err.to_string().contains("3 pages"), "{err}");
}

#[test]
fn when_a_docx_is_read_its_headings_lists_and_tables_become_markdown() {
    let bytes = files::docx(&[
        Block::Heading(1, "Care guide"),
        Block::Paragraph("Dry the tent before storing it."),
        Block::Heading(2, "Poles & pegs"),
        Block::ListItem("Wipe the poles"),
        Block::Paragraph("# not a heading"),
        Block::Row(&["Size", "Weight"]),
        Block::Row(&["2P", "1.9 kg"]),
    ]);
    let out = extract(&bytes, DOCX_TYPE, "care.docx", &Limits::default()).expect("docx");
    assert_eq!(
        (out.kind, out.content_type),
        (FileKind::Docx, "text/markdown")
    );
    assert_eq!(
        out.content,
        "# Care guide\n\nDry the tent before storing it.\n\n## Poles & pegs\n\n- Wipe the poles\n\n\\# not a heading\n\nSize | Weight\n\n2P | 1.9 kg"
    );
}

#[test]
fn when_a_docx_is_a_zip_bomb_or_truncated_or_not_a_document_it_fails_alone_with_its_code() {
    let limits = Limits {
        max_decompressed_bytes: 8 * 1024 * 1024,
        ..Limits::default()
    };
    let bomb = files::docx_bomb(128 * 1024 * 1024);
    assert!(bomb.len() < 1024 * 1024, "{}", bomb.len());
    assert_eq!(
        extract(&bomb, DOCX_TYPE, "bomb.docx", &limits)
            .expect_err("bomb")
            .code(),
        "too_large"
    );
    let good = files::docx(&[Block::Paragraph("Hello")]);
    assert_eq!(
        extract(&good[..good.len() / 2], DOCX_TYPE, "cut.docx", &limits)
            .expect_err("truncated")
            .code(),
        "unreadable"
    );
    let other_zip = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("photo.jpg", zip::write::SimpleFileOptions::default())
            .expect("zip");
        w.finish().expect("zip").into_inner()
    };
    assert_eq!(
        extract(&other_zip, "application/zip", "a.zip", &limits)
            .expect_err("not a docx")
            .code(),
        "unsupported_type"
    );
}
