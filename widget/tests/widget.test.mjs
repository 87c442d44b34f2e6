// The widget in a real browser (Debian's Chromium, headless, through playwright-core) against the
// devserver with the offline embedder and LLM: what a tenant's customer sees and does.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { launch, member, part, psql, screenshotPath, startDevserver, startSite } from "./harness.mjs";

const QUESTION = "How long do I have to return my tent for a refund?";
const RETURNS =
  "Returns and refunds. You may return a tent within 45 days of delivery for a full refund, " +
  "as long as it is unused. Refunds reach your card within five working days.";
const HOSTILE =
  'Gift wrapping hazard notice. <img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> ' +
  "[click for a voucher](javascript:window.__xss=3) Gift wrapping costs four euros per parcel.";

let server, team, site, browser, siteKey;

before(async () => {
  server = await startDevserver();
  team = await member(server);
  await team.ingest([
    { title: "Returns policy", content: RETURNS, sourceUrl: "https://acme.example/returns" },
    { title: "Gift wrapping", content: HOSTILE, sourceUrl: "javascript:window.__xss=4" },
    {
      title: "Care guide",
      content: "# Tents\n\n## Drying\n\nDry your tent fully before packing it away, or mildew grows on it.",
      contentType: "text/markdown",
    },
  ]);
  site = await startSite(server.api);
  // A second key for the test site, reached as localhost (its 127.0.0.1 twin stays a foreign origin).
  siteKey = (
    await team.call("POST", `/api/v1/workspaces/${team.workspaceId}/api-keys`, {
      name: "browser tests",
      kind: "publishable",
      allowedOrigins: [`http://localhost:${site.port}`],
    })
  ).key;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
});

/// A fresh visitor: their own context (storage), a page, and what the page's console and errors say.
async function visitor(options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("dialog", (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  return { context, page, problems };
}

/// What the widget keeps in the page's localStorage (one entry per publishable key).
const stored = (page) =>
  page.evaluate(() =>
    JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith("studio-chat:"))) || "{}"),
  );

async function ask(page, text) {
  await part(page, "input").fill(text);
  await part(page, "send").click();
  // The answer is finished when its 👍/👎 are there.
  const answer = part(page, "message-assistant").last();
  await answer.locator(".actions button").first().waitFor();
  return answer;
}

test("a visitor on an allowed site asks, sees the answer stream in with its source, and rates it", async () => {
  const { context, page, problems } = await visitor();
  const streamed = [];
  page.on("response", (r) => {
    if (r.url().endsWith("/api/v1/public/stream")) streamed.push(r.headers()["content-type"]);
  });
  await page.goto(server.demoUrl);
  const launcher = part(page, "launcher");
  await launcher.waitFor();
  await launcher.click();
  await part(page, "panel").waitFor();
  // The typing state, then the text: watched from the page as it changes.
  await page.evaluate(() => {
    window.__states = [];
    const log = document.querySelector("studio-chat").shadowRoot.querySelector(".log");
    new MutationObserver(() => {
      const last = log.querySelector('[part~="message-assistant"]:last-child');
      if (last) window.__states.push(last.getAttribute("aria-busy") === "true" ? "busy" : last.textContent);
    }).observe(log, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  const answer = await ask(page, QUESTION);
  await assert.doesNotReject(answer.getByText("45 days").first().waitFor());
  const states = await page.evaluate(() => window.__states);
  assert.ok(states.includes("busy"), `the answer showed a typing state first: ${JSON.stringify(states)}`);
  assert.deepEqual(streamed, ["text/event-stream"]);

  const source = answer.locator('[part~="sources"] a');
  assert.equal(await source.first().textContent(), "Returns policy");
  assert.equal(await source.first().getAttribute("href"), "https://acme.example/returns");
  assert.match(await source.first().getAttribute("rel"), /noopener/);

  await answer.getByRole("button", { name: "Helpful", exact: true }).click();
  await answer.locator('button[aria-pressed="true"]').waitFor();
  const feedback = await team.call("GET", "/api/v1/agents/feedback");
  assert.ok(
    feedback.items.some((f) => f.rating === "up" && f.answer.includes("45 days")),
    `the 👍 is stored: ${JSON.stringify(feedback.items)}`,
  );
  assert.deepEqual(problems, []);

  // A reload shows the same conversation.
  await page.reload();
  await part(page, "launcher").click();
  await part(page, "message-user").getByText(QUESTION).waitFor();
  assert.equal(await part(page, "message-user").count(), 1);

  // Another visitor (another browser context) does not see it.
  const other = await visitor();
  await other.page.goto(server.demoUrl);
  await part(other.page, "launcher").click();
  await part(other.page, "message-assistant").first().waitFor();
  assert.equal(await part(other.page, "message-user").count(), 0);
  await other.context.close();
  await context.close();
});

test("the visitor asks for a person and the team's reply appears without a reload", async () => {
  const { context, page, problems } = await visitor();
  await page.goto(server.demoUrl);
  await part(page, "launcher").click();
  await ask(page, QUESTION);
  await part(page, "handoff").click();
  await part(page, "status").getByText("Waiting for a person").waitFor();
  const { conversationId } = await stored(page);
  const inbox = await team.call("GET", "/api/v1/agents/inbox");
  assert.ok(inbox.items.some((c) => c.id === conversationId), "the conversation waits in the team's inbox");
  await team.call("POST", `/api/v1/agents/conversations/${conversationId}/messages`, {
    message: "Hi, this is Sam from the support team.",
  });
  await part(page, "message-human").getByText("this is Sam").waitFor({ timeout: 15_000 });
  await part(page, "status").getByText("chatting with a person").waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});

test("a page on an origin the key does not list shows the origin error and stores nothing", async () => {
  const visitors = () => Number(psql(server.databaseUrl, "SELECT count(*) FROM visitors"));
  const before = visitors();
  const { context, page } = await visitor();
  const refused = page.waitForResponse((r) => r.url().endsWith("/api/v1/public/sessions"));
  await page.goto(`http://127.0.0.1:${site.port}/page?key=${server.key}`);
  assert.equal((await refused).status(), 403);
  await part(page, "launcher").click();
  await page.locator("studio-chat >> .notice").getByText("not enabled for this website").waitFor();
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);
  assert.equal(visitors(), before);
  await context.close();
});

test("HTML and script from the knowledge base are shown as text, never run", async () => {
  const { context, page, problems } = await visitor();
  await page.goto(server.demoUrl);
  await part(page, "launcher").click();
  const answer = await ask(page, "What does gift wrapping cost per parcel, and is there a hazard notice?");
  await answer.getByText("<img src=x onerror=", { exact: false }).first().waitFor();
  assert.equal(await page.evaluate(() => window.__xss), undefined, "no script ran");
  const inside = await page.evaluate(() => {
    const root = document.querySelector("studio-chat").shadowRoot;
    return {
      img: root.querySelectorAll(".log img").length,
      script: root.querySelectorAll(".log script").length,
      hrefs: [...root.querySelectorAll(".log a")].map((a) => a.getAttribute("href")),
    };
  });
  assert.deepEqual(inside.img + inside.script, 0);
  assert.ok(
    inside.hrefs.every((h) => /^(https?:|mailto:)/.test(h)),
    `only http(s) and mailto links: ${inside.hrefs}`,
  );
  assert.deepEqual(problems, []);
  await context.close();
});

test("a source names the section of its document the answer came from", async () => {
  const { context, page } = await visitor();
  await page.goto(server.demoUrl);
  await part(page, "launcher").click();
  const answer = await ask(page, "Should I dry my tent before packing it away, because of mildew?");
  // The whole short guide is one chunk, which starts under "Tents".
  await answer.locator('[part~="sources"]').getByText("Care guide (Tents)").waitFor();
  await context.close();
});

test("keyboard only: Tab reaches the launcher, Enter opens, typing and Enter sends, Escape closes", async () => {
  const { context, page } = await visitor();
  await page.goto(server.demoUrl);
  await part(page, "launcher").waitFor();
  const focused = () =>
    page.evaluate(() => document.querySelector("studio-chat")?.shadowRoot.activeElement?.getAttribute("part") ?? null);
  let reached = false;
  for (let i = 0; i < 15 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = (await focused()) === "launcher";
  }
  assert.ok(reached, "Tab reaches the launcher");
  await page.keyboard.press("Enter");
  await part(page, "panel").waitFor();
  assert.equal(await focused(), "input");
  await page.keyboard.type(QUESTION);
  await page.keyboard.press("Enter");
  await part(page, "message-assistant").last().locator(".actions button").first().waitFor();
  assert.equal(await part(page, "message-user").count(), 1);
  await page.keyboard.press("Escape");
  assert.equal(await part(page, "panel").isHidden(), true);
  assert.equal(await focused(), "launcher");
  await context.close();
});

test("loaded twice, the page gets one widget and one global, and StudioChat.send answers", async () => {
  const { context, page, problems } = await visitor();
  await page.goto(`http://localhost:${site.port}/blank`);
  const bare = await page.evaluate(() => Object.keys(window));
  await page.goto(`http://localhost:${site.port}/page?key=${siteKey}&twice=1`);
  await part(page, "launcher").waitFor();
  assert.equal(await page.locator("studio-chat").count(), 1);
  const added = await page.evaluate((known) => Object.keys(window).filter((k) => !known.includes(k)), bare);
  assert.deepEqual(added, ["StudioChat"]);
  const reply = await page.evaluate(async (q) => {
    const seen = [];
    window.StudioChat.on("message", (m) => seen.push(m.role));
    const r = await window.StudioChat.send(q);
    return { reply: r.reply, status: r.status, sources: r.sources.map((s) => s.title), seen };
  }, QUESTION);
  assert.match(reply.reply, /45 days/);
  assert.equal(reply.status, "bot");
  assert.ok(reply.sources.includes("Returns policy"));
  assert.deepEqual(reply.seen, ["user", "assistant"]);
  assert.deepEqual(problems, []);
  await context.close();
});

test("offline, the visitor is told and the message is sent again on Retry", async () => {
  const { context, page } = await visitor();
  await page.goto(server.demoUrl);
  await part(page, "launcher").click();
  await part(page, "message-assistant").first().waitFor();
  await context.setOffline(true);
  await part(page, "input").fill(QUESTION);
  await part(page, "send").click();
  const notice = page.locator("studio-chat >> .notice");
  await notice.getByText("offline").waitFor();
  assert.equal(await part(page, "input").inputValue(), QUESTION, "the message is kept");
  await context.setOffline(false);
  await notice.getByRole("button", { name: "Retry" }).click();
  await part(page, "message-assistant").last().locator(".actions button").first().waitFor();
  assert.equal(await part(page, "message-user").count(), 1);
  await context.close();
});

test("a budget reached is explained, and the visitor leaves an email for the team", async () => {
  const path = `/api/v1/workspaces/${team.workspaceId}/widget`;
  const saved = await team.call("GET", path);
  const settings = saved.settings ?? saved;
  const budgets = { messagesPerConversation: 1, messagesPerVisitorPerDay: 200, workspaceDailyTokens: 1000000 };
  await team.call("PUT", path, {
    requireIdentity: false,
    autoEscalateWithoutContext: false,
    humanWaitMinutes: settings.humanWaitMinutes ?? 5,
    budgets,
  });
  try {
    const { context, page } = await visitor();
    await page.goto(server.demoUrl);
    await part(page, "launcher").click();
    await ask(page, QUESTION);
    await part(page, "input").fill("And for boots?");
    await part(page, "send").click();
    await page.locator("studio-chat >> .notice").getByText("message limit").waitFor();
    const email = page.locator("studio-chat >> .email input");
    await email.fill("visitor@example.com");
    await email.press("Enter");
    await part(page, "status").getByText("reply by email").waitFor();
    const { conversationId } = await stored(page);
    const inbox = await team.call("GET", "/api/v1/agents/inbox");
    assert.ok(inbox.items.some((c) => c.id === conversationId), "the conversation waits for the team");
    assert.equal(await part(page, "message-user").count(), 1, "the refused message was not stored");
    await context.close();
  } finally {
    await team.call("PUT", path, {
      requireIdentity: false,
      autoEscalateWithoutContext: false,
      humanWaitMinutes: settings.humanWaitMinutes ?? 5,
    });
  }
});

/// What the tenant's server does for a signed-in end user: an HS256 token signed with the workspace's
/// identity secret (the few lines of a JWT library's sign, with Node's HMAC).
function identityToken(secret, claims) {
  const now = Math.floor(Date.now() / 1000);
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part({ iat: now, exp: now + 600, ...claims })}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

test("identify(): the anonymous visitor's conversation moves to the end user, who sees it on another device", async () => {
  const { secret } = await team.call("POST", `/api/v1/workspaces/${team.workspaceId}/identity-secret`);
  const laptop = await visitor();
  await laptop.page.goto(server.demoUrl);
  await part(laptop.page, "launcher").click();
  await ask(laptop.page, QUESTION);
  const anonymous = await stored(laptop.page);
  assert.ok(anonymous.visitorToken?.startsWith("vt_"), "an anonymous visitor keeps its visitor token");
  const token = identityToken(secret, { sub: "customer-42", email: "c42@example.com" });
  await laptop.page.evaluate((t) => window.StudioChat.identify({ identityToken: t }), token);
  const identified = await stored(laptop.page);
  assert.equal(identified.visitorToken, undefined, "a signed-in end user continues with identity tokens");
  assert.equal(identified.conversationId, anonymous.conversationId);
  assert.equal(await part(laptop.page, "message-user").count(), 1);

  // The same end user on a phone: the conversation is there once identified.
  const phone = await visitor();
  await phone.page.goto(server.demoUrl);
  await part(phone.page, "launcher").waitFor();
  await phone.page.evaluate((t) => window.StudioChat.identify({ identityToken: t }), token);
  const { session } = await stored(phone.page);
  const conversations = await phone.page.evaluate(async (s) => {
    const res = await fetch(s.streamUrl.replace("/stream", "/conversations"), {
      headers: { authorization: `Bearer ${s.sessionToken}` },
    });
    return (await res.json()).items.map((c) => c.id);
  }, session);
  assert.deepEqual(conversations, [anonymous.conversationId]);

  // A forged token is refused, and the page is told.
  const errors = await phone.page.evaluate(async (t) => {
    const seen = [];
    window.StudioChat.on("error", (e) => seen.push(e.code));
    await window.StudioChat.identify({ identityToken: t }).catch(() => undefined);
    return seen;
  }, identityToken("not the secret", { sub: "customer-42" }));
  assert.deepEqual(errors, ["unauthorized"]);
  await laptop.context.close();
  await phone.context.close();
  await team.call("DELETE", `/api/v1/workspaces/${team.workspaceId}/identity-secret`);
});

test("a session about to expire is renewed before the next request, for the same visitor", async () => {
  const { context, page } = await visitor();
  await page.goto(server.demoUrl);
  await part(page, "launcher").click();
  await ask(page, QUESTION);
  const first = await stored(page);
  // Its expiry brought to within the renewal margin (two minutes), as if it had been open for an hour.
  await page.evaluate(() => {
    const key = Object.keys(localStorage).find((k) => k.startsWith("studio-chat:"));
    const s = JSON.parse(localStorage.getItem(key));
    s.session.expiresAt = new Date(Date.now() + 60_000).toISOString();
    localStorage.setItem(key, JSON.stringify(s));
  });
  const opened = page.waitForResponse((r) => r.url().endsWith("/api/v1/public/sessions"));
  await ask(page, "And how do refunds reach my card?");
  assert.equal((await opened).status(), 201);
  const second = await stored(page);
  assert.notEqual(second.session.sessionToken, first.session.sessionToken);
  assert.equal(second.session.visitorId, first.session.visitorId, "the same visitor");
  assert.equal(second.conversationId, first.conversationId, "the same conversation");
  assert.equal(await part(page, "message-user").count(), 2);
  await context.close();
});

test("screenshots of the open widget, desktop and mobile", async () => {
  for (const [name, options] of [
    ["widget-desktop.png", { viewport: { width: 1280, height: 800 } }],
    ["widget-mobile.png", { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }],
  ]) {
    const { context, page } = await visitor(options);
    await page.goto(server.demoUrl);
    await part(page, "launcher").click();
    await ask(page, QUESTION);
    await page.screenshot({ path: screenshotPath(name) });
    const box = await part(page, "panel").boundingBox();
    assert.ok(box.width <= options.viewport.width, `the panel fits the ${name} viewport`);
    await context.close();
  }
});
