// Builds the widget into dist/ (committed, so neither cargo nor the SAM build needs npm):
//   dist/loader.js  what /widget/v1/widget.js serves; the server puts the bundle's hashed name in place
//                   of __STUDIO_WIDGET_BUNDLE__
//   dist/widget.js  the bundle, served as /widget/v1/widget.<hash>.js
// `node build.mjs --check` builds in memory and fails when dist/ differs from the source (or the bundle is
// over its size budget) — the test command runs it.
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const check = process.argv.includes("--check");
/// The bundle's budget, gzipped (issue 15).
const MAX_GZIP = 25 * 1024;
const MARKED_LICENSE =
  "/*! marked v18.2.1 (https://github.com/markedjs/marked) | Copyright (c) 2018-2026 MarkedJS, " +
  "(c) 2011-2018 Christopher Jeffrey | MIT License */";

const common = {
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2022",
  charset: "utf8",
  legalComments: "none",
  write: false,
  logLevel: "warning",
};

async function bundle(entry, banner) {
  const out = await build({ ...common, entryPoints: [entry], banner: banner ? { js: banner } : undefined });
  return out.outputFiles[0].text;
}

const files = {
  "dist/loader.js": await bundle("src/loader.ts"),
  "dist/widget.js": await bundle("src/widget.ts", MARKED_LICENSE),
};
if (!files["dist/loader.js"].includes("__STUDIO_WIDGET_BUNDLE__")) {
  throw new Error("the loader lost its __STUDIO_WIDGET_BUNDLE__ placeholder");
}

let stale = [];
for (const [path, text] of Object.entries(files)) {
  const gz = gzipSync(Buffer.from(text), { level: 9 }).length;
  console.log(`${path}: ${text.length} bytes, ${gz} gzipped`);
  if (path === "dist/widget.js" && gz > MAX_GZIP) {
    throw new Error(`${path} is ${gz} bytes gzipped, over the ${MAX_GZIP}-byte budget`);
  }
  if (check) {
    let committed = "";
    try {
      committed = readFileSync(path, "utf8");
    } catch {}
    if (committed !== text) stale.push(path);
  } else {
    writeFileSync(path, text);
  }
}
if (stale.length) {
  console.error(`${stale.join(", ")} differ from a build of src/: run \`npm run build\` in widget/ and commit dist/`);
  process.exit(1);
}
