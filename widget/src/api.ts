// The public API of /api/v1/public/*, as the widget uses it: a visitor session kept in localStorage
// (shared by the site's tabs), renewed before it expires, and the streamed turn read from `streamUrl`.

export type Status = "bot" | "waiting_for_human" | "human" | "resolved";

export interface Agent {
  name: string;
  greeting: string;
  brandColor: string | null;
  requireIdentity: boolean;
}

interface Session {
  sessionToken: string;
  visitorId: string;
  visitorToken: string | null;
  expiresAt: string;
  streamUrl: string;
  agent: Agent;
}

export interface Source {
  documentId: string;
  title: string;
  url?: string;
  /// The headings the passage sits under, when the document has them.
  section?: string;
}

export interface Message {
  id: string;
  role: "user" | "assistant" | "human";
  content: string;
  sources?: Source[];
  rating?: string | null;
}

export interface Conversation {
  id: string;
  status: Status;
  offerEmail: boolean;
  messages?: Message[];
}

/// What a turn ends with.
export interface Reply {
  reply: string | null;
  messageId: string;
  conversationId: string;
  sources: Source[];
  status: Status;
}

/// An answer that was not a success: the API's `{error: {code, message, details}}`, or `offline` when
/// the request never got an answer.
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 0,
    readonly retryAfter = 0,
    readonly details: Record<string, unknown> | null = null,
  ) {
    super(message);
  }
}

/// What is kept in localStorage, per publishable key.
interface Stored {
  visitorToken?: string;
  conversationId?: string;
  session?: Session;
}

/// A session this close to its end is renewed before use.
const RENEW_MS = 120_000;

export class Client {
  #storeKey: string;
  #opening: Promise<Session> | null = null;
  #identityToken: string | null = null;

  #base: string;
  #key: string;
  #onStored: () => void;

  constructor(base: string, key: string, onStored: () => void) {
    this.#base = base;
    this.#key = key;
    this.#onStored = onStored;
    this.#storeKey = "studio-chat:" + key.slice(0, 32);
    addEventListener("storage", (e) => {
      if (e.key === this.#storeKey) this.#onStored();
    });
  }

  stored(): Stored {
    try {
      return JSON.parse(localStorage.getItem(this.#storeKey) || "{}") as Stored;
    } catch {
      return {};
    }
  }

  #store(change: Partial<Stored>) {
    const next = { ...this.stored(), ...change };
    try {
      localStorage.setItem(this.#storeKey, JSON.stringify(next));
    } catch {
      // Storage full or blocked: the chat still works for this page.
    }
  }

  get conversationId(): string | undefined {
    return this.stored().conversationId;
  }

  set conversationId(id: string | undefined) {
    this.#store({ conversationId: id });
  }

  /// The current session, opened or renewed when needed (one request at a time for all callers).
  session(fresh = false): Promise<Session> {
    const s = this.stored().session;
    if (!fresh && s && Date.parse(s.expiresAt) - Date.now() > RENEW_MS) return Promise.resolve(s);
    this.#opening ??= this.#open().finally(() => (this.#opening = null));
    return this.#opening;
  }

  /// Switches to a verified identity: the anonymous visitor's conversations move to it.
  async identify(identityToken: string): Promise<Agent> {
    this.#identityToken = identityToken;
    return (await this.session(true)).agent;
  }

  async #open(): Promise<Session> {
    const held = this.stored();
    const body: Record<string, string> = {};
    if (held.visitorToken) body.visitorToken = held.visitorToken;
    if (this.#identityToken) body.identityToken = this.#identityToken;
    const url = this.#base + "/api/v1/public/sessions";
    let s: Session;
    let conversationId = held.conversationId;
    try {
      s = await request<Session>(url, "POST", this.#key, body);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401 || !body.visitorToken || this.#identityToken) throw e;
      // The stored visitor may be gone (erased): without it, a new visitor. Should that fail too, the key
      // is the problem, and the visitor's storage stays for when it works again.
      s = await request<Session>(url, "POST", this.#key, {});
      conversationId = undefined;
    }
    this.#store({ session: s, visitorToken: s.visitorToken ?? undefined, conversationId });
    return s;
  }

  /// A call with the session; an expired or revoked session is renewed and the call made again, once.
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const s = await this.session();
    try {
      return await request<T>(this.#base + path, method, s.sessionToken, body);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
      const renewed = await this.session(true);
      return request<T>(this.#base + path, method, renewed.sessionToken, body);
    }
  }

  conversation(id: string, after?: string): Promise<Conversation> {
    const q = after ? "?after=" + encodeURIComponent(after) : "";
    return this.call("GET", `/api/v1/public/conversations/${encodeURIComponent(id)}${q}`);
  }

  /// A turn, streamed: `onText` receives the answer so far.
  async send(message: string, onText: (text: string, sources: Source[]) => void): Promise<Reply> {
    let s = await this.session();
    const body = { message, convId: this.conversationId };
    let res = await post(s.streamUrl, s.sessionToken, body);
    if (res.status === 401) {
      s = await this.session(true);
      res = await post(s.streamUrl, s.sessionToken, body);
    }
    if (!res.ok) throw await failure(res);
    let text = "";
    let sources: Source[] = [];
    let status: Status = "bot";
    let done: { convId: string; messageId: string } | null = null;
    for await (const [name, data] of events(res)) {
      if (name === "sources") sources = data as Source[];
      else if (name === "delta") onText((text += (data as { text: string }).text), sources);
      else if (name === "status") status = (data as { status: Status }).status;
      else if (name === "done") done = data as { convId: string; messageId: string };
      else if (name === "error") {
        const e = data as { code: string; message: string };
        throw new ApiError(e.code, e.message, 503);
      }
    }
    if (!done) throw new ApiError("offline", "The answer was cut off.");
    this.conversationId = done.convId;
    return {
      reply: status === "bot" ? text : null,
      messageId: done.messageId,
      conversationId: done.convId,
      sources,
      status,
    };
  }
}

function headers(token: string, body: unknown): HeadersInit {
  const h: Record<string, string> = { Authorization: "Bearer " + token };
  if (body !== undefined) h["Content-Type"] = "application/json";
  return h;
}

function post(url: string, token: string, body: unknown): Promise<Response> {
  return fetch(url, { method: "POST", headers: headers(token, body), body: JSON.stringify(body) }).catch(
    () => {
      throw unreachable();
    },
  );
}

async function request<T>(url: string, method: string, token: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: headers(token, body),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw unreachable();
  }
  if (!res.ok) throw await failure(res);
  return (res.status === 204 ? null : await res.json()) as T;
}

/// A request that got no answer it may read: offline, or — while online — refused by CORS (an unknown or
/// revoked key, a page its key does not list) or a server out of reach.
function unreachable(): ApiError {
  return navigator.onLine
    ? new ApiError("unreachable", "The chat's server did not answer this page.")
    : new ApiError("offline", "No connection.");
}

async function failure(res: Response): Promise<ApiError> {
  const retry = Number(res.headers.get("retry-after")) || 0;
  try {
    const { error } = (await res.json()) as {
      error: { code: string; message: string; details: Record<string, unknown> | null };
    };
    return new ApiError(error.code, error.message, res.status, retry, error.details);
  } catch {
    // No JSON body: a CORS refusal or a proxy's page.
    return new ApiError(res.status === 403 ? "origin_not_allowed" : "internal", res.statusText, res.status, retry);
  }
}

/// The server-sent events of a response, as [name, parsed data].
async function* events(res: Response): AsyncGenerator<[string, unknown]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    let chunk: ReadableStreamReadResult<string>;
    try {
      chunk = await reader.read();
    } catch {
      throw new ApiError("offline", "The connection dropped.");
    }
    if (chunk.done) return;
    buffer += chunk.value.replace(/\r\n?/g, "\n");
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trimStart();
      }
      if (data) yield [name, JSON.parse(data)];
    }
  }
}
