import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Hono } from "hono";
import { createMonitor } from "../adapters/hono/mod.ts";
import { assertShape, ErrorSchema, type Fixture, startFixture, waitFor } from "./_monitor_fixture.ts";

const SEGMENTS = [
  "api",
  "overview",
  "tasks",
  "instances",
  "dead-letters",
  "replay",
  "pause",
  "resume",
  "metrics",
  "events",
  "..",
  ".",
  "",
  "%",
  "%zz",
  "%E0%A4%A",
  "%00",
  "%2F",
  "%3Cscript%3E",
  "1",
  "-1",
  "0",
  "99999999999999999999999",
  "1e309",
  "NaN",
  "constructor",
  "__proto__",
];

const NUMBERISH = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map(String),
  fc.constantFrom("", "0", "-0", "1.5", "1e2", "0x10", "Infinity", "NaN", "99999999999999999999", " 5", "5 ", "+5", "٣"),
  fc.string({ maxLength: 12 }),
);

const TEXTISH = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ minLength: 200, maxLength: 2000 }),
  fc.constantFrom("0", "1", "-1", "null", "undefined", "[object Object]", "*", "{a}", "a:b", "../../etc/passwd"),
);

const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SEGMENTS) },
  { weight: 1, arbitrary: TEXTISH.map((s) => encodeURIComponent(s)) },
);

const query = fc.array(
  fc.tuple(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("limit", "cursor") },
      { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
    ),
    fc.oneof(NUMBERISH, TEXTISH, fc.stringMatching(/^[A-Za-z0-9._:~+/=-]{1,24}$/)),
  ),
  { maxLength: 3 },
).map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&"));

/** Route templates: `:dead` is a real dead-letter id, `:seg` a random segment. */
const ROUTES = [
  "/",
  "/metrics",
  "/events",
  "/api/overview",
  "/api/tasks",
  "/api/instances",
  "/api/dead-letters",
  "/api/dead-letters/:dead",
  "/api/dead-letters/:dead/replay",
  "/api/dead-letters/:seg",
  "/api/dead-letters/:seg/replay",
  "/api/pause",
  "/api/resume",
  "/api/:seg",
];

const ANY_METHOD = fc.constantFrom("GET", "HEAD", "POST", "DELETE", "PUT", "PATCH", "OPTIONS");

function requests(methods: fc.Arbitrary<string>, routes: readonly string[]) {
  return fc.record({
  method: methods,
  route: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...routes) }, { weight: 1, arbitrary: fc.constant(null) }),
  segments: fc.array(segment, { minLength: 1, maxLength: 5 }),
  tail: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: segment }),
  query,
  contentType: fc.constantFrom(undefined, "application/json", "text/plain", "application/x-www-form-urlencoded"),
  marker: fc.boolean(),
  origin: fc.constantFrom(undefined, "null", "http://localhost", "https://evil.example", "not a url"),
  body: fc.option(fc.string({ maxLength: 64 }), { nil: undefined }),
  });
}

const request = requests(ANY_METHOD, ROUTES);
const readRequest = requests(fc.constantFrom("GET", "HEAD"), ["/api/dead-letters", "/api/dead-letters/:seg", "/api/dead-letters/:dead", "/metrics", "/api/overview"]);
const actionRequest = requests(fc.constantFrom("POST", "DELETE"), ["/api/dead-letters/:dead", "/api/dead-letters/:dead/replay", "/api/dead-letters/:seg", "/api/dead-letters/:seg/replay", "/api/pause", "/api/resume"]);

/** A known route (with a random segment or tail), or random segments. */
function pathOf(r: RandomRequest, deadIds: string[]): string {
  if (r.route === null) return "/" + r.segments.join("/");
  const dead = deadIds[r.segments[0].length % Math.max(1, deadIds.length)] ?? "1";
  const path = r.route.replace(":dead", dead).replace(":seg", r.segments[0]);
  return r.tail === undefined ? path : `${path.replace(/\/$/, "")}/${r.tail}`;
}

type RandomRequest = typeof request extends fc.Arbitrary<infer T> ? T : never;

async function check(app: Hono, r: RandomRequest, deadIds: string[]): Promise<void> {
  const path = pathOf(r, deadIds) + (r.query ? `?${r.query}` : "");
  const headers: Record<string, string> = {};
  if (r.contentType) headers["content-type"] = r.contentType;
  if (r.marker) headers["x-taskrunner-action"] = "1";
  if (r.origin) headers.origin = r.origin;
  const init: RequestInit = { method: r.method, headers };
  if (r.body !== undefined && r.method !== "GET" && r.method !== "HEAD") init.body = r.body;
  const res = await app.request(path, init);
  const type = res.headers.get("content-type") ?? "";
  if (type.startsWith("text/event-stream")) {
    await res.body?.cancel();
    assert.equal(res.status, 200);
    return;
  }
  const text = await res.text();
  assert.ok(res.status < 500, `${r.method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  assert.doesNotMatch(text, /\n\s+at .*\(?.*:\d+:\d+\)?/, `${r.method} ${path} leaked a stack trace`);
  if (res.status >= 400 && r.method !== "HEAD") {
    assert.match(type, /^application\/json/, `${r.method} ${path} error is JSON`);
    assertShape(ErrorSchema, JSON.parse(text));
  }
}

describe("monitor under random requests (fast-check)", () => {
  let fx: Fixture;
  let deadIds: string[] = [];
  before(async () => {
    fx = await startFixture("fuzz-test");
    await fx.dispatchOk(3);
    for (let i = 0; i < 6; i++) await fx.dispatchBoom(`fuzz ${i}`);
    await waitFor(async () => (await fx.queue.counts("monitor")).dead === 6, "6 dead letters");
    deadIds = (await fx.queue.listDeadLetters({ limit: 100 })).items.map((d) => d.deadLetterId);
  });
  after(async () => {
    await fx.stop();
  });

  it("never answers 5xx or a stack trace on the read-only monitor, and errors are JSON", async () => {
    const app = createMonitor({ runner: fx.runner, sseInterval: 1000 });
    await fc.assert(fc.asyncProperty(request, (r) => check(app, r, deadIds)), { numRuns: 300 });
    await fc.assert(fc.asyncProperty(readRequest, (r) => check(app, r, deadIds)), { numRuns: 500 });
  });

  it("never answers 5xx or a stack trace with actions enabled", async () => {
    const app = createMonitor({
      runner: fx.runner,
      actions: true,
      authorize: (c) => c.req.header("origin") !== "https://evil.example",
      showPayloads: true,
      sseInterval: 1000,
    });
    await fc.assert(fc.asyncProperty(request, (r) => check(app, r, deadIds)), { numRuns: 300 });
    await fc.assert(fc.asyncProperty(actionRequest, (r) => check(app, r, deadIds)), { numRuns: 300 });
    await fx.runner.queue.setPaused(false);
  });
});
