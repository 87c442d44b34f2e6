// Answers as Markdown, safely: the DOM is built from the parser's tokens with text nodes only. No HTML
// from the model or the knowledge base is ever parsed as HTML (raw HTML shows as the text it is), and
// links are kept only for http, https and mailto, opened with rel="noopener noreferrer".

import { Lexer, type Token, type Tokens } from "marked";

/// `href` when it is a link we let a visitor follow, else null.
export function safeHref(href: string | undefined | null): string | null {
  if (!href) return null;
  try {
    const url = new URL(href, location.href);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

export function link(href: string, label: string): HTMLAnchorElement {
  const a = document.createElement("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.textContent = label;
  return a;
}

function el(tag: string, children?: Token[]): HTMLElement {
  const e = document.createElement(tag);
  if (children) e.append(...inline(children));
  return e;
}

/// An element holding `content` as text.
function textEl(tag: string, content: string): HTMLElement {
  const e = document.createElement(tag);
  e.textContent = content;
  return e;
}

/// Block tokens to nodes.
function blocks(tokens: Token[]): Node[] {
  const out: Node[] = [];
  for (const t of tokens) {
    switch (t.type) {
      case "space":
      case "def":
        break;
      case "paragraph":
        out.push(el("p", t.tokens));
        break;
      case "heading": {
        // Headings inside a chat bubble read best as bold lines, and keep the page's outline intact.
        const p = el("p");
        p.append(el("strong", t.tokens));
        out.push(p);
        break;
      }
      case "code": {
        const pre = el("pre");
        pre.append(textEl("code", (t as Tokens.Code).text));
        out.push(pre);
        break;
      }
      case "blockquote": {
        const e = el("blockquote");
        e.append(...blocks((t as Tokens.Blockquote).tokens));
        out.push(e);
        break;
      }
      case "hr":
        out.push(el("hr"));
        break;
      case "list": {
        const list = t as Tokens.List;
        const e = el(list.ordered ? "ol" : "ul") as HTMLOListElement;
        if (list.ordered && typeof list.start === "number" && list.start !== 1) e.start = list.start;
        for (const item of list.items) {
          const li = el("li");
          li.append(...blocks(item.tokens));
          e.append(li);
        }
        out.push(e);
        break;
      }
      case "table": {
        const table = t as Tokens.Table;
        const e = el("table");
        const row = (cells: Tokens.TableCell[], tag: string) => {
          const tr = el("tr");
          for (const c of cells) tr.append(el(tag, c.tokens));
          return tr;
        };
        e.append(row(table.header, "th"), ...table.rows.map((r) => row(r, "td")));
        out.push(e);
        break;
      }
      case "text":
        // A tight list item's text: inline content.
        out.push(...(t.tokens ? inline(t.tokens) : [document.createTextNode(t.text)]));
        break;
      default:
        // html and anything unknown: shown as the text it is.
        out.push(textEl("p", t.raw));
    }
  }
  return out;
}

/// Inline tokens to nodes.
function inline(tokens: Token[]): Node[] {
  const out: Node[] = [];
  for (const t of tokens) {
    switch (t.type) {
      case "strong":
      case "em":
      case "del":
        out.push(el(t.type === "del" ? "s" : t.type, t.tokens));
        break;
      case "codespan":
        out.push(textEl("code", (t as Tokens.Codespan).text));
        break;
      case "br":
        out.push(el("br"));
        break;
      case "link":
      case "image": {
        // Images are not loaded (no tracking pixels, no layout shifts): their text becomes a link.
        const l = t as Tokens.Link | Tokens.Image;
        const href = safeHref(l.href);
        const label = l.text || l.href;
        out.push(href ? link(href, label) : document.createTextNode(label));
        break;
      }
      case "text":
        out.push(...(t.tokens ? inline(t.tokens) : [document.createTextNode(decode(t.text))]));
        break;
      default:
        // escape (its text), html (shown as written), anything unknown.
        out.push(document.createTextNode(t.type === "escape" ? t.text : t.raw));
    }
  }
  return out;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", nbsp: "\u00a0" };

/// The few character references Markdown text commonly carries, as characters (as text, never HTML).
function decode(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, name: string) => ENTITIES[name]);
}

/// A fragment for `markdown`, built from the parser's tokens.
export function render(markdown: string): DocumentFragment {
  const f = document.createDocumentFragment();
  f.append(...blocks(Lexer.lex(markdown, { gfm: true, breaks: true })));
  return f;
}
