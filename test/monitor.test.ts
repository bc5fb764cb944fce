import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { createMonitor, createMonitorHandler } from "../adapters/hono/mod.ts";
import { ROUTES } from "../adapters/hono/_routes.ts";
import { DASHBOARD_SCRIPT } from "../adapters/hono/dashboard/client.ts";
import { createNonce, dashboardCsp } from "../adapters/hono/dashboard/page.ts";
import { DASHBOARD_STYLE } from "../adapters/hono/dashboard/style.ts";
import { ConfigError } from "../mod.ts";
import {
  assertShape,
  DeadLetterPageSchema,
  DeadLetterSchema,
  ErrorSchema,
  type Fixture,
  InstancesSchema,
  OverviewSchema,
  startFixture,
  TasksSchema,
  waitFor,
} from "./_monitor_fixture.ts";

async function json(res: Response): Promise<unknown> {
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return await res.json();
}

async function expectError(res: Response, status: number, code: string): Promise<void> {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${await res.clone().text()}`);
  const body = assertShape(ErrorSchema, await json(res));
  assert.equal(body.error.code, code);
  assert.doesNotMatch(body.error.message, /\n\s+at /, "no stack trace in an error message");
}

describe("monitor JSON API", () => {
  let fx: Fixture;
  let app: Hono;
  before(async () => {
    fx = await startFixture("api-test");
    app = createMonitor({ runner: fx.runner });
    await fx.dispatchOk(12);
    await fx.dispatchBoom("first failure");
    await fx.dispatchBoom("second failure");
    await fx.dispatchBoom("third <b>failure</b>");
    await waitFor(async () => {
      const o = assertShape(OverviewSchema, await json(await app.request("/api/overview")));
      return o.totals.completed === 12 && o.dead === 3 && o.totals.dead === 3 && o.instances === 1;
    }, "12 completions and 3 dead letters in the overview");
  });
  after(async () => {
    await fx.stop();
  });

  it("GET /api/overview reports counts, instances, workers and totals", async () => {
    const res = await app.request("/api/overview");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("access-control-allow-origin"), null, "no CORS by default");
    const o = assertShape(OverviewSchema, await json(res));
    assert.equal(o.queue, fx.queue.name);
    assert.equal(o.paused, false);
    assert.equal(o.waiting, 0);
    assert.equal(o.inFlight, 0);
    assert.equal(o.length, 0);
    assert.equal(o.dead, 3);
    assert.equal(o.instances, 1);
    assert.equal(o.workers, 4);
    assert.equal(o.estimatedDrainTime, 0, "an empty queue drains at once");
    assert.equal(o.longQueue, false);
    assert.equal(o.longQueueThreshold, 60_000);
    assert.deepEqual(o.totals, { completed: 12, failed: 3, retried: 0, dead: 3 });
  });

  it("GET /api/tasks gives per-task counters and timing percentiles", async () => {
    const body = assertShape(TasksSchema, await json(await app.request("/api/tasks")));
    assert.deepEqual(body.tasks.map((t) => t.name), ["boom", "ok"]);
    const ok = body.tasks.find((t) => t.name === "ok")!;
    assert.equal(ok.completed, 12);
    assert.equal(ok.failed, 0);
    assert.equal(ok.runTime.count, 12);
    assert.ok(ok.runTime.p50 !== null && ok.runTime.p95 !== null && ok.runTime.p99 !== null);
    assert.ok(ok.runTime.p50! <= ok.runTime.p95! && ok.runTime.p95! <= ok.runTime.p99!);
    assert.ok(ok.runTime.p50! >= 1, `the action sleeps 2 ms, p50 was ${ok.runTime.p50}`);
    const boom = body.tasks.find((t) => t.name === "boom")!;
    assert.equal(boom.completed, 0);
    assert.equal(boom.failed, 3);
    assert.equal(boom.dead, 3);
    assert.equal(boom.runTime.p50, null, "no completed run, no percentile");
  });

  it("GET /api/instances lists this runner", async () => {
    const body = assertShape(InstancesSchema, await json(await app.request("/api/instances")));
    assert.equal(body.instances.length, 1);
    assert.equal(body.instances[0].workers, 4);
  });

  it("GET /api/dead-letters pages with a cursor and hides payloads by default", async () => {
    const first = assertShape(DeadLetterPageSchema, await json(await app.request("/api/dead-letters?limit=2")));
    assert.equal(first.limit, 2);
    assert.equal(first.items.length, 2);
    assert.notEqual(first.nextCursor, null);
    const second = assertShape(
      DeadLetterPageSchema,
      await json(await app.request(`/api/dead-letters?limit=2&cursor=${encodeURIComponent(first.nextCursor!)}`)),
    );
    assert.equal(second.items.length, 1);
    assert.equal(second.nextCursor, null);
    const all = [...first.items, ...second.items];
    assert.deepEqual(all.map((d) => d.error.message), ["first failure", "second failure", "third <b>failure</b>"]);
    for (const d of all) {
      assert.equal(d.name, "boom");
      assert.equal(d.reason, "max-retries");
      assert.equal(d.error.name, "TypeError");
      assert.equal(d.body, null, "payload hidden");
      assert.equal(d.error.stack, undefined, "stack hidden");
      assert.ok(d.bodyBytes > 0);
    }
    const page = assertShape(DeadLetterPageSchema, await json(await app.request("/api/dead-letters")));
    assert.equal(page.limit, 20, "default page size");
  });

  it("GET /api/dead-letters/:id returns one dead letter, 404 for an unknown id", async () => {
    const page = assertShape(DeadLetterPageSchema, await json(await app.request("/api/dead-letters")));
    const id = page.items[0].deadLetterId;
    const one = assertShape(DeadLetterSchema, await json(await app.request(`/api/dead-letters/${id}`)));
    assert.equal(one.deadLetterId, id);
    assert.equal(one.error.message, "first failure");
    await expectError(await app.request("/api/dead-letters/999999"), 404, "not_found");
  });

  it("shows payloads and stacks only with showPayloads: true", async () => {
    const open = createMonitor({ runner: fx.runner, showPayloads: true });
    const page = assertShape(DeadLetterPageSchema, await json(await open.request("/api/dead-letters")));
    assert.deepEqual(JSON.parse(page.items[0].body!), { message: "first failure" });
    assert.equal(page.items[0].bodyBytes, new TextEncoder().encode(page.items[0].body!).length);
    assert.match(page.items[0].error.stack ?? "", /TypeError: first failure/);
  });

  it("rejects bad parameters with a 4xx JSON error", async () => {
    for (const query of ["limit=0", "limit=-1", "limit=101", "limit=1e2", "limit=abc", "limit=", "limit=1&limit=2"]) {
      await expectError(await app.request(`/api/dead-letters?${query}`), 400, "bad_request");
    }
    await expectError(await app.request(`/api/dead-letters?cursor=${"9".repeat(300)}`), 400, "bad_request");
    await expectError(await app.request("/api/dead-letters?cursor=%3Cscript%3E"), 400, "bad_request");
    await expectError(await app.request(`/api/dead-letters/${"x".repeat(200)}`), 400, "bad_request");
    await expectError(await app.request("/api/dead-letters/a%20b"), 400, "bad_request");
    await expectError(await app.request("/api/nothing-here"), 404, "not_found");
    await expectError(await app.request("/api/overview", { method: "POST" }), 405, "method_not_allowed");
  });

  it("answers other methods on its paths with 405 and Allow, and anything else under them with 404", async () => {
    for (const path of ["/", "/api/overview", "/api/tasks", "/api/instances", "/api/dead-letters", "/api/dead-letters/x", "/metrics", "/events"]) {
      for (const method of ["POST", "PUT", "PATCH", ...(path === "/api/dead-letters/x" ? [] : ["DELETE"])]) {
        const res = await app.request(path, { method });
        assert.equal(res.headers.get("allow"), "GET, HEAD", `${method} ${path}`);
        await expectError(res, 405, "method_not_allowed");
      }
    }
    for (const [method, path] of [["GET", "/api"], ["GET", "/metrics/x"], ["POST", "/events/x"], ["DELETE", "/api/dead-letters/x"], ["PUT", "/api/pause"]]) {
      const res = await app.request(path, { method });
      assert.equal(res.headers.get("allow"), null, `${method} ${path}`);
      await expectError(res, 404, "not_found");
    }
  });

  it("has no action routes unless actions are enabled", async () => {
    const page = assertShape(DeadLetterPageSchema, await json(await app.request("/api/dead-letters")));
    const id = page.items[0].deadLetterId;
    const headers = { "content-type": "application/json" };
    await expectError(await app.request(`/api/dead-letters/${id}/replay`, { method: "POST", headers }), 404, "not_found");
    await expectError(await app.request(`/api/dead-letters/${id}`, { method: "DELETE", headers }), 404, "not_found");
    await expectError(await app.request("/api/pause", { method: "POST", headers }), 404, "not_found");
    await expectError(await app.request("/api/resume", { method: "POST", headers }), 404, "not_found");
    assert.equal(assertShape(DeadLetterPageSchema, await json(await app.request("/api/dead-letters"))).items.length, 3);
  });

  it("works mounted under a prefix and as a plain fetch handler", async () => {
    const host = new Hono();
    host.route("/tasks", createMonitor({ runner: fx.runner }));
    host.get("/", (c) => c.text("host home"));
    const mounted = assertShape(OverviewSchema, await json(await host.request("/tasks/api/overview")));
    assert.equal(mounted.dead, 3);
    assert.equal(await (await host.request("/")).text(), "host home");
    for (const path of ["/tasks", "/tasks/"]) {
      const page = await host.request(path);
      assert.equal(page.status, 200, `dashboard at ${path}`);
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    }
    await expectError(await host.request("/tasks/api/nope"), 404, "not_found");

    const handler = createMonitorHandler({ runner: fx.runner, basePath: "/ops/tasks/" });
    const res = await handler(new Request("http://localhost/ops/tasks/api/overview"));
    assert.equal(assertShape(OverviewSchema, await json(res)).dead, 3);
    await expectError(await handler(new Request("http://localhost/api/overview")), 404, "not_found");
    assert.equal((await handler(new Request("http://localhost/ops/tasks/"))).status, 200);
    const root = createMonitorHandler({ runner: fx.runner });
    assert.equal((await root(new Request("http://localhost/api/tasks"))).status, 200);
  });

  it("refuses invalid options with a message naming the option and the value", () => {
    assert.throws(() => createMonitor({ runner: fx.runner, sseInterval: 0 }), /'sseInterval' must be .*got 0/);
    assert.throws(() => createMonitor({ runner: fx.runner, sseInterval: 1.5 }), /'sseInterval'.*got 1\.5/);
    assert.throws(() => createMonitor({ runner: fx.runner, actions: true }), /'actions' is true but no 'authorize'/);
    assert.throws(() => createMonitor({ runner: fx.runner, maxStreams: -1 }), /'maxStreams' must be an integer from 1 to 100000, got -1/);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => createMonitor({ runner: fx.runner, authorize: "yes" as any }), /'authorize' must be a function, got "yes"/);
    assert.throws(() => createMonitorHandler({ runner: fx.runner, basePath: "tasks" }), /'basePath' must be a path starting with "\/", got "tasks"/);
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => createMonitor({ runner: fx.runner, actions: "yes" as any }),
      /'actions' must be a boolean, got "yes"/,
    );
    // deno-lint-ignore no-explicit-any
    assert.throws(() => createMonitor({ runner: {} as any }), /'runner' must be a TaskRunner/);
    assert.throws(
      () => createMonitor({ runner: fx.runner, cors: { origin: "*", credentials: true } }),
      /'cors' must be .*not '\*' with credentials.*got \{"origin":"\*","credentials":true\}/,
    );

  });

  it("refuses invalid options with a ConfigError carrying the option's path", () => {
    const refused = (make: () => unknown, path: string, message: RegExp) =>
      assert.throws(make, (error: unknown) => {
        assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
        assert.equal(error.name, "ConfigError");
        assert.match(error.message, /^Cannot create monitor: /);
        assert.match(error.message, message);
        assert.equal(error.issues[0]?.path, path);
        return true;
      });
    refused(() => createMonitor({ runner: fx.runner, maxStreams: -1 }), "maxStreams", /'maxStreams' must be an integer from 1 to 100000, got -1$/);
    refused(() => createMonitor({ runner: fx.runner, actions: true }), "authorize", /'actions' is true but no 'authorize'/);
    // deno-lint-ignore no-explicit-any
    refused(() => createMonitor({} as any), "runner", /'runner' must be a TaskRunner .*, got undefined$/);
    // deno-lint-ignore no-explicit-any
    refused(() => createMonitor({ runner: fx.runner, onError: 1 as any }), "onError", /'onError' must be a function, got 1$/);
    refused(() => createMonitorHandler({ runner: fx.runner, basePath: "tasks" }), "basePath", /'basePath' must be a path/);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => createMonitor(null as any), (error: unknown) =>
      error instanceof ConfigError && /options must be an object, got null$/.test(error.message));
  });
});

describe("monitor actions", () => {
  let fx: Fixture;
  before(async () => {
    fx = await startFixture("actions-test");
    for (const m of ["a", "b", "c", "d"]) await fx.dispatchBoom(`fail ${m}`);
    await waitFor(async () => (await fx.queue.counts("monitor")).dead === 4, "4 dead letters");
  });
  after(async () => {
    await fx.stop();
  });

  const jsonHeaders = { "content-type": "application/json" };

  async function deadIds(app: Hono): Promise<string[]> {
    const page = assertShape(DeadLetterPageSchema, await json(await app.request("/api/dead-letters")));
    return page.items.map((d) => d.deadLetterId);
  }

  it("answers 403 when authorize refuses, and changes nothing", async () => {
    const seen: string[] = [];
    const app = createMonitor({
      runner: fx.runner,
      actions: true,
      authorize: (c) => {
        seen.push(c.req.path);
        return c.req.header("authorization") === "Bearer ops";
      },
    });
    const [id] = await deadIds(app);
    await expectError(await app.request(`/api/dead-letters/${id}`, { method: "DELETE", headers: jsonHeaders }), 403, "forbidden");
    await expectError(await app.request("/api/pause", { method: "POST", headers: jsonHeaders }), 403, "forbidden");
    assert.deepEqual(seen, [`/api/dead-letters/${id}`, "/api/pause"]);
    assert.equal((await deadIds(app)).length, 4);
    assert.equal(await fx.queue.isPaused(), false);
  });

  it("denies when the authorize hook throws, and reports the error", async () => {
    const reported: unknown[] = [];
    const app = createMonitor({
      runner: fx.runner,
      actions: true,
      authorize: () => {
        throw new Error("session store down");
      },
      onError: (e) => reported.push(e),
    });
    await expectError(await app.request("/api/pause", { method: "POST", headers: jsonHeaders }), 403, "forbidden");
    assert.equal((reported[0] as Error).message, "session store down");
    assert.equal(await fx.queue.isPaused(), false);
  });

  it("refuses browser-style cross-site requests (CSRF)", async () => {
    const app = createMonitor({ runner: fx.runner, actions: true, authorize: () => true });
    const [id] = await deadIds(app);
    const form = { "content-type": "application/x-www-form-urlencoded" };
    await expectError(await app.request(`/api/dead-letters/${id}`, { method: "DELETE", headers: form }), 403, "csrf_rejected");
    await expectError(await app.request("/api/pause", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }), 403, "csrf_rejected");
    await expectError(
      await app.request("http://monitor.local/api/pause", {
        method: "POST",
        headers: { ...jsonHeaders, origin: "https://evil.example", host: "monitor.local" },
      }),
      403,
      "csrf_rejected",
    );
    await expectError(
      await app.request("/api/pause", { method: "POST", headers: { "x-taskrunner-action": "1", "sec-fetch-site": "cross-site" } }),
      403,
      "csrf_rejected",
    );
    assert.equal((await deadIds(app)).length, 4);
    assert.equal(await fx.queue.isPaused(), false);
  });

  it("replays and deletes dead letters, pauses and resumes, when authorized", async () => {
    const app = createMonitor({ runner: fx.runner, actions: true, authorize: (c) => c.req.header("authorization") === "Bearer ops" });
    const auth = { ...jsonHeaders, authorization: "Bearer ops" };
    const [first, second] = await deadIds(app);

    const del = await app.request(`/api/dead-letters/${first}`, { method: "DELETE", headers: auth });
    assert.equal(del.status, 200);
    assert.deepEqual(await json(del), { deleted: true, deadLetterId: first });
    await expectError(await app.request(`/api/dead-letters/${first}`), 404, "not_found");
    await expectError(await app.request(`/api/dead-letters/${first}`, { method: "DELETE", headers: auth }), 404, "not_found");

    // Same-origin browser request with the custom header and no JSON body.
    const replay = await app.request(`http://monitor.local/api/dead-letters/${second}/replay`, {
      method: "POST",
      headers: { authorization: "Bearer ops", "x-taskrunner-action": "1", origin: "http://monitor.local", host: "monitor.local" },
    });
    assert.equal(replay.status, 200);
    assert.deepEqual(await json(replay), { replayed: true, deadLetterId: second });
    // The replayed task runs again, fails again and comes back as a new dead letter.
    await waitFor(async () => {
      const ids = await deadIds(app);
      return ids.length === 3 && !ids.includes(second) && !ids.includes(first);
    }, "the replayed task to be dead-lettered again");
    await expectError(await app.request(`/api/dead-letters/${second}/replay`, { method: "POST", headers: auth }), 404, "not_found");

    const pause = await app.request("/api/pause", { method: "POST", headers: auth });
    assert.deepEqual(await json(pause), { paused: true });
    assert.equal(await fx.queue.isPaused(), true);
    const o = await waitFor(async () => {
      const o = assertShape(OverviewSchema, await json(await app.request("/api/overview")));
      return o.paused ? o : null;
    }, "the overview to show paused");
    assert.equal(o.paused, true);
    const resume = await app.request("/api/resume", { method: "POST", headers: auth });
    assert.deepEqual(await json(resume), { paused: false });
    assert.equal(await fx.queue.isPaused(), false);
  });

  it("sends CORS headers only for configured origins", async () => {
    const app = createMonitor({ runner: fx.runner, cors: { origin: "https://ops.example" } });
    const ok = await app.request("/api/overview", { headers: { origin: "https://ops.example" } });
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://ops.example");
    const other = await app.request("/api/overview", { headers: { origin: "https://evil.example" } });
    assert.notEqual(other.headers.get("access-control-allow-origin"), "https://evil.example");
    assert.notEqual(other.headers.get("access-control-allow-origin"), "*");
    const preflight = await app.request("/api/pause", {
      method: "OPTIONS",
      headers: { origin: "https://ops.example", "access-control-request-method": "POST" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://ops.example");
  });
});

describe("monitor when the queue cannot be read", () => {
  it("answers 503 unavailable in JSON, without details, and reports the error to onError", async () => {
    const fx = await startFixture("closed-test");
    const reported: unknown[] = [];
    const app = createMonitor({ runner: fx.runner, onError: (e) => reported.push(e), cacheTime: 0 });
    await fx.stop(); // closes the queue: every read now fails
    for (const path of ["/api/overview", "/api/tasks", "/metrics", "/api/dead-letters", "/api/dead-letters/1"]) {
      await expectError(await app.request(path), 503, "unavailable");
    }
    assert.ok(reported.length >= 5, `onError saw ${reported.length} errors`);
    assert.ok(reported.every((e) => e instanceof Error));
  });
});

describe("dashboard page", () => {
  it("escapes the queue name and sends a nonce-based CSP that changes per response", async () => {
    const evil = `</title><script>alert(1)</script>"'&`;
    const fx = await startFixture(evil);
    try {
      const app = createMonitor({ runner: fx.runner });
      const res = await app.request("/");
      assert.equal(res.status, 200);
      const html = await res.text();
      assert.ok(!html.includes("<script>alert(1)</script>"), "queue name not inserted as markup");
      assert.ok(html.includes("&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
      const csp = res.headers.get("content-security-policy") ?? "";
      const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
      assert.ok(nonce, csp);
      // Every script and style element carries the nonce; no inline handlers or style attributes.
      const count = (needle: string) => html.split(needle).length - 1;
      assert.equal(count("<script"), 1);
      assert.equal(count(`<script nonce="${nonce}">`), 1);
      assert.equal(count("<style"), 1);
      assert.equal(count(`<style nonce="${nonce}">`), 1);
      assert.doesNotMatch(html, /\son[a-z]+=|\sstyle=/i);
      const again = (await app.request("/")).headers.get("content-security-policy");
      assert.notEqual(again, csp, "a fresh nonce per response");
      assert.equal(res.headers.get("x-frame-options"), "DENY");
    } finally {
      await fx.stop();
    }
  });
});

describe("dashboard script and style", () => {
  it("the script is one function the JavaScript parser accepts, run at once", () => {
    assert.doesNotThrow(() => new Function(DASHBOARD_SCRIPT));
    assert.match(DASHBOARD_SCRIPT.trim(), /^\(function \(\) \{\n\s+"use strict";[\s\S]*\}\)\(\);$/);
    assert.throws(() => new Function(DASHBOARD_SCRIPT + "}"), SyntaxError, "the check can fail");
  });

  it("neither inline block can end its element early", () => {
    assert.doesNotMatch(DASHBOARD_SCRIPT, /<\/script|<!--/i);
    assert.doesNotMatch(DASHBOARD_STYLE, /<\/style|<!--/i);
  });

  it("nonces are 16 random bytes in base64, different each time", () => {
    const nonces = new Set(Array.from({ length: 50 }, () => createNonce()));
    assert.equal(nonces.size, 50);
    for (const nonce of nonces) assert.match(nonce, /^[A-Za-z0-9+/]{22}==$/);
    assert.match(dashboardCsp("n0nce"), /script-src 'nonce-n0nce'; style-src 'nonce-n0nce'/);
  });
});

describe("monitor route table", () => {
  /** The module doc's route table, from the source (the test may run from a compiled copy). */
  function documentedRoutes(): { route: string; action: boolean }[] {
    const file = [
      resolve(dirname(fileURLToPath(import.meta.url)), "../adapters/hono/mod.ts"),
      resolve(process.cwd(), "adapters/hono/mod.ts"),
    ].find((f) => existsSync(f));
    assert.ok(file !== undefined, "adapters/hono/mod.ts is found");
    const rows = readFileSync(file, "utf8").split("\n").filter((line) => /^ \* \| `[A-Z]+ \//.test(line));
    return rows.flatMap((line) => {
      const [first, what] = line.replace(/^ \* \|/, "").split("|").map((cell) => cell.trim());
      return [...first.matchAll(/`([A-Z]+ \/[^`?]*)(?:\?[^`]*)?`/g)].map((m) => ({
        route: m[1],
        action: what.startsWith("action:"),
      }));
    });
  }

  it("is the route table of the module doc, actions included", () => {
    const documented = documentedRoutes();
    assert.ok(documented.length >= 10, `the doc table is read: ${JSON.stringify(documented)}`);
    const byName = (a: { route: string }, b: { route: string }) => a.route.localeCompare(b.route);
    assert.deepEqual(
      ROUTES.map((r) => ({ route: `${r.method} ${r.path}`, action: r.action })).sort(byName),
      documented.sort(byName),
    );
  });
});
