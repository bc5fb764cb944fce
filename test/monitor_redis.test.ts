/**
 * The monitor on the Redis transport (a private redis-server): the same
 * documented shapes, valid Prometheus output, and ids or cursors that Redis
 * cannot parse answered with 4xx, never 5xx.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Hono } from "hono";
import { RedisStreamQueue } from "../adapters/redis/mod.ts";
import { createMonitor } from "../adapters/hono/mod.ts";
import { type RedisServer, startRedis } from "./_redis.ts";
import {
  assertShape,
  DeadLetterPageSchema,
  DeadLetterSchema,
  ErrorSchema,
  type Fixture,
  OverviewSchema,
  startFixture,
  TasksSchema,
  waitFor,
} from "./_monitor_fixture.ts";

describe("monitor on RedisStreamQueue", () => {
  let redis: RedisServer;
  let fx: Fixture;
  let app: Hono;
  before(async () => {
    redis = await startRedis();
    const queue = await RedisStreamQueue.connect(redis.url, { prefix: "mon", queue: "redis-monitor" });
    fx = await startFixture("redis-monitor", queue);
    app = createMonitor({ runner: fx.runner, actions: true, authorize: () => true });
    await fx.dispatchOk(20);
    await fx.dispatchBoom("redis failure one");
    await fx.dispatchBoom("redis failure two");
    await waitFor(async () => {
      const o = assertShape(OverviewSchema, await (await app.request("/api/overview")).json());
      // The dead-letter store shows a letter as soon as Redis wrote it; the runner counts it once the
      // call returned, so both are awaited.
      return o.totals.completed === 20 && o.totals.dead === 2 && o.dead === 2 && o.instances === 1;
    }, "20 completions and 2 dead letters on Redis", 10_000);
  });
  after(async () => {
    await fx?.stop();
    await redis?.stop();
  });

  it("reports the overview, tasks and dead letters in the documented shapes", async () => {
    const o = assertShape(OverviewSchema, await (await app.request("/api/overview")).json());
    assert.equal(o.queue, "redis:{mon:redis-monitor}");
    assert.deepEqual(o.totals, { completed: 20, failed: 2, retried: 0, dead: 2 });
    const tasks = assertShape(TasksSchema, await (await app.request("/api/tasks")).json());
    assert.equal(tasks.tasks.find((t) => t.name === "ok")?.completed, 20);
    const first = assertShape(DeadLetterPageSchema, await (await app.request("/api/dead-letters?limit=1")).json());
    assert.equal(first.items.length, 1);
    assert.notEqual(first.nextCursor, null);
    const second = assertShape(
      DeadLetterPageSchema,
      await (await app.request(`/api/dead-letters?limit=1&cursor=${encodeURIComponent(first.nextCursor!)}`)).json(),
    );
    assert.deepEqual([...first.items, ...second.items].map((d) => d.error.message), [
      "redis failure one",
      "redis failure two",
    ]);
    const one = assertShape(
      DeadLetterSchema,
      await (await app.request(`/api/dead-letters/${encodeURIComponent(first.items[0].deadLetterId)}`)).json(),
    );
    assert.equal(one.body, null);
  });

  it("serves /metrics with the fleet-wide counts kept in Redis", async () => {
    const res = await app.request("/metrics");
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^taskrunner_tasks_completed_total\{queue="redis:\{mon:redis-monitor\}",task="ok"\} 20$/m);
    assert.match(text, /^taskrunner_queue_tasks\{queue="redis:\{mon:redis-monitor\}",state="dead"\} 2$/m);
    assert.ok(text.endsWith("\n"));
  });

  it("answers ids and cursors Redis cannot parse with 4xx", async () => {
    for (const id of ["99999999999999999999-0", "abc", "1-x", "0-0", "-1"]) {
      const res = await app.request(`/api/dead-letters/${id}`);
      assert.ok(res.status === 404 || res.status === 400, `GET ${id}: ${res.status}`);
      assertShape(ErrorSchema, await res.json());
      const del = await app.request(`/api/dead-letters/${id}`, { method: "DELETE", headers: { "content-type": "application/json" } });
      assert.ok(del.status === 404 || del.status === 400, `DELETE ${id}: ${del.status}`);
    }
    for (const cursor of ["abc", "99999999999999999999-0", "1-x", "x:y"]) {
      const res = await app.request(`/api/dead-letters?cursor=${cursor}`);
      assert.ok(res.status === 400 || res.status === 200, `cursor ${cursor}: ${res.status}`);
    }
  });

  it("never answers 5xx to random ids and cursors (fast-check)", async () => {
    const token = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/),
      fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 70n }), fc.bigInt({ min: 0n, max: 2n ** 70n })).map(([a, b]) => `${a}-${b}`),
      fc.string({ maxLength: 30 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET item", "GET list", "DELETE item", "POST replay"),
        token,
        async (kind, value) => {
          const v = encodeURIComponent(value);
          const headers = { "content-type": "application/json" };
          const res = kind === "GET item"
            ? await app.request(`/api/dead-letters/${v}`)
            : kind === "GET list"
            ? await app.request(`/api/dead-letters?cursor=${v}&limit=5`)
            : kind === "DELETE item"
            ? await app.request(`/api/dead-letters/${v}`, { method: "DELETE", headers })
            : await app.request(`/api/dead-letters/${v}/replay`, { method: "POST", headers });
          const body = await res.text();
          assert.ok(res.status < 500, `${kind} ${JSON.stringify(value)} answered ${res.status}: ${body}`);
          if (res.status >= 400) assertShape(ErrorSchema, JSON.parse(body));
        },
      ),
      { numRuns: 150 },
    );
    // Nothing real was deleted by the random ids.
    const page = assertShape(DeadLetterPageSchema, await (await app.request("/api/dead-letters")).json());
    assert.equal(page.items.length, 2);
  });
});
