// What the browser tests stand on: the devserver (offline embedder and LLM) on a database of its own,
// the member API as a tenant's team uses it, a site of our own on a second port (two origins: localhost
// and 127.0.0.1), and Debian's Chromium driven by playwright-core.
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, "../..");
export const SCREENSHOTS = resolve(ROOT, process.env.SCREENSHOTS_DIR || "target/widget-screenshots");

export async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/// The devserver on fresh ports and a fresh database; resolves once it printed the demo's key and login.
export async function startDevserver() {
  const port = await freePort();
  const demoPort = await freePort();
  const base = new URL(process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres");
  base.pathname = `/studio_browser_${process.pid}_${Date.now()}`;
  const env = { ...process.env, PORT: String(port), DEMO_PORT: String(demoPort), DATABASE_URL: base.href };
  // The embedded defaults: no AWS endpoint, queues, OpenAI or Upstash.
  for (const name of Object.keys(env)) {
    if (/^(AWS_|SQS_|OPENAI_|UPSTASH_|QDRANT_|APP_SECRETS)/.test(name)) delete env[name];
  }
  env.RUST_LOG ||= "warn";
  const bin = process.env.DEVSERVER_BIN || resolve(ROOT, "target/debug/devserver");
  const child = spawn(bin, [], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const printed = new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`devserver did not print the demo in 60 s:\n${out}`)), 60_000);
    const read = (chunk) => {
      out += chunk;
      const demo = out.match(/Widget demo: (\S+)/);
      const owner = out.match(/Demo workspace owner: (\S+) \/ (\S+)/);
      if (demo && owner) {
        clearTimeout(timer);
        resolveReady({ demoUrl: demo[1], email: owner[1], password: owner[2] });
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", (c) => {
      out += c;
      if (process.env.DEVSERVER_LOG) process.stderr.write(c);
    });
    child.on("exit", (code) => reject(new Error(`devserver exited (${code}):\n${out}`)));
  });
  const ready = await printed;
  const api = `http://127.0.0.1:${port}`;
  return {
    ...ready,
    api,
    port,
    demoPort,
    databaseUrl: base.href,
    key: new URL(ready.demoUrl).searchParams.get("key"),
    async stop() {
      child.kill("SIGINT");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      const admin = new URL(base.href);
      admin.pathname = "/postgres";
      try {
        psql(admin.href, `DROP DATABASE IF EXISTS "${base.pathname.slice(1)}" WITH (FORCE)`);
      } catch {}
    },
  };
}

export function psql(url, sql) {
  return execFileSync("psql", [url, "-qAtc", sql], { encoding: "utf8" }).trim();
}

/// The member API, as the demo workspace's owner.
export async function member(server) {
  const call = async (method, path, body, token) => {
    const res = await fetch(server.api + path, {
      method,
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const login = await call("POST", "/api/v1/auth/login", { email: server.email, password: server.password });
  const token = login.accessToken;
  const workspaces = await call("GET", "/api/v1/workspaces", undefined, token);
  const list = workspaces.items ?? workspaces.workspaces ?? workspaces;
  const workspaceId = list.find((w) => w.name === "Demo workspace")?.id ?? list[0].id;
  const m = {
    workspaceId,
    call: (method, path, body) => call(method, path, body, token),
    /// Ingests documents and waits until each is indexed.
    async ingest(documents) {
      const res = await m.call("POST", "/api/v1/agents/ingest", { documents, allowDuplicates: true });
      for (const id of res.documentIds) {
        for (let i = 0; ; i++) {
          const doc = await m.call("GET", `/api/v1/agents/documents/${id}`);
          if (doc.status === "ready") break;
          if (doc.status === "failed" || i > 100) throw new Error(`document ${id}: ${JSON.stringify(doc)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      return res.documentIds;
    },
  };
  return m;
}

/// A tenant's site on its own port: `/page?key=…&twice=1` loads the widget (twice when asked) from the
/// API. Reached as http://localhost:<port> and http://127.0.0.1:<port>, it is two origins.
export async function startSite(api) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://site");
    const key = (url.searchParams.get("key") || "").replace(/[^A-Za-z0-9_-]/g, "");
    const tag = `<script src="${api}/widget/v1/widget.js" data-key="${key}" async></script>`;
    const scripts = url.pathname === "/blank" ? "" : url.searchParams.get("twice") ? tag + tag : tag;
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme Outdoor</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:Georgia,serif;margin:40px;color:#333}button,div{all:unset}</style></head>
<body><h1>Acme Outdoor</h1><p>Tents, boots and good advice.</p><a href="/blank">A link before the chat</a>
${scripts}</body></html>`);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return { port, close: () => new Promise((r) => server.close(r)) };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/// The widget's shadow root, queried from the page.
export function part(page, name) {
  return page.locator(`studio-chat >> [part~="${name}"]`);
}

export function screenshotPath(name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return resolve(SCREENSHOTS, name);
}
