// The widget's benchmark (BENCHMARKS.md): the bundle's size gzipped, and in headless Chromium against the
// devserver (offline embedder and LLM), medians of 10 of
//   - script load → launcher visible: from inserting the snippet's <script> into a page (a new browser
//     context each time, so nothing is cached) to the launcher having a size on screen;
//   - send → first token: from submitting a question to the first answer text in the panel.
// Run: (cd widget && node bench/bench.mjs), after `cargo build -p devserver`.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { launch, member, startDevserver, startSite } from "../tests/harness.mjs";

const RUNS = Number(process.env.RUNS || 10);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const bundle = readFileSync(new URL("../dist/widget.js", import.meta.url));
const loader = readFileSync(new URL("../dist/loader.js", import.meta.url));
const server = await startDevserver();
const site = await startSite(server.api);
const browser = await launch();
try {
  const team = await member(server);
  await team.ingest([{ title: "Returns policy", content: "You may return a tent within 45 days for a full refund." }]);
  const key = (
    await team.call("POST", `/api/v1/workspaces/${team.workspaceId}/api-keys`, {
      name: "bench",
      kind: "publishable",
      allowedOrigins: [`http://localhost:${site.port}`],
    })
  ).key;
  const launcherMs = [];
  const firstTokenMs = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://localhost:${site.port}/blank`);
    launcherMs.push(
      await page.evaluate(
        ({ api, key }) =>
          new Promise((resolve) => {
            const t0 = performance.now();
            const s = document.createElement("script");
            s.src = `${api}/widget/v1/widget.js`;
            s.dataset.key = key;
            s.async = true;
            document.body.append(s);
            const look = () => {
              const b = document.querySelector("studio-chat")?.shadowRoot?.querySelector('[part~="launcher"]');
              if (b && b.getBoundingClientRect().width > 0) resolve(performance.now() - t0);
              else requestAnimationFrame(look);
            };
            look();
          }),
        { api: server.api, key },
      ),
    );
    await page.evaluate(() => window.StudioChat.open());
    await page.locator('studio-chat >> [part~="message-assistant"]').first().waitFor();
    firstTokenMs.push(
      await page.evaluate(
        () =>
          new Promise((resolve) => {
            const root = document.querySelector("studio-chat").shadowRoot;
            const log = root.querySelector(".log");
            const before = log.childElementCount;
            const t0 = performance.now();
            new MutationObserver((_, obs) => {
              const last = log.lastElementChild;
              // The answer's text (its first child; sources and 👍/👎 follow once it is finished).
              const body = last?.firstElementChild;
              if (log.childElementCount > before + 1 && body && !body.classList.contains("typing") && body.textContent) {
                obs.disconnect();
                resolve(performance.now() - t0);
              }
            }).observe(log, { subtree: true, childList: true, characterData: true, attributes: true });
            root.querySelector("textarea").value = "How long do I have to return a tent?";
            root.querySelector(".composer").requestSubmit();
          }),
      ),
    );
    if (process.env.VERBOSE) console.error(`run ${i + 1}: ${launcherMs.at(-1)} ms, ${firstTokenMs.at(-1)} ms`);
    await context.close();
  }
  const fmt = (xs) => `median ${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`;
  console.log(`bundle: ${bundle.length} bytes, ${gzipSync(bundle, { level: 9 }).length} gzipped (gzip -9)`);
  console.log(`loader: ${loader.length} bytes, ${gzipSync(loader, { level: 9 }).length} gzipped`);
  console.log(`script load → launcher visible (${RUNS} fresh contexts): ${fmt(launcherMs)}`);
  console.log(`send → first token (${RUNS}): ${fmt(firstTokenMs)}`);
} finally {
  await browser.close();
  await site.close();
  await server.stop();
}
