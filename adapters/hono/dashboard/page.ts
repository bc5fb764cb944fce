/**
 * The monitor's dashboard: one self-contained HTML page (inline CSS and
 * script, no CDN, no build step). It reads the JSON API and the live event
 * stream relative to its own URL, so it works wherever the monitor is
 * mounted. Everything from the queue (task names, errors, ids) is inserted
 * with `textContent`, never as markup; the few server-side values go
 * through `hono/html`, which escapes them. The style sheet is in
 * `style.ts`, the browser code in `client.ts`; both run under a nonce made
 * for each response and named in the page's Content-Security-Policy.
 *
 * @module
 */

import { html, raw } from "hono/html";
import { DASHBOARD_SCRIPT } from "./client.ts";
import { DASHBOARD_STYLE } from "./style.ts";

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
<style nonce="${nonce}">${raw(DASHBOARD_STYLE)}</style>
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
<script nonce="${nonce}">${raw(DASHBOARD_SCRIPT)}</script>
</body>
</html>`;
  return (await page).toString();
}
