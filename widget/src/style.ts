// The widget's styles, inside its shadow root: the page's CSS does not reach in, ours does not leak out.
// Tenants restyle through the `part` names (e.g. `studio-chat::part(launcher) { … }`) and
// `--studio-brand`.

export const CSS = `
:host{all:initial;position:fixed;z-index:2147483000;bottom:20px;right:20px;
--studio-brand:#2563eb;--on-brand:#fff;--bg:#fff;--fg:#111827;--muted:#6b7280;--bubble:#f1f3f6;--line:#e5e7eb;
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg)}
:host([data-position=left]){right:auto;left:20px}
@media (prefers-color-scheme:dark){:host{--bg:#15181e;--fg:#f3f4f6;--muted:#9ca3af;--bubble:#232833;--line:#343a46}}
*{box-sizing:border-box}
[hidden]{display:none!important}
button,input,textarea{font:inherit;color:inherit}
button{cursor:pointer}
:focus-visible{outline:2px solid var(--studio-brand);outline-offset:2px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.launcher{width:56px;height:56px;border:0;border-radius:50%;background:var(--studio-brand);color:var(--on-brand);
display:grid;place-items:center;box-shadow:0 6px 20px rgba(0,0,0,.25);margin-left:auto}
.launcher svg{width:26px;height:26px;fill:currentColor}
.panel{position:absolute;bottom:72px;right:0;width:380px;height:min(620px,calc(100vh - 110px));display:flex;
flex-direction:column;background:var(--bg);border:1px solid var(--line);border-radius:16px;overflow:hidden;
box-shadow:0 12px 40px rgba(0,0,0,.22)}
:host([data-position=left]) .panel{right:auto;left:0}
header{display:flex;align-items:center;gap:10px;padding:12px 14px;background:var(--studio-brand);color:var(--on-brand)}
header h2{flex:1;margin:0;font-size:16px;font-weight:600}
header button{border:0;background:transparent;color:inherit;font-size:22px;line-height:1;padding:4px 8px;border-radius:8px}
.status{padding:8px 14px;font-size:13px;color:var(--muted);border-bottom:1px solid var(--line)}
.status:empty{display:none}
.log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px;overscroll-behavior:contain}
.msg{max-width:85%;padding:9px 12px;border-radius:14px;background:var(--bubble);overflow-wrap:anywhere}
.msg.user{align-self:flex-end;background:var(--studio-brand);color:var(--on-brand)}
.msg.human{border:1px solid var(--studio-brand)}
.msg .who{display:block;font-size:12px;color:var(--muted);margin-bottom:2px}
.msg p{margin:0 0 .5em}.msg p:last-child{margin:0}
.msg pre{overflow-x:auto;background:rgba(0,0,0,.06);padding:8px;border-radius:8px}
.msg a{color:inherit}
.msg ul,.msg ol{margin:.3em 0;padding-left:1.3em}
.sources{margin-top:6px;font-size:12px;color:var(--muted)}
.sources span,.sources a{margin-right:6px}
.actions{margin-top:4px;display:flex;gap:4px}
.actions button{border:1px solid var(--line);background:var(--bg);border-radius:8px;padding:2px 8px;line-height:0}
.actions svg{width:15px;height:15px;fill:currentColor}
.actions button[aria-pressed=true]{border-color:var(--studio-brand);background:var(--bubble)}
.typing::after{content:"…"}
@media (prefers-reduced-motion:no-preference){
.panel{animation:rise .18s ease-out}
@keyframes rise{from{opacity:0;transform:translateY(8px)}}
.typing::after{display:inline-block;animation:blink 1s infinite}
@keyframes blink{50%{opacity:.2}}}
.notice{margin:0 14px 8px;padding:8px 10px;border-radius:10px;background:#fdecec;color:#8a1c1c;font-size:13px}
@media (prefers-color-scheme:dark){.notice{background:#3b1d1d;color:#fecaca}}
.notice button{margin-left:8px;border:0;background:transparent;text-decoration:underline}
.row{display:flex;gap:8px;padding:0 14px 8px}
.row input{flex:1;min-width:0;padding:7px 10px;border:1px solid var(--line);border-radius:10px;background:var(--bg)}
.row button,.handoff{border:1px solid var(--line);background:var(--bg);border-radius:10px;padding:6px 10px}
.rating{padding:0 14px 8px;font-size:13px}
.rating button{border:1px solid var(--line);background:var(--bg);border-radius:8px;margin:4px 4px 0 0;min-width:34px}
.composer{display:flex;gap:8px;align-items:flex-end;padding:10px 14px;border-top:1px solid var(--line)}
textarea{flex:1;resize:none;max-height:120px;padding:9px 10px;border:1px solid var(--line);border-radius:12px;background:var(--bg)}
.send{border:0;border-radius:12px;padding:9px 14px;background:var(--studio-brand);color:var(--on-brand)}
.send:disabled{opacity:.5;cursor:default}
.foot{display:flex;justify-content:center;padding:0 14px 10px}
.handoff{font-size:13px}
@media (max-width:480px){
:host{bottom:14px;right:14px}:host([data-position=left]){left:14px}
.panel{position:fixed;inset:0;width:100%;height:100%;border-radius:0;border:0}}
`;
