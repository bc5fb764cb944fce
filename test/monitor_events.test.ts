import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createMonitor, type MonitoredRunner } from "../adapters/hono/mod.ts";
import {
  assertShape,
  ErrorSchema,
  type Fixture,
  serveOnLoopback,
  SseReader,
  startFixture,
  StatsEventSchema,
  TaskEventBatchSchema,
  waitFor,
} from "./_monitor_fixture.ts";

/**
 * The real runner, seen through the monitor's runner interface with its
 * listeners and statistics reads counted, so the test can tell whether the
 * monitor let go of everything.
 */
function counted(runner: MonitoredRunner): { runner: MonitoredRunner; listeners: () => number; reads: () => number } {
  let listeners = 0;
  let reads = 0;
  return {
    listeners: () => listeners,
    reads: () => reads,
    runner: {
      queue: runner.queue,
      stats: () => {
        reads++;
        return runner.stats();
      },
      on: (event, listener) => {
        const off = runner.on(event, listener);
        listeners++;
        let removed = false;
        return () => {
          if (!removed) listeners--;
          removed = true;
          off();
        };
      },
    },
  };
}

describe("GET /events", () => {
  let fx: Fixture;
  before(async () => {
    fx = await startFixture("events-test");
  });
  after(async () => {
    await fx.stop();
  });

  it("pushes stats every interval and task events as they happen", async () => {
    const app = createMonitor({ runner: fx.runner, sseInterval: 60 });
    const ac = new AbortController();
    const res = await app.request("/events", { signal: ac.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const sse = new SseReader(res.body!);
    try {
      const first = assertShape(StatsEventSchema, JSON.parse((await sse.nextOf("stats")).data));
      const startCompleted = first.overview.totals.completed;
      // Over 900 ms at a 60 ms interval: about 15 pushes; a slow read may skip
      // a tick, but the stream neither stalls nor floods.
      const t0 = Date.now();
      let pushes = 0;
      while (Date.now() - t0 < 900) {
        assertShape(StatsEventSchema, JSON.parse((await sse.nextOf("stats")).data));
        pushes++;
      }
      assert.ok(pushes >= 4 && pushes <= 20, `about 15 stats events in 900 ms, got ${pushes}`);

      const ids = await fx.dispatchOk(5);
      const boomId = await fx.dispatchBoom("went <wrong>");
      const seen = new Map<string, Set<string>>();
      await waitFor(async () => {
        const batch = assertShape(TaskEventBatchSchema, JSON.parse((await sse.nextOf("tasks")).data));
        for (const e of batch.events) {
          if (!seen.has(e.id)) seen.set(e.id, new Set());
          seen.get(e.id)!.add(e.type);
          if (e.type === "completed") {
            assert.equal(e.name, "ok");
            assert.ok(e.duration === null || e.duration >= 0);
          }
          if (e.type === "failed" || e.type === "dead") {
            assert.equal(e.name, "boom");
            assert.deepEqual(e.error, { name: "TypeError", message: "went <wrong>" });
          }
        }
        return ids.every((id) => seen.get(id)?.has("completed")) && seen.get(boomId)?.has("dead") &&
          seen.get(boomId)?.has("failed");
      }, "completed events for 5 tasks and failed + dead for one");

      const later = await waitFor(async () => {
        const s = assertShape(StatsEventSchema, JSON.parse((await sse.nextOf("stats")).data));
        return s.overview.totals.completed >= startCompleted + 5 && s.overview.totals.dead >= 1 ? s : null;
      }, "stats to count the completions");
      assert.equal(later.overview.totals.completed, startCompleted + 5);
      assert.deepEqual(later.tasks.map((t) => t.name), ["boom", "ok"]);
    } finally {
      ac.abort();
      await sse.cancel();
    }
  });

  it("removes every listener and stops reading stats when the client goes away", async () => {
    const probe = counted(fx.runner);
    const app = createMonitor({ runner: probe.runner, sseInterval: 50, cacheTime: 0 });
    assert.equal(probe.listeners(), 0, "nothing subscribed before a client connects");

    const ac = new AbortController();
    const sse = new SseReader((await app.request("/events", { signal: ac.signal })).body!);
    await sse.nextOf("stats");
    await sse.nextOf("stats");
    assert.equal(probe.listeners(), 4, "completed, failed, dead, reclaimed");

    // A second client shares the same listeners.
    const ac2 = new AbortController();
    const sse2 = new SseReader((await app.request("/events", { signal: ac2.signal })).body!);
    await sse2.nextOf("stats");
    assert.equal(probe.listeners(), 4);

    ac.abort();
    await sse.cancel();
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(probe.listeners(), 4, "the other client still listens");
    await sse2.nextOf("stats");

    ac2.abort();
    await sse2.cancel();
    await waitFor(() => probe.listeners() === 0, "all listeners removed", 2000);
    const readsAfterClose = probe.reads();
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(probe.reads(), readsAfterClose, "no timer keeps reading after the last client left");
  });

  it("lets go when the client only cancels the body (no abort signal)", async () => {
    const probe = counted(fx.runner);
    const app = createMonitor({ runner: probe.runner, sseInterval: 50 });
    const sse = new SseReader((await app.request("/events")).body!);
    await sse.nextOf("stats");
    assert.equal(probe.listeners(), 4);
    await sse.cancel();
    await waitFor(() => probe.listeners() === 0, "all listeners removed after cancel", 2000);
  });

  it("lets go when a real client disconnects from the runtime's own server", async () => {
    const probe = counted(fx.runner);
    const app = createMonitor({ runner: probe.runner, sseInterval: 1000, cacheTime: 0 });
    const served = await serveOnLoopback(app.fetch);
    try {
      const ac = new AbortController();
      const res = await fetch(`${served.url}/events`, { signal: ac.signal });
      const sse = new SseReader(res.body!);
      await sse.nextOf("stats");
      assert.equal(probe.listeners(), 4);
      ac.abort(); // closes the TCP connection
      await sse.cancel();
      await waitFor(() => probe.listeners() === 0, `listeners removed after disconnect (${served.runtime})`, 3000);
      const reads = probe.reads();
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(probe.reads(), reads, "no timer left reading stats");
    } finally {
      await served.close();
    }
  });

  it("sends 'unavailable' instead of stats while the queue cannot be read", async () => {
    const own = await startFixture("events-unavailable");
    const reported: unknown[] = [];
    const app = createMonitor({ runner: own.runner, sseInterval: 50, cacheTime: 0, onError: (e) => reported.push(e) });
    const sse = new SseReader((await app.request("/events")).body!);
    try {
      await sse.nextOf("stats");
      await own.stop(); // closes the queue
      const frame = await sse.nextOf("unavailable");
      assert.equal(assertShape(ErrorSchema, JSON.parse(frame.data)).error.code, "unavailable");
      assert.ok(reported.length > 0 && reported.every((e) => e instanceof Error));
    } finally {
      await sse.cancel();
    }
  });

  it("refuses streams beyond maxStreams with 503", async () => {
    const app = createMonitor({ runner: fx.runner, sseInterval: 50, maxStreams: 1 });
    const ac = new AbortController();
    const sse = new SseReader((await app.request("/events", { signal: ac.signal })).body!);
    await sse.nextOf("stats");
    const refused = await app.request("/events");
    assert.equal(refused.status, 503);
    assert.equal(assertShape(ErrorSchema, await refused.json()).error.code, "unavailable");
    ac.abort();
    await sse.cancel();
    await waitFor(async () => {
      const res = await app.request("/events");
      if (res.status !== 200) return false;
      await res.body!.cancel();
      return true;
    }, "a stream slot to free up", 2000);
  });
});
