/**
 * The dashboard in a real browser: Debian's Chromium driven by
 * playwright-core, against the monitor served on a loopback port by the
 * runtime's own server (Deno.serve, Bun.serve, or @hono/node-server on
 * Node). Saves a screenshot to .ci/artifacts/dashboard.png.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { Hono } from "hono";
import { type Browser, chromium, type Page } from "playwright-core";
import { createMonitor } from "../adapters/hono/mod.ts";
import { type Fixture, type Served, serveOnLoopback, startFixture, waitFor } from "./_monitor_fixture.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = process.env.TASKRUNNER_ARTIFACTS_DIR || ".ci/artifacts";
const XSS = `<img src=x onerror="window.__xss=1">`;

// Page-side callbacks run in the browser; the test files are type-checked
// without the DOM library, so they reach the document through globalThis.
// (Expressions passed as strings would need 'unsafe-eval', which the
// dashboard's CSP rightly refuses.)
// deno-lint-ignore no-explicit-any
type Browserish = any;

/** Wait until the element with this id shows text matching `pattern` (a regex source). */
async function untilText(page: Page, id: string, pattern: string, timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    ([id, pattern]) => new RegExp(pattern).test((globalThis as Browserish).document.getElementById(id)?.textContent ?? ""),
    [id, pattern] as const,
    { timeout },
  );
}

/** Wait until `selector` matches exactly `count` elements. */
async function untilCount(page: Page, selector: string, count: number, timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    ([selector, count]) => (globalThis as Browserish).document.querySelectorAll(selector).length === count,
    [selector, count] as const,
    { timeout },
  );
}

async function text(page: Page, selector: string): Promise<string> {
  return (await page.textContent(selector))?.trim() ?? "";
}

describe("dashboard in headless Chromium", () => {
  let fx: Fixture;
  let served: Served;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the dashboard test`,
    );
    fx = await startFixture("dashboard-test");
    const host = new Hono();
    host.route(
      "/tasks",
      createMonitor({ runner: fx.runner, sseInterval: 150, actions: true, authorize: () => true }),
    );
    host.route("/readonly", createMonitor({ runner: fx.runner, sseInterval: 150 }));
    served = await serveOnLoopback(host.fetch);
    console.log(`dashboard test: serving with ${served.runtime} at ${served.url}/tasks`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error" || msg.type() === "warning") problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on("dialog", (dialog) => void dialog.accept());
    // Page-side code is passed as strings: it runs in the browser, and the
    // test files are type-checked without the DOM library.
    await page.addInitScript(`
      window.__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
    `);
  });

  after(async () => {
    await browser?.close();
    await served?.close();
    await fx?.stop();
  });

  it("serves one self-contained page with a strict CSP", async () => {
    const res = await fetch(`${served.url}/tasks`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await res.text();
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=["']?(https?:)?\/\//i, "nothing loaded from elsewhere");
  });

  it("shows the queue live and updates as tasks complete", async () => {
    await fx.dispatchOk(5);
    await fx.dispatchBoom(XSS);
    await waitFor(async () => (await fx.runner.stats()).totals.completed === 5, "5 completions");

    await page.goto(`${served.url}/tasks`); // no trailing slash: URLs must still resolve under /tasks/
    await untilText(page, "status", "^Live$");
    await untilText(page, "card-completed", "^5$");
    assert.equal(await text(page, "#queue-name"), "memory:dashboard-test");
    assert.equal(await text(page, "#card-instances"), "1");

    // Work arrives while the page is open: the numbers follow without a reload.
    for (let i = 0; i < 6; i++) {
      await fx.dispatchOk(40);
      await new Promise((r) => setTimeout(r, 150));
    }
    await fx.runner.dispatch("ok", 1, { delay: 600_000 });
    await untilText(page, "card-completed", "^245$", 15_000);
    await untilText(page, "card-delayed", "^1$");
    const okRow = page.locator('#tasks tbody tr[data-task="ok"] td');
    assert.equal(await okRow.nth(1).textContent(), "245");
    assert.equal(await page.locator("#instances tbody tr").count(), 1);
    assert.ok((await page.locator("#events li").count()) > 0, "recent activity lists task events");
    const points = await page.locator("#chart-throughput polyline").first().getAttribute("points");
    assert.ok(points && points.split(" ").length >= 3, `throughput chart has points: ${points}`);
  });

  it("lists dead letters with their errors as text, never as markup", async () => {
    await untilCount(page, "#dead-letters tbody tr", 1);
    const row = await text(page, "#dead-letters tbody tr");
    assert.ok(row.includes(`TypeError: ${XSS}`), `error shown literally: ${row}`);
    assert.equal(await page.locator("#dead-letters img").count(), 0);
    assert.equal(await page.evaluate(() => (globalThis as Browserish).__xss), undefined);
  });

  it("replays a dead letter from its button", async () => {
    await page.locator("#dead-letters tbody tr button", { hasText: "Replay" }).click();
    await untilText(page, "card-deadtotal", "^2 dead-lettered");
    await untilCount(page, "#dead-letters tbody tr", 1);
  });

  it("pauses and resumes the fleet from the header button", async () => {
    await page.locator("#pause-toggle").click();
    await untilText(page, "status", "^Paused$");
    assert.equal(await fx.queue.isPaused(), true);
    assert.equal(await page.locator("#paused-banner").isVisible(), true);
    await untilText(page, "pause-toggle", "^Resume$");
    await page.locator("#pause-toggle").click();
    await untilText(page, "status", "^Live$");
    assert.equal(await fx.queue.isPaused(), false);
  });

  it("offers no action buttons on a read-only monitor", async () => {
    const readonly = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    try {
      readonly.on("pageerror", (error) => problems.push(`read-only page error: ${error.message}`));
      await readonly.goto(`${served.url}/readonly/`);
      await untilText(readonly, "status", "^Live$");
      await untilCount(readonly, "#dead-letters tbody tr", 1);
      assert.equal(await readonly.locator("#dead-letters button").count(), 0);
      assert.equal(await readonly.locator("#pause-toggle").isVisible(), false);
    } finally {
      await readonly.close();
    }
  });

  it("ran without script errors or CSP violations, and a screenshot is saved", async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.evaluate(() => (globalThis as Browserish).scrollTo(0, 0));
    await page.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });
    assert.ok(existsSync(`${ARTIFACTS}/dashboard.png`));
    const csp = await page.evaluate(() => (globalThis as Browserish).__csp);
    assert.deepEqual(csp, [], "no CSP violation");
    assert.deepEqual(problems, [], "no console errors or page errors");
  });
});
