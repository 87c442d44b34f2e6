//! Sitemaps (sitemaps.org): the `<loc>` of each `<url>` of a `<urlset>`, or of each `<sitemap>` of a
//! `<sitemapindex>` (sitemaps to read in turn).

use quick_xml::Reader;
use quick_xml::events::Event;

/// What a sitemap lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sitemap {
    /// Pages (`<urlset>`).
    pub pages: Vec<String>,
    /// Further sitemaps (`<sitemapindex>`).
    pub sitemaps: Vec<String>,
}

/// Reads a sitemap; an XML error says where.
pub fn parse(xml: &str) -> Result<Sitemap, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Sitemap::default();
    // The element a <loc> belongs to, and the <loc> being read.
    let mut parent: Option<&'static str> = None;
    let mut loc: Option<String> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not a sitemap: {e} at byte {}", reader.buffer_position()))?;
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                "url" => parent = Some("url"),
                "sitemap" => parent = Some("sitemap"),
                "loc" if parent.is_some() => loc = Some(String::new()),
                _ => {}
            },
            Event::Text(t) => {
                if let Some(l) = loc.as_mut() {
                    l.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(l) = loc.as_mut() {
                    l.push_str(&t.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(l) = loc.as_mut() {
                    match r.resolve_char_ref().map_err(|e| e.to_string())? {
                        Some(c) => l.push(c),
                        None => l.push_str(match r.into_inner().as_ref() {
                            "amp" => "&",
                            "lt" => "<",
                            "gt" => ">",
                            "quot" => "\"",
                            "apos" => "'",
                            _ => "",
                        }),
                    }
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                "loc" => {
                    if let (Some(l), Some(p)) = (loc.take(), parent) {
                        let l = l.trim().to_owned();
                        if !l.is_empty() {
                            if p == "url" {
                                out.pages.push(l);
                            } else {
                                out.sitemaps.push(l);
                            }
                        }
                    }
                }
                "url" | "sitemap" => parent = None,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_urlset_lists_pages_and_an_index_lists_sitemaps() {
        let set = parse(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <url><loc> https://a.example/x?p=1&amp;q=2 </loc><lastmod>2026-01-01</lastmod></url>
              <url><loc><![CDATA[https://a.example/y]]></loc></url>
            </urlset>"#,
        )
        .unwrap();
        assert_eq!(
            set.pages,
            ["https://a.example/x?p=1&q=2", "https://a.example/y"]
        );
        assert!(set.sitemaps.is_empty());
        let index = parse(
            r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <sitemap><loc>https://a.example/s1.xml</loc></sitemap></sitemapindex>"#,
        )
        .unwrap();
        assert_eq!(index.sitemaps, ["https://a.example/s1.xml"]);
        assert!(index.pages.is_empty());
    }

    #[test]
    fn what_is_not_a_sitemap_says_so() {
        assert!(parse("<urlset><url><loc>x</url></urlset>").is_err());
        assert_eq!(
            parse("<html><body>hi</body></html>").unwrap(),
            Sitemap::default()
        );
    }
}
