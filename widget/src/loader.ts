// /widget/v1/widget.js: the snippet a tenant pastes loads this small loader (cached for minutes), which
// loads the content-hashed bundle (cached for a year) with the same data- attributes. Until the bundle
// runs, window.StudioChat queues the page's calls. Loaded twice, it does nothing the second time.

type Call = [string, unknown[], ((v: unknown) => void)?, ((e: unknown) => void)?];

((w: Window & { StudioChat?: unknown }, d: Document) => {
  const s = d.currentScript as HTMLScriptElement | null;
  if (!s || w.StudioChat) return;
  const q: Call[] = [];
  const stub: Record<string, unknown> = { q };
  for (const m of ["open", "close", "send", "identify"]) {
    stub[m] = (...a: unknown[]) => new Promise((res, rej) => q.push([m, a, res, rej]));
  }
  for (const m of ["on", "off"]) stub[m] = (...a: unknown[]) => void q.push([m, a]);
  w.StudioChat = stub;
  const b = d.createElement("script");
  b.async = true;
  b.src = new URL("__STUDIO_WIDGET_BUNDLE__", s.src).href;
  Object.assign(b.dataset, s.dataset, { loader: s.src });
  (d.head || d.documentElement).appendChild(b);
})(window, document);
