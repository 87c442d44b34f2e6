//! Reading HTML, in one place for the chunker and the crawler: a page's main content as Markdown-shaped
//! text (headings as `#` lines, so chunks know their sections), and for a crawled page its title, its
//! links and what its `robots` meta tag asks.
//!
//! Links keep their text only in the text: html2text's default appends a reference list (`[45]:
//! #cmdoption-v`, one line per link), which on a documentation page fills whole chunks with URLs that
//! answer nothing.

use url::Url;

/// Elements that are a page's furniture, not its content.
const NOT_CONTENT: &[&str] = &[
    "nav", "header", "footer", "aside", "script", "style", "noscript", "template", "form",
    "iframe", "svg", "button",
];

/// ARIA roles of the same furniture.
const NOT_CONTENT_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
];

/// Characters of rendered text, at most (html2text's width, wide enough never to wrap a line).
const WIDTH: usize = 100_000;

/// A page's main content as Markdown-shaped text (see [`main_content`]).
pub fn main_text(html: &str) -> anyhow::Result<String> {
    let config = config();
    let dom = config.parse_html(html.as_bytes()).map_err(failed)?;
    render(&config, &dom)
}

/// What a crawler reads in a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// `<title>`, else the first heading; none when the page has neither.
    pub title: Option<String>,
    /// The main content, as [`main_text`] gives it.
    pub text: String,
    /// Where its `<a href>` lead (resolved against `<base href>` or the page's URL; http(s) only,
    /// without fragments, each once, in document order).
    pub links: Vec<Url>,
    /// `<meta name="robots">` (or `googlebot`-style names are not read) says `noindex` / `nofollow`.
    pub noindex: bool,
    pub nofollow: bool,
}

/// Reads a page fetched from `url`.
pub fn read_page(html: &str, url: &Url) -> anyhow::Result<Page> {
    let config = config();
    let dom = config.parse_html(html.as_bytes()).map_err(failed)?;
    let mut hrefs = Vec::new();
    let mut base = None;
    let (mut noindex, mut nofollow) = (false, false);
    walk(&dom.document, &mut |node| {
        let Some(name) = element_name(node) else {
            return;
        };
        match name {
            "a" | "area" => {
                if let Some(href) = attr(node, "href") {
                    hrefs.push(href);
                }
            }
            "base" if base.is_none() => base = attr(node, "href"),
            "meta" if attr(node, "name").is_some_and(|n| n.eq_ignore_ascii_case("robots")) => {
                let content = attr(node, "content")
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                for word in content.split(',').map(str::trim) {
                    noindex |= word == "noindex" || word == "none";
                    nofollow |= word == "nofollow" || word == "none";
                }
            }
            _ => {}
        }
    });
    let base = base
        .and_then(|b| url.join(&b).ok())
        .unwrap_or_else(|| url.clone());
    let mut links: Vec<Url> = Vec::new();
    for href in hrefs {
        let Ok(mut link) = base.join(href.trim()) else {
            continue;
        };
        if !matches!(link.scheme(), "http" | "https") {
            continue;
        }
        link.set_fragment(None);
        if !links.contains(&link) {
            links.push(link);
        }
    }
    let text = render(&config, &dom)?;
    let title = title_of(html).or_else(|| first_heading(&text));
    Ok(Page {
        title,
        text,
        links,
        noindex,
        nofollow,
    })
}

fn config() -> html2text::config::Config<html2text::render::PlainDecorator> {
    html2text::config::plain().link_footnotes(false)
}

fn failed(e: html2text::Error) -> anyhow::Error {
    anyhow::anyhow!("the HTML could not be converted to text: {e}")
}

fn render(
    config: &html2text::config::Config<html2text::render::PlainDecorator>,
    dom: &html2text::RcDom,
) -> anyhow::Result<String> {
    main_content(&dom.document);
    let tree = config.dom_to_render_tree(dom).map_err(failed)?;
    config.render_to_string(tree, WIDTH).map_err(failed)
}

/// `<title>`'s text (html2text's tree does not expose text nodes; the title is read from the source).
fn title_of(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = html_escape::decode_html_entities(html.get(start..end)?);
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    (!title.is_empty()).then_some(title)
}

fn first_heading(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix('#'))
        .map(|h| h.trim_start_matches('#').trim().to_owned())
        .filter(|h| !h.is_empty())
}

fn walk(node: &html2text::Handle, visit: &mut dyn FnMut(&html2text::Handle)) {
    visit(node);
    for child in node.children.borrow().iter() {
        walk(child, visit);
    }
}

fn element_name(node: &html2text::Handle) -> Option<&str> {
    match &node.data {
        html2text::Element { name, .. } => Some(&name.local),
        _ => None,
    }
}

fn attr(node: &html2text::Handle, name: &str) -> Option<String> {
    match &node.data {
        html2text::Element { attrs, .. } => attrs
            .borrow()
            .iter()
            .find(|a| &*a.name.local == name)
            .map(|a| a.value.to_string()),
        _ => None,
    }
}

fn has_role(node: &html2text::Handle, role: &str) -> bool {
    attr(node, "role").is_some_and(|r| r.eq_ignore_ascii_case(role))
}

/// Keeps a page's main content: navigation, headers, footers, sidebars, scripts and forms (by element or
/// ARIA role) are removed, and when the page marks its main content (`<main>`, `role="main"`, or a single
/// `<article>`) only that is kept.
fn main_content(document: &html2text::Handle) {
    fn prune(node: &html2text::Handle) {
        node.children.borrow_mut().retain(|child| {
            !element_name(child).is_some_and(|n| NOT_CONTENT.contains(&n))
                && !NOT_CONTENT_ROLES.iter().any(|r| has_role(child, r))
        });
        for child in node.children.borrow().iter() {
            prune(child);
        }
    }
    fn find(
        node: &html2text::Handle,
        hit: &dyn Fn(&html2text::Handle) -> bool,
        out: &mut Vec<html2text::Handle>,
    ) {
        for child in node.children.borrow().iter() {
            if hit(child) {
                out.push(child.clone());
            } else {
                find(child, hit, out);
            }
        }
    }
    prune(document);
    let mut main = Vec::new();
    find(
        document,
        &|n| element_name(n) == Some("main") || has_role(n, "main"),
        &mut main,
    );
    if main.is_empty() {
        find(document, &|n| element_name(n) == Some("article"), &mut main);
        if main.len() != 1 {
            return;
        }
    }
    // html5ever always builds `html > body`: the main content becomes the body's only child.
    let mut body = Vec::new();
    find(document, &|n| element_name(n) == Some("body"), &mut body);
    let Some(root) = body.into_iter().next() else {
        return;
    };
    *root.children.borrow_mut() = main;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_page_gives_its_title_main_text_and_links_from_everywhere_including_its_navigation() {
        let html = r##"<!doctype html><html><head><title> Returns &amp; refunds </title>
            <base href="/help/"></head><body>
            <nav><a href="shipping">Shipping</a> <a href="mailto:a@b.c">Mail</a></nav>
            <main><h1>Refunds</h1><p>Within <a href="../terms#refunds">30 days</a>.</p>
            <a href="shipping#top">again</a> <a href="javascript:void(0)">js</a>
            <a href="https://other.example/x">elsewhere</a></main></body></html>"##;
        let page = read_page(html, &Url::parse("https://shop.example/a/b").unwrap()).unwrap();
        assert_eq!(page.title.as_deref(), Some("Returns & refunds"));
        assert!(
            page.text.contains("# Refunds") && page.text.contains("Within [30 days]."),
            "{}",
            page.text
        );
        assert!(!page.text.contains("Shipping"), "navigation is not content");
        let links: Vec<&str> = page.links.iter().map(Url::as_str).collect();
        assert_eq!(
            links,
            [
                "https://shop.example/help/shipping",
                "https://shop.example/terms",
                "https://other.example/x"
            ]
        );
        assert!(!page.noindex && !page.nofollow);
    }

    #[test]
    fn the_robots_meta_tag_is_read_and_a_page_without_title_is_named_by_its_heading() {
        let html = r#"<html><head><meta name="ROBOTS" content="noindex, nofollow"></head>
            <body><h2>Only a heading</h2></body></html>"#;
        let page = read_page(html, &Url::parse("http://x.example/").unwrap()).unwrap();
        assert!(page.noindex && page.nofollow);
        assert_eq!(page.title.as_deref(), Some("Only a heading"));
        let none = read_page(
            r#"<meta name="robots" content="none"><p>x</p>"#,
            &Url::parse("http://x.example/").unwrap(),
        )
        .unwrap();
        assert!(none.noindex && none.nofollow && none.title.is_none());
    }
}
