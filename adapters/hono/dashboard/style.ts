/**
 * The dashboard's style sheet, inlined in the page under its nonce. Light
 * and dark schemes follow the browser's preference.
 *
 * @module
 */

/** The CSS of the dashboard page. */
export const DASHBOARD_STYLE: string = `
:root{--bg:#f5f6f8;--panel:#fff;--text:#1d2330;--muted:#6b7384;--line:#e3e6ec;--accent:#3b6fe0;--ok:#1f9d63;--warn:#c77800;--bad:#d33a3a;--delay:#8a5cd6;
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#11141a;--panel:#191d25;--text:#e4e7ee;--muted:#8f97a8;--line:#2a303b;--accent:#6d95ff;--ok:#35c07f;--warn:#e69a2e;--bad:#f06262;--delay:#a98bf0}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text)}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:12px;padding:12px 24px;background:var(--panel);border-bottom:1px solid var(--line);position:sticky;top:0;z-index:1}
.brand{font-weight:700;display:flex;align-items:center;gap:8px}
.logo{width:18px;height:18px;border-radius:5px;background:linear-gradient(135deg,var(--accent),var(--delay))}
.queue{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:var(--muted);overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:40vw}
.spacer{flex:1}
.pill{padding:2px 10px;border-radius:999px;font-size:12px;font-weight:600;background:var(--line);color:var(--muted)}
.pill[data-state=live]{background:color-mix(in srgb,var(--ok) 18%,transparent);color:var(--ok)}
.pill[data-state=paused]{background:color-mix(in srgb,var(--warn) 20%,transparent);color:var(--warn)}
.pill[data-state=down]{background:color-mix(in srgb,var(--bad) 18%,transparent);color:var(--bad)}
.btn{font:inherit;font-size:12px;padding:3px 10px;border:1px solid var(--line);border-radius:6px;background:var(--panel);color:var(--text);cursor:pointer}
.btn:hover{border-color:var(--accent)}
.btn.danger:hover{border-color:var(--bad);color:var(--bad)}
main{padding:20px 24px;display:grid;gap:16px;max-width:1400px;margin:0 auto}
.banner{padding:10px 14px;border-radius:8px;background:color-mix(in srgb,var(--warn) 16%,var(--panel));border:1px solid color-mix(in srgb,var(--warn) 40%,transparent)}
.cards{display:grid;grid-template-columns:repeat(2,1fr);gap:12px}
@media (min-width:640px){.cards{grid-template-columns:repeat(4,1fr)}}
@media (min-width:1180px){.cards{grid-template-columns:repeat(8,1fr)}}
.card{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:12px 14px;border-top:3px solid var(--accent)}
.card.dead{border-top-color:var(--bad)}.card.ok{border-top-color:var(--ok)}
.label{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.value{font-size:28px;font-weight:650;font-variant-numeric:tabular-nums;margin-top:2px;white-space:nowrap}
.sub{font-size:12px;color:var(--muted);min-height:1.4em}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(320px,100%),1fr));gap:16px}
@media (max-width:640px){main{padding:12px}.top{padding:10px 12px}.value{font-size:22px}}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin:0;min-width:0}
figcaption,h2{display:flex;justify-content:space-between;align-items:baseline;font-size:13px;font-weight:650;margin:0 0 8px}
.chart{width:100%;height:140px;display:block;background:linear-gradient(var(--line) 1px,transparent 1px) 0 0/100% 35px}
.chart polyline{fill:none;stroke-width:2;vector-effect:non-scaling-stroke;stroke-linejoin:round}
.chart polygon{stroke:none;opacity:.15}
.legend{display:flex;gap:6px;align-items:center;font-size:12px;color:var(--muted);margin-top:6px}
.legend .small{margin-left:auto}
.key{display:inline-block;width:10px;height:3px;border-radius:2px;margin-left:8px}
.key:first-child{margin-left:0}
.k-completed{background:var(--ok)}.k-failed{background:var(--bad)}.k-waiting{background:var(--accent)}.k-inflight{background:var(--ok)}.k-delayed{background:var(--delay)}
.s-completed{stroke:var(--ok);fill:var(--ok)}.s-failed{stroke:var(--bad);fill:var(--bad)}.s-waiting{stroke:var(--accent);fill:var(--accent)}.s-inflight{stroke:var(--ok);fill:var(--ok)}.s-delayed{stroke:var(--delay);fill:var(--delay)}
.two{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(420px,100%),1fr));gap:16px}
.scroll{overflow-x:auto}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th{font-size:12px;font-weight:600;color:var(--muted);text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
td{padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
tr:last-child td{border-bottom:0}
.n{text-align:right;white-space:nowrap}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.err{color:var(--bad);max-width:520px;overflow-wrap:anywhere}
td.err{min-width:260px}
#dead-letters,#tasks{min-width:680px}
#instances{min-width:420px}
.reason{font-size:11px;padding:1px 7px;border-radius:999px;background:var(--line);white-space:nowrap}
.bar{height:6px;border-radius:3px;background:var(--line);overflow:hidden;min-width:80px;margin-top:6px}
.bar>span{display:block;height:100%;background:var(--accent)}
.events{list-style:none;margin:0;padding:0;max-height:260px;overflow:auto}
.events li{display:flex;gap:8px;padding:4px 0;border-bottom:1px solid var(--line);font-size:13px}
.events li:last-child{border-bottom:0}
.dot{width:8px;height:8px;border-radius:50%;margin-top:6px;flex:none;background:var(--muted)}
.dot.completed{background:var(--ok)}.dot.failed{background:var(--warn)}.dot.dead{background:var(--bad)}.dot.reclaimed{background:var(--delay)}
.events .when{margin-left:auto;color:var(--muted);font-size:12px;white-space:nowrap}
.muted{color:var(--muted)}.small{font-size:12px;font-weight:400}
.empty{margin:8px 0 0}
.pager{display:flex;justify-content:center}
.rowbtns{display:flex;gap:6px;justify-content:flex-end}
footer{padding:8px 24px 24px;text-align:center}
footer a{color:inherit}
[hidden]{display:none!important}
`;
