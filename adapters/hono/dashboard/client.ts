/**
 * The dashboard's browser code, inlined in the page under its nonce. It
 * reads the JSON API and the live event stream relative to the page's URL,
 * and inserts everything from the queue with `textContent`, never as markup.
 *
 * Plain ES2017 with no template literals, so that it can live in one here;
 * a unit test parses it.
 *
 * @module
 */

/** The script of the dashboard page (a self-running function). */
export const DASHBOARD_SCRIPT: string = `
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
