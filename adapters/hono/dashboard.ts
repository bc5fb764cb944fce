/**
 * The monitor's dashboard: one self-contained HTML page (inline CSS and
 * script, no CDN, no build step). It reads the JSON API and the live event
 * stream relative to its own URL, so it works wherever the monitor is
 * mounted. Everything from the queue (task names, errors, ids) is inserted
 * with `textContent`, never as markup; the few server-side values go
 * through `hono/html`, which escapes them.
 *
 * @module
 */

import { html, raw } from "hono/html";

/** What the page needs to know about the monitor it belongs to. */
export interface DashboardConfig {
  /** Queue name shown in the title. */
  queue: string;
  /** Whether replay/delete/pause buttons are offered. */
  actions: boolean;
  /** Interval of the live stream in milliseconds (for the charts' time axis). */
  sseInterval: number;
}

/**
 * The Content-Security-Policy sent with the page: only the page's own
 * nonce-bearing style and script run, and it may only talk to its origin.
 *
 * @param nonce The per-response nonce used in the page.
 * @returns The header value.
 */
export function dashboardCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * A fresh random nonce for one response.
 *
 * @returns 16 random bytes, base64.
 */
export function createNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * Render the dashboard page.
 *
 * @param config What the page shows and offers.
 * @param nonce The nonce also sent in {@linkcode dashboardCsp}.
 * @returns The complete HTML document.
 */
export async function renderDashboard(config: DashboardConfig, nonce: string): Promise<string> {
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${config.queue} · TaskRunner</title>
<style nonce="${nonce}">${raw(STYLE)}</style>
</head>
<body data-config="${JSON.stringify(config)}">
<header class="top">
  <div class="brand"><span class="logo" aria-hidden="true"></span>TaskRunner</div>
  <div class="queue" id="queue-name">${config.queue}</div>
  <div class="spacer"></div>
  <span class="pill" id="status" data-state="connecting">Connecting…</span>
  <span class="muted small" id="updated"></span>
  <button type="button" id="pause-toggle" class="btn" hidden>Pause</button>
</header>
<main>
  <div class="banner" id="long-queue" hidden>The queue is long: the estimated drain time is above the threshold.</div>
  <div class="banner paused" id="paused-banner" hidden>Consuming is paused for the whole fleet.</div>
  <section class="cards" aria-label="Queue at a glance">
    <div class="card"><div class="label">Waiting</div><div class="value" id="card-waiting">–</div><div class="sub" id="card-length"></div></div>
    <div class="card"><div class="label">In flight</div><div class="value" id="card-inflight">–</div><div class="sub" id="card-busy"></div></div>
    <div class="card"><div class="label">Delayed</div><div class="value" id="card-delayed">–</div><div class="sub">scheduled or backing off</div></div>
    <div class="card dead"><div class="label">Dead letters</div><div class="value" id="card-dead">–</div><div class="sub" id="card-deadtotal"></div></div>
    <div class="card ok"><div class="label">Completed</div><div class="value" id="card-completed">–</div><div class="sub" id="card-failed"></div></div>
    <div class="card"><div class="label">Throughput</div><div class="value" id="card-throughput">–</div><div class="sub" id="card-failrate"></div></div>
    <div class="card"><div class="label">Drain estimate</div><div class="value" id="card-drain">–</div><div class="sub" id="card-threshold"></div></div>
    <div class="card"><div class="label">Instances</div><div class="value" id="card-instances">–</div><div class="sub" id="card-workers"></div></div>
  </section>
  <section class="charts">
    <figure class="panel">
      <figcaption><span>Throughput</span><span class="muted small" id="chart-throughput-now"></span></figcaption>
      <svg id="chart-throughput" class="chart" viewBox="0 0 600 140" preserveAspectRatio="none" role="img" aria-label="Completed tasks per second over time"></svg>
      <div class="legend"><span class="key k-completed"></span>completed/s<span class="key k-failed"></span>failed/s<span class="muted small" id="chart-throughput-max"></span></div>
    </figure>
    <figure class="panel">
      <figcaption><span>Queue depth</span><span class="muted small" id="chart-depth-now"></span></figcaption>
      <svg id="chart-depth" class="chart" viewBox="0 0 600 140" preserveAspectRatio="none" role="img" aria-label="Waiting, in-flight and delayed tasks over time"></svg>
      <div class="legend"><span class="key k-waiting"></span>waiting<span class="key k-inflight"></span>in flight<span class="key k-delayed"></span>delayed<span class="muted small" id="chart-depth-max"></span></div>
    </figure>
  </section>
  <section class="panel">
    <h2>Tasks</h2>
    <div class="scroll"><table id="tasks">
      <thead><tr><th>Task</th><th class="n">Completed</th><th class="n">Failed</th><th class="n">Retried</th><th class="n">Dead</th><th class="n">Run p50</th><th class="n">p95</th><th class="n">p99</th><th class="n">Wait p50</th><th class="n">p95</th><th class="n">p99</th></tr></thead>
      <tbody></tbody>
    </table></div>
    <p class="empty muted" id="tasks-empty">No task has run yet.</p>
  </section>
  <div class="two">
    <section class="panel">
      <h2>Instances</h2>
      <div class="scroll"><table id="instances">
        <thead><tr><th>Instance</th><th>Host</th><th class="n">PID</th><th>Busy</th><th class="n">Up</th><th class="n">Seen</th></tr></thead>
        <tbody></tbody>
      </table></div>
      <p class="empty muted" id="instances-empty">No live instance.</p>
    </section>
    <section class="panel">
      <h2>Recent activity</h2>
      <ol id="events" class="events"></ol>
      <p class="empty muted" id="events-empty">Waiting for task events…</p>
    </section>
  </div>
  <section class="panel">
    <h2><span>Dead letters <span class="muted small" id="dead-count"></span></span><span class="muted small">oldest first</span></h2>
    <div class="scroll"><table id="dead-letters">
      <thead><tr><th>Failed</th><th>Task</th><th>Reason</th><th class="n">Runs</th><th>Error</th><th>Task id</th><th></th></tr></thead>
      <tbody></tbody>
    </table></div>
    <p class="empty muted" id="dead-empty">No dead letters.</p>
    <div class="pager"><button type="button" class="btn" id="dead-more" hidden>Show 20 more</button></div>
  </section>
</main>
<footer class="muted small">Figures are fleet-wide; activity shows this instance's events. <a href="metrics">Prometheus metrics</a> · <a href="api/overview">JSON</a></footer>
<script nonce="${nonce}">${raw(SCRIPT)}</script>
</body>
</html>`;
  return (await page).toString();
}

const STYLE = `
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

// Plain ES2017 for the browser; no template literals so it can live here.
const SCRIPT = `
(function () {
  "use strict";
  var cfg = JSON.parse(document.body.getAttribute("data-config"));
  var base = new URL(location.pathname.endsWith("/") ? location.pathname : location.pathname + "/", location.origin);
  function url(p) { return new URL(p, base).toString(); }
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function setText(id, text) { var e = $(id); if (e.textContent !== text) e.textContent = text; }
  var nf = new Intl.NumberFormat();
  function num(n) { return n === null || n === undefined ? "–" : nf.format(n); }
  function rate(n) { return n >= 100 ? nf.format(Math.round(n)) : n >= 10 ? n.toFixed(1) : n.toFixed(2); }
  function ms(v) {
    if (v === null || v === undefined) return "–";
    if (v < 1) return "<1 ms";
    if (v < 1000) return Math.round(v) + " ms";
    var s = v / 1000;
    if (s < 60) return (s < 10 ? s.toFixed(1) : Math.round(s)) + " s";
    var m = Math.floor(s / 60), rs = Math.round(s - m * 60);
    if (m < 60) return m + " min" + (rs ? " " + rs + " s" : "");
    var h = Math.floor(m / 60), rm = m - h * 60;
    if (h < 48) return h + " h" + (rm ? " " + rm + " min" : "");
    return Math.floor(h / 24) + " d" + (h % 24 ? " " + (h % 24) + " h" : "");
  }
  function ago(t) {
    if (!t) return "–";
    var d = Date.now() - t;
    return d < 1500 ? "now" : ms(d) + " ago";
  }
  function plural(n, word) { return num(n) + " " + word + (n === 1 ? "" : "s"); }
  function clock(t) { return new Date(t).toLocaleTimeString(); }
  function stamp(t) { var d = new Date(t); return d.toLocaleDateString() + " " + d.toLocaleTimeString(); }

  var history = [];
  var MAX_POINTS = Math.max(60, Math.min(600, Math.round(300000 / Math.max(100, cfg.sseInterval))));
  var last = null;

  function renderOverview(o) {
    last = o;
    setText("card-waiting", num(o.waiting));
    setText("card-length", num(o.length) + " left to run");
    setText("card-inflight", num(o.inFlight));
    setText("card-busy", num(o.busy) + " running of " + num(o.workers) + " workers");
    setText("card-delayed", num(o.delayed));
    setText("card-dead", num(o.dead));
    setText("card-deadtotal", num(o.totals.dead) + " dead-lettered in all");
    setText("card-completed", num(o.totals.completed));
    setText("card-failed", num(o.totals.failed) + " failed runs, " + num(o.totals.retried) + " retried");
    setText("card-throughput", rate(o.throughput) + "/s");
    setText("card-failrate", rate(o.failureRate) + " failed/s");
    setText("card-drain", o.length === 0 ? "empty" : ms(o.estimatedDrainTime));
    setText("card-threshold", o.longQueueThreshold === null ? "no long-queue threshold" : "threshold " + ms(o.longQueueThreshold));
    setText("card-instances", num(o.instances));
    setText("card-workers", plural(o.workers, "worker") + ", " + plural(o.consumers, "consumer"));
    $("long-queue").hidden = !o.longQueue;
    $("paused-banner").hidden = !o.paused;
    setText("updated", "updated " + clock(o.at));
    setText("dead-count", o.dead ? "(" + num(o.dead) + ")" : "");
    var st = $("status");
    st.dataset.state = o.paused ? "paused" : "live";
    setText("status", o.paused ? "Paused" : "Live");
    var pt = $("pause-toggle");
    pt.hidden = !cfg.actions;
    setText("pause-toggle", o.paused ? "Resume" : "Pause");
    history.push({ t: o.at, completed: o.throughput, failed: o.failureRate, waiting: o.waiting, inflight: o.inFlight, delayed: o.delayed });
    if (history.length > MAX_POINTS) history.splice(0, history.length - MAX_POINTS);
    drawCharts();
  }

  var SVGNS = "http://www.w3.org/2000/svg";
  function drawChart(svg, keys, maxId, nowId, unit) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var W = 600, H = 140, pad = 4;
    var max = 0;
    history.forEach(function (p) { keys.forEach(function (k) { if (p[k] > max) max = p[k]; }); });
    var top = max <= 0 ? 1 : niceCeil(max);
    var n = history.length;
    if (n === 0) return;
    // Fill the width as history accumulates, then scroll.
    var span = Math.max(20, Math.min(MAX_POINTS, n) - 1);
    keys.forEach(function (k, ki) {
      var pts = [];
      for (var i = 0; i < n; i++) {
        var x = W - ((n - 1 - i) / span) * W;
        var y = H - pad - (history[i][k] / top) * (H - 2 * pad);
        pts.push(x.toFixed(1) + "," + y.toFixed(1));
      }
      if (ki === 0) {
        var area = document.createElementNS(SVGNS, "polygon");
        var x0 = W - ((n - 1) / span) * W;
        area.setAttribute("points", x0.toFixed(1) + "," + H + " " + pts.join(" ") + " " + W + "," + H);
        area.setAttribute("class", "s-" + k);
        svg.appendChild(area);
      }
      var line = document.createElementNS(SVGNS, "polyline");
      line.setAttribute("points", n === 1 ? pts[0] + " " + pts[0] : pts.join(" "));
      line.setAttribute("class", "s-" + k);
      svg.appendChild(line);
    });
    setText(maxId, "max " + (unit === "/s" ? rate(top) + "/s" : num(top)) + " · last " + ms(Math.max(0, history[n - 1].t - history[0].t)));
    var p = history[n - 1];
    setText(nowId, keys.map(function (k) { return unit === "/s" ? rate(p[k]) + "/s" : num(p[k]); }).join(" · "));
  }
  function niceCeil(v) {
    var e = Math.pow(10, Math.floor(Math.log10(v)));
    var m = v / e;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * e;
  }
  function drawCharts() {
    drawChart($("chart-throughput"), ["completed", "failed"], "chart-throughput-max", "chart-throughput-now", "/s");
    drawChart($("chart-depth"), ["waiting", "inflight", "delayed"], "chart-depth-max", "chart-depth-now", "");
  }

  function fillTable(id, emptyId, rows) {
    var body = $(id).tBodies[0];
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r); });
    body.replaceChildren(frag);
    $(emptyId).hidden = rows.length > 0;
    $(id).hidden = rows.length === 0;
  }
  function td(text, cls) { return el("td", cls, text); }

  function renderTasks(tasks) {
    fillTable("tasks", "tasks-empty", tasks.map(function (t) {
      var tr = el("tr");
      tr.dataset.task = t.name;
      tr.append(td(t.name, "mono"), td(num(t.completed), "n c-completed"), td(num(t.failed), "n"), td(num(t.retried), "n"),
        td(num(t.dead), "n"), td(ms(t.runTime.p50), "n"), td(ms(t.runTime.p95), "n"), td(ms(t.runTime.p99), "n"),
        td(ms(t.waitTime.p50), "n"), td(ms(t.waitTime.p95), "n"), td(ms(t.waitTime.p99), "n"));
      return tr;
    }));
  }

  function renderInstances(list) {
    fillTable("instances", "instances-empty", list.map(function (i) {
      var tr = el("tr");
      var busy = el("td");
      busy.append(el("span", "", num(i.busy) + " / " + num(i.workers)));
      var bar = el("div", "bar"), fill = el("span");
      fill.style.width = (i.workers > 0 ? Math.min(100, (100 * i.busy) / i.workers) : 0).toFixed(0) + "%";
      bar.append(fill);
      busy.append(bar);
      tr.append(td(i.id, "mono"), td(i.host), td(i.pid, "n"), busy, td(ms(Date.now() - i.startedAt), "n"), td(ago(i.lastSeen), "n"));
      return tr;
    }));
  }

  var events = [];
  function renderEvents(batch) {
    batch.events.forEach(function (e) { events.unshift(e); });
    if (events.length > 50) events.length = 50;
    var ol = $("events");
    ol.replaceChildren.apply(ol, events.map(function (e) {
      var li = el("li");
      var text = el("span");
      text.append(el("b", "", e.type), document.createTextNode(" "), el("span", "mono", e.name || "?"));
      if (e.duration !== null) text.append(document.createTextNode(" in " + ms(e.duration)));
      if (e.error) text.append(document.createTextNode(" — "), el("span", "err", e.error.name + ": " + e.error.message));
      li.append(el("span", "dot " + e.type), text, el("span", "when", clock(e.at)));
      return li;
    }));
    $("events-empty").hidden = events.length > 0;
    if (batch.events.some(function (e) { return e.type === "dead"; })) scheduleDeadRefresh();
  }

  var deadCursor = null, deadRows = [], deadSeen = null, deadTimer = null;
  function scheduleDeadRefresh() {
    if (deadTimer) return;
    deadTimer = setTimeout(function () { deadTimer = null; loadDead(true); }, 250);
  }
  function deadRow(d) {
    var tr = el("tr");
    var err = el("td", "err");
    err.append(el("b", "", d.error.name + ": "), document.createTextNode(d.error.message));
    var btns = el("td");
    if (cfg.actions) {
      var box = el("div", "rowbtns");
      var replay = el("button", "btn", "Replay"), del = el("button", "btn danger", "Delete");
      replay.type = "button"; del.type = "button";
      replay.addEventListener("click", function () { act("POST", "api/dead-letters/" + encodeURIComponent(d.deadLetterId) + "/replay"); });
      del.addEventListener("click", function () {
        if (confirm("Delete this dead letter for good?")) act("DELETE", "api/dead-letters/" + encodeURIComponent(d.deadLetterId));
      });
      box.append(replay, del);
      btns.append(box);
    }
    var reason = el("td");
    reason.append(el("span", "reason", d.reason));
    tr.append(td(stamp(d.failedAt)), td(d.name, "mono"), reason, td(num(d.attempt), "n"), err, td(d.id, "mono"), btns);
    return tr;
  }
  function loadDead(reset) {
    var q = "api/dead-letters?limit=20" + (!reset && deadCursor ? "&cursor=" + encodeURIComponent(deadCursor) : "");
    return fetch(url(q), { headers: { accept: "application/json" } }).then(function (r) { return r.json(); }).then(function (page) {
      if (!page.items) return;
      if (reset) deadRows = [];
      deadRows = deadRows.concat(page.items);
      deadCursor = page.nextCursor;
      fillTable("dead-letters", "dead-empty", deadRows.map(deadRow));
      $("dead-more").hidden = !deadCursor;
    }).catch(function () {});
  }
  $("dead-more").addEventListener("click", function () { loadDead(false); });

  function act(method, path) {
    return fetch(url(path), { method: method, headers: { "content-type": "application/json", "x-taskrunner-action": "1" }, body: "{}" })
      .then(function (r) {
        if (!r.ok) return r.json().then(function (b) { alert((b.error && b.error.message) || ("Request failed: " + r.status)); });
      })
      .then(function () { loadDead(true); });
  }
  $("pause-toggle").addEventListener("click", function () { act("POST", last && last.paused ? "api/resume" : "api/pause"); });

  function onStats(s) {
    renderOverview(s.overview);
    renderTasks(s.tasks);
    renderInstances(s.instances);
    if (deadSeen !== s.overview.dead) { deadSeen = s.overview.dead; scheduleDeadRefresh(); }
  }

  function connect() {
    var es = new EventSource(url("events"));
    es.addEventListener("stats", function (e) { onStats(JSON.parse(e.data)); });
    es.addEventListener("tasks", function (e) { renderEvents(JSON.parse(e.data)); });
    es.addEventListener("open", function () { var st = $("status"); if (st.dataset.state !== "paused") { st.dataset.state = "live"; setText("status", "Live"); } });
    es.addEventListener("error", function () { var st = $("status"); st.dataset.state = "down"; setText("status", "Reconnecting…"); });
  }
  fetch(url("api/overview")).then(function (r) { return r.json(); }).then(function (o) { if (o.queue) renderOverview(o); }).catch(function () {});
  loadDead(true);
  connect();
})();
`;
