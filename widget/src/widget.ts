// <studio-chat>: the launcher and the chat panel, in an open shadow root, and window.StudioChat for the
// tenant's page. Loaded by the loader (/widget/v1/widget.js), which copies its data- attributes here.

import { type Agent, ApiError, Client, type Message, type Reply, type Source, type Status } from "./api";
import { link, render, safeHref } from "./markdown";
import { CSS } from "./style";
import { strings, type Strings } from "./strings";

type EventName = "ready" | "message" | "status" | "error";
type Listener = (detail: unknown) => void;

/// Polling for replies from the team: often while a person is asked for or has the conversation, rarely
/// otherwise (a member may take it over), never while the page is hidden; errors back off.
const POLL_ACTIVE_MS = 3000;
const POLL_IDLE_MS = 30000;
const POLL_MAX_MS = 60000;

const ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 2-2z"/></svg>';

/// A thumb (ours), up; the 👎 is the same turned over. Emoji would depend on the visitor's fonts.
const THUMB = (turn: number) =>
  `<svg viewBox="0 0 24 24" aria-hidden="true"><path transform="rotate(${turn} 12 12)" d="M2 10h4v11H2zM8 10l4-7a2 2 0 0 1 3 2l-1 4h6a2 2 0 0 1 2 2.3l-1.4 7.7a2 2 0 0 1-2 2H8z"/></svg>`;

/// Markup of our own (no model or visitor text in it): the skeleton the controller fills with text nodes.
const SKELETON = `<button part="launcher" class="launcher" aria-expanded="false" aria-controls="panel">${ICON}</button>
<section part="panel" class="panel" id="panel" role="dialog" aria-labelledby="title" hidden>
<header><h2 id="title"></h2><button class="close" type="button">×</button></header>
<div part="status" class="status" role="status" aria-live="polite"></div>
<div class="log" role="log" aria-live="polite" aria-relevant="additions" tabindex="0"></div>
<div class="notice" role="alert" hidden><span></span><button type="button" hidden></button></div>
<form class="row email" hidden><label class="sr" for="email"></label><input id="email" type="email" required autocomplete="email"><button type="submit"></button></form>
<div class="rating" hidden><span></span><div></div></div>
<form class="composer"><label class="sr" for="input"></label><textarea part="input" id="input" rows="1" maxlength="4000"></textarea><button part="send" class="send" type="submit"></button></form>
<div class="foot"><button part="handoff" class="handoff" type="button" hidden></button></div>
</section>`;

function brandText(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  const lum = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
  return lum > 160 ? "#111827" : "#fff";
}

class Chat {
  #root: ShadowRoot;
  #t: Strings;
  #client: Client;
  #listeners = new Map<EventName, Set<Listener>>();
  #agent: Agent | null = null;
  #failure: ApiError | null = null;
  #status: Status = "bot";
  #lastId: string | undefined;
  #shown = new Set<string>();
  #loaded: string | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #busy = false;
  #pollTimer = 0;
  #pollDelay = POLL_ACTIVE_MS;
  #retry: (() => void) | null = null;
  ready: Promise<void>;

  #host: HTMLElement;

  constructor(
    host: HTMLElement,
    base: string,
    key: string,
    locale: string | undefined,
  ) {
    this.#host = host;
    this.#t = strings(locale);
    this.#root = host.attachShadow({ mode: "open" });
    // A constructed style sheet is outside the page's CSP style-src (a <style> element would need
    // 'unsafe-inline' there); older browsers get the element.
    this.#root.innerHTML = SKELETON;
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      this.#root.adoptedStyleSheets = [sheet];
    } catch {
      const style = document.createElement("style");
      style.textContent = CSS;
      this.#root.prepend(style);
    }
    this.#client = new Client(base, key, () => this.#otherTab());
    const t = this.#t;
    this.#q("#title").textContent = t.chat;
    this.#launcher.setAttribute("aria-label", t.open);
    this.#q(".close").setAttribute("aria-label", t.close);
    this.#q(".log").setAttribute("aria-label", t.chat);
    this.#q("label[for=input]").textContent = t.message;
    this.#input.placeholder = t.placeholder;
    this.#q(".send").textContent = t.send;
    this.#q(".handoff").textContent = t.handoff;
    this.#q("label[for=email]").textContent = t.email;
    this.#q(".email input").setAttribute("placeholder", t.email);
    this.#q(".email button").textContent = t.save;
    this.#wire();
    this.ready = this.#start();
  }

  #q<T extends HTMLElement = HTMLElement>(selector: string): T {
    return this.#root.querySelector(selector) as T;
  }
  get #launcher() {
    return this.#q<HTMLButtonElement>(".launcher");
  }
  get #panel() {
    return this.#q(".panel");
  }
  get #input() {
    return this.#q<HTMLTextAreaElement>("textarea");
  }
  get #log() {
    return this.#q(".log");
  }

  #wire() {
    this.#launcher.onclick = () => (this.#panel.hidden ? this.open() : this.close());
    this.#q(".close").onclick = () => this.close();
    this.#panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.close();
    });
    this.#input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.#submit();
      }
    });
    this.#input.addEventListener("input", () => {
      this.#input.style.height = "auto";
      this.#input.style.height = this.#input.scrollHeight + "px";
    });
    this.#q(".composer").onsubmit = (e) => {
      e.preventDefault();
      this.#submit();
    };
    this.#q(".handoff").onclick = () => this.#handoff();
    this.#q<HTMLFormElement>(".email").onsubmit = (e) => {
      e.preventDefault();
      this.#handoff(this.#q<HTMLInputElement>(".email input").value.trim());
    };
    this.#q(".notice button").onclick = () => {
      const again = this.#retry;
      this.#notice(null);
      again?.();
    };
    document.addEventListener("visibilitychange", () => this.#schedule(0));
  }

  on(name: EventName, fn: Listener) {
    if (!this.#listeners.has(name)) this.#listeners.set(name, new Set());
    this.#listeners.get(name)!.add(fn);
  }
  off(name: EventName, fn: Listener) {
    this.#listeners.get(name)?.delete(fn);
  }
  #emit(name: EventName, detail: unknown) {
    for (const fn of this.#listeners.get(name) ?? []) {
      try {
        fn(detail);
      } catch (e) {
        console.error("StudioChat listener failed:", e);
      }
    }
  }

  /// Opens the session: the agent's name, greeting and colour, or the reason the chat cannot work here.
  async #start() {
    try {
      this.#apply((await this.#client.session()).agent);
    } catch (e) {
      this.#fail(e);
    }
  }

  #apply(agent: Agent) {
    this.#agent = agent;
    this.#failure = null;
    this.#notice(null);
    this.#q("#title").textContent = agent.name;
    this.#launcher.setAttribute("aria-label", `${this.#t.open}: ${agent.name}`);
    if (agent.brandColor && /^#[0-9a-f]{6}$/i.test(agent.brandColor)) {
      this.#host.style.setProperty("--studio-brand", agent.brandColor);
      this.#host.style.setProperty("--on-brand", brandText(agent.brandColor));
    }
    this.#emit("ready", { agent: agent.name });
  }

  async identify(identityToken: string) {
    try {
      this.#apply(await this.#client.identify(identityToken));
      this.#loaded = undefined;
      if (!this.#panel.hidden) await this.#load();
    } catch (e) {
      this.#fail(e);
      throw e;
    }
  }

  open() {
    if (!this.#panel.hidden) return;
    this.#panel.hidden = false;
    this.#launcher.setAttribute("aria-expanded", "true");
    this.#launcher.setAttribute("aria-label", this.#t.close);
    this.#input.focus();
    if (this.#failure) this.#notice(this.#failure);
    void this.#load();
  }

  close() {
    if (this.#panel.hidden) return;
    this.#panel.hidden = true;
    this.#launcher.setAttribute("aria-expanded", "false");
    this.#launcher.setAttribute("aria-label", this.#agent ? `${this.#t.open}: ${this.#agent.name}` : this.#t.open);
    this.#launcher.focus();
    clearTimeout(this.#pollTimer);
  }

  /// Shows the stored conversation (or the greeting), once per conversation.
  async #load() {
    await this.ready;
    if (!this.#agent) return;
    const id = this.#client.conversationId;
    if (this.#loaded === (id ?? "") && this.#log.childElementCount) return this.#schedule(0);
    this.#loaded = id ?? "";
    this.#log.replaceChildren();
    this.#shown.clear();
    this.#lastId = undefined;
    this.#setStatus("bot");
    if (this.#agent.greeting) this.#bubble("assistant", this.#agent.greeting);
    if (!id) return;
    try {
      const c = await this.#client.conversation(id);
      this.#take(c.messages ?? []);
      this.#setStatus(c.status, c.offerEmail);
      this.#schedule(POLL_ACTIVE_MS);
    } catch (e) {
      // Not this visitor's any more (erased, identified elsewhere): start a new conversation.
      if (e instanceof ApiError && e.status === 404) this.#client.conversationId = undefined;
      else this.#fail(e);
    }
  }

  /// Another tab changed the conversation: follow it.
  #otherTab() {
    if (!this.#panel.hidden && this.#loaded !== (this.#client.conversationId ?? "")) void this.#load();
  }

  /// Adds messages not shown yet.
  #take(messages: Message[]) {
    for (const m of messages) {
      this.#lastId = m.id;
      if (this.#shown.has(m.id)) continue;
      this.#shown.add(m.id);
      this.#bubble(m.role, m.content, m.id, m.sources, m.rating);
      this.#emit("message", { id: m.id, role: m.role, content: m.content });
    }
  }

  #bubble(
    role: Message["role"],
    content: string,
    id?: string,
    sources?: Source[],
    rating?: string | null,
  ): HTMLElement {
    const div = document.createElement("div");
    div.className = "msg " + role;
    div.setAttribute("part", "message message-" + role);
    if (role !== "assistant") {
      const who = document.createElement("span");
      who.className = role === "user" ? "sr" : "who";
      who.textContent = role === "user" ? this.#t.you : this.#t.person;
      div.append(who);
    }
    const body = document.createElement("div");
    if (role === "user") body.textContent = content;
    else body.append(render(content));
    div.append(body);
    if (role === "assistant" && id) this.#finish(div, id, sources ?? [], rating ?? null);
    this.#log.append(div);
    this.#log.scrollTop = this.#log.scrollHeight;
    return div;
  }

  /// An answer's sources and its 👍/👎.
  #finish(div: HTMLElement, id: string, sources: Source[], rating: string | null) {
    if (sources.length) {
      const p = document.createElement("div");
      p.className = "sources";
      p.setAttribute("part", "sources");
      p.append(this.#t.sources + ": ");
      for (const s of sources) {
        const href = safeHref(s.url);
        const label = s.section ? `${s.title} (${s.section})` : s.title;
        const item = href ? link(href, label) : document.createElement("span");
        if (!href) item.textContent = label;
        p.append(item);
      }
      div.append(p);
    }
    const actions = document.createElement("div");
    actions.className = "actions";
    for (const [value, label, turn] of [
      ["up", this.#t.helpful, 0],
      ["down", this.#t.notHelpful, 180],
    ] as const) {
      const b = document.createElement("button");
      b.type = "button";
      b.innerHTML = THUMB(turn);
      b.setAttribute("aria-label", label);
      b.setAttribute("aria-pressed", String(rating === value));
      b.onclick = async () => {
        try {
          await this.#client.call("POST", `/api/v1/public/messages/${id}/feedback`, { rating: value });
          for (const other of actions.children) other.setAttribute("aria-pressed", String(other === b));
        } catch (e) {
          this.#fail(e);
        }
      };
      actions.append(b);
    }
    div.append(actions);
  }

  #setStatus(status: Status, offerEmail = false) {
    const changed = status !== this.#status;
    this.#status = status;
    const t = this.#t;
    this.#q(".status").textContent =
      status === "waiting_for_human" ? t.waiting : status === "human" ? t.human : status === "resolved" ? t.resolved : "";
    this.#q(".handoff").hidden = status !== "bot" || !this.#client.conversationId;
    this.#q(".email").hidden = !offerEmail;
    if (offerEmail) this.#q(".email").setAttribute("aria-label", t.leaveEmail);
    this.#showRating(status === "resolved");
    if (changed) this.#emit("status", { status });
  }

  #showRating(show: boolean) {
    const box = this.#q(".rating");
    box.hidden = !show;
    if (!show) return;
    box.firstElementChild!.textContent = this.#t.rate;
    const row = box.lastElementChild!;
    row.replaceChildren();
    for (let score = 1; score <= 5; score++) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "★".repeat(score);
      b.setAttribute("aria-label", `${score} / 5`);
      b.onclick = async () => {
        try {
          await this.#client.call("POST", `/api/v1/public/conversations/${this.#client.conversationId}/rating`, {
            score,
          });
          row.textContent = this.#t.thanks;
        } catch (e) {
          this.#fail(e);
        }
      };
      row.append(b);
    }
  }

  #submit() {
    const text = this.#input.value.trim();
    if (!text || this.#busy) return;
    this.#input.value = "";
    this.#input.style.height = "auto";
    this.send(text).catch(() => {
      // Shown in the panel already; the promise is for the page's own `send`.
    });
  }

  /// A turn: the visitor's message, then the answer streamed in (or the message kept for a person).
  send(text: string): Promise<Reply> {
    const run = this.#chain.then(() => this.#turn(text));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #turn(text: string): Promise<Reply> {
    await this.ready;
    if (!this.#agent) throw this.#failure ?? new ApiError("internal", this.#t.failed);
    this.#busy = true;
    this.#q<HTMLButtonElement>(".send").disabled = true;
    this.#notice(null);
    clearTimeout(this.#pollTimer);
    const mine = this.#bubble("user", text);
    this.#emit("message", { role: "user", content: text });
    const answer = this.#bubble("assistant", "");
    const body = answer.lastElementChild!;
    body.classList.add("typing");
    body.setAttribute("aria-label", this.#t.typing);
    answer.setAttribute("aria-busy", "true");
    let frame = 0;
    try {
      const reply = await this.#client.send(text, (sofar) => {
        cancelAnimationFrame(frame);
        frame = requestAnimationFrame(() => {
          body.classList.remove("typing");
          body.removeAttribute("aria-label");
          body.replaceChildren(render(sofar));
          this.#log.scrollTop = this.#log.scrollHeight;
        });
      });
      cancelAnimationFrame(frame);
      this.#loaded = reply.conversationId;
      this.#lastId = reply.messageId;
      this.#shown.add(reply.messageId);
      answer.removeAttribute("aria-busy");
      if (reply.reply === null) answer.remove();
      else {
        body.classList.remove("typing");
        body.removeAttribute("aria-label");
        body.replaceChildren(render(reply.reply));
        this.#finish(answer, reply.messageId, reply.sources, null);
        requestAnimationFrame(() => (this.#log.scrollTop = this.#log.scrollHeight));
        this.#emit("message", { id: reply.messageId, role: "assistant", content: reply.reply });
      }
      this.#setStatus(reply.status);
      return reply;
    } catch (e) {
      cancelAnimationFrame(frame);
      mine.remove();
      answer.remove();
      if (!this.#input.value) this.#input.value = text;
      this.#fail(e, () => {
        const again = this.#input.value.trim() || text;
        this.#input.value = "";
        this.send(again).catch(() => undefined);
      });
      throw e;
    } finally {
      this.#busy = false;
      this.#q<HTMLButtonElement>(".send").disabled = false;
      this.#schedule(POLL_ACTIVE_MS);
    }
  }

  /// Asks for a person (with an email to be answered at, when given).
  async #handoff(email?: string) {
    const id = this.#client.conversationId;
    if (!id) return;
    try {
      const c = await this.#client.call<{ status: Status; offerEmail: boolean }>(
        "POST",
        `/api/v1/public/conversations/${id}/handoff`,
        email ? { email } : {},
      );
      this.#setStatus(c.status, c.offerEmail);
      if (email) this.#q(".status").textContent = this.#t.emailSaved;
      this.#schedule(POLL_ACTIVE_MS);
    } catch (e) {
      this.#fail(e);
    }
  }

  /// The next poll for the team's replies, in `ms` (0: now, if the panel is open and the page visible).
  #schedule(ms: number) {
    clearTimeout(this.#pollTimer);
    if (this.#panel.hidden || document.hidden || !this.#client.conversationId || this.#busy) return;
    this.#pollTimer = window.setTimeout(() => void this.#poll(), ms);
  }

  async #poll() {
    const id = this.#client.conversationId;
    if (!id || this.#busy) return;
    try {
      const c = await this.#client.conversation(id, this.#lastId);
      if (this.#busy) return;
      this.#take(c.messages ?? []);
      this.#setStatus(c.status, c.offerEmail);
      this.#pollDelay = c.status === "waiting_for_human" || c.status === "human" ? POLL_ACTIVE_MS : POLL_IDLE_MS;
    } catch (e) {
      const retry = e instanceof ApiError ? e.retryAfter * 1000 : 0;
      this.#pollDelay = Math.min(Math.max(this.#pollDelay * 2, retry), POLL_MAX_MS);
    }
    this.#schedule(this.#pollDelay);
  }

  /// Shows an error as the visitor should read it, and tells the page.
  #fail(e: unknown, retry?: () => void) {
    const err = e instanceof ApiError ? e : new ApiError("internal", String(e));
    if (!this.#agent) this.#failure = err;
    const offerEmail = err.status === 429 && err.details?.offerEmail === true && !!this.#client.conversationId;
    if (offerEmail) this.#q(".email").hidden = false;
    const again =
      err.code === "offline" || err.code === "unreachable" || err.status >= 500 || (err.status === 429 && !offerEmail);
    this.#notice(err, again ? retry : undefined);
    this.#emit("error", { code: err.code, message: err.message });
  }

  #notice(err: ApiError | null, retry?: () => void) {
    const box = this.#q(".notice");
    this.#retry = retry ?? null;
    box.hidden = !err;
    if (!err) return;
    const t = this.#t;
    const text: Record<string, string> = {
      offline: t.offline,
      unreachable: t.unreachable,
      origin_not_allowed: t.origin,
      rate_limited: t.budget,
      quota_exceeded: t.quota,
      agent_disabled: t.quota,
      workspace_suspended: t.quota,
      identity_required: t.identity,
    };
    box.firstElementChild!.textContent =
      (text[err.code] ?? t.failed) + (err.code === "rate_limited" && !this.#q(".email").hidden ? " " + t.leaveEmail : "");
    const b = box.lastElementChild as HTMLButtonElement;
    b.hidden = !retry;
    b.textContent = t.retry;
  }
}

/// The page's handle: window.StudioChat.
interface Api {
  open(): void;
  close(): void;
  send(text: string): Promise<Reply>;
  identify(options: { identityToken: string }): Promise<void>;
  on(event: EventName, fn: Listener): void;
  off(event: EventName, fn: Listener): void;
}

type Queued = [keyof Api, unknown[], ((v: unknown) => void)?, ((e: unknown) => void)?];

function boot() {
  if (customElements.get("studio-chat")) return;
  const script = document.currentScript as HTMLScriptElement | null;
  const data = script?.dataset ?? {};
  const src = data.loader || script?.src || "";
  const base = (data.api || src.slice(0, src.indexOf("/widget/v1/"))).replace(/\/$/, "");
  if (!data.key || !base) {
    console.error(
      'StudioChat: add the publishable key to the script tag: <script src="https://<api>/widget/v1/widget.js" data-key="pk_ws_…" async></script>',
    );
    return;
  }
  const { key, locale, position, open } = data;
  let chat: Chat | null = null;
  customElements.define(
    "studio-chat",
    class extends HTMLElement {
      connectedCallback() {
        chat ??= new Chat(this, base, key, locale);
      }
    },
  );
  const el = document.createElement("studio-chat");
  if (position === "left") el.dataset.position = "left";
  const queued = ((window as unknown as { StudioChat?: { q?: Queued[] } }).StudioChat?.q ?? []) as Queued[];
  const mount = () => {
    document.body.append(el);
    const c = chat!;
    const api: Api = {
      open: () => c.open(),
      close: () => c.close(),
      send: (text) => c.send(String(text)),
      identify: (o) => c.identify(o.identityToken),
      on: (name, fn) => c.on(name, fn),
      off: (name, fn) => c.off(name, fn),
    };
    (window as unknown as { StudioChat: Api }).StudioChat = api;
    for (const [method, args, resolve, reject] of queued) {
      Promise.resolve((api[method] as (...a: unknown[]) => unknown)(...args)).then(resolve, reject);
    }
    if (open === "true") c.open();
  };
  if (document.body) mount();
  else addEventListener("DOMContentLoaded", mount);
}

boot();
