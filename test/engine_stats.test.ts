import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HISTOGRAM_BUCKETS, type RunnerStats } from "../mod.ts";
import { forever, until, engineSetup } from "./_engine_helpers.ts";
import type { ManualClock } from "../testing/manual_clock.ts";

const setup = engineSetup();

interface Hold {
  /** While true, runs never end. */
  on: boolean;
  /** Runs started so far. */
  started: number;
}

/** An action that takes exactly `ms` of manual time, or never ends while `hold.on`. */
function timedAction(clock: ManualClock, ms: number, hold: Hold) {
  return (): Promise<void> => {
    hold.started++;
    return hold.on ? forever() : new Promise((resolve) => clock.setTimeout(resolve, ms));
  };
}

describe("stats", () => {
  it("counts completed, failed, retried and dead runs per task, fleet-wide", async () => {
    const { runner, clock } = setup({ statsInterval: 100 });
    const ok = runner.registerTask({ name: "ok", action: () => {} });
    const bad = runner.registerTask({ name: "bad", maxRetry: 1, backoff: () => 0, action: () => {
      throw new Error("x");
    } });
    let dead = 0;
    runner.on("dead", () => dead++);
    let completed = 0;
    runner.on("completed", () => completed++);
    await runner.start();
    await ok.dispatchBulk([{ payload: null }, { payload: null }, { payload: null }]);
    await bad.dispatch(null);
    await until(() => dead === 1 && completed === 3, "all settled");
    await clock.advance(100);
    const s = await runner.stats();
    assert.deepEqual(
      [s.tasks.ok.completed, s.tasks.ok.failed, s.tasks.ok.retried, s.tasks.ok.dead],
      [3, 0, 0, 0],
    );
    assert.deepEqual(
      [s.tasks.bad.completed, s.tasks.bad.failed, s.tasks.bad.retried, s.tasks.bad.dead],
      [0, 2, 1, 1],
    );
    assert.deepEqual(s.totals, { completed: 3, failed: 2, retried: 1, dead: 1 });
    assert.equal(s.counts.dead, 1);
    assert.equal(s.queue, "memory:default");
    assert.equal(s.group, "test");
    assert.equal(s.at, clock.now());
  });

  it("are flushed to the transport once per statsInterval, never per task", async () => {
    const { runner, clock, calls } = setup({ statsInterval: 1_000 });
    let completed = 0;
    runner.on("completed", () => completed++);
    const t = runner.registerTask({ name: "t", action: () => {} });
    await runner.start();
    await t.dispatchBulk(Array.from({ length: 50 }, () => ({ payload: null })));
    await until(() => completed === 50, "all completed");
    assert.equal(calls.recordStats?.length ?? 0, 0);
    await clock.advance(1_000);
    assert.equal(calls.recordStats.length, 1);
    await clock.advance(3_000);
    assert.equal(calls.recordStats.length, 1, "nothing new, nothing sent");
  });

  it("report run-time percentiles from the shared histogram buckets, with raw counts and sums", async () => {
    const { runner, clock } = setup({ statsInterval: 100 });
    const hold: Hold = { on: false, started: 0 };
    const t = runner.registerTask({ name: "t", action: timedAction(clock, 100, hold) });
    let completed = 0;
    runner.on("completed", () => completed++);
    await runner.start();
    await t.dispatchBulk([1, 2, 3, 4].map(() => ({ payload: null })));
    await until(() => hold.started === 4, "running");
    await clock.advance(100);
    await until(() => completed === 4, "completed");
    await clock.advance(100);
    const run = (await runner.stats()).tasks.t.runTime;
    assert.equal(run.count, 4);
    assert.equal(run.sum, 400);
    assert.equal(run.avg, 100);
    const at100 = HISTOGRAM_BUCKETS.indexOf(100);
    assert.equal(run.buckets[at100], 4);
    assert.equal(run.buckets.length, HISTOGRAM_BUCKETS.length + 1);
    // Interpolated inside (50, 100]: p50 = 50 + 50 × 2/4.
    assert.equal(run.p50, 75);
    assert.equal(run.p99, 99.5);
  });

  it("measure throughput from counter deltas between reads", async () => {
    const { runner, clock } = setup({ statsInterval: 100 });
    const t = runner.registerTask({ name: "t", action: () => {} });
    let completed = 0;
    runner.on("completed", () => completed++);
    await runner.start();
    const first = await runner.stats();
    assert.equal(first.throughput, null, "unknown on the first read");
    await t.dispatchBulk(Array.from({ length: 30 }, () => ({ payload: null })));
    await until(() => completed === 30, "completed");
    await clock.advance(2_000);
    const second = await runner.stats();
    assert.equal(second.throughput, 15); // 30 tasks in 2 s
  });
});

describe("drain estimate", () => {
  async function twoRunnerFleet() {
    const a = setup({ numWorkers: 2, statsInterval: 100 });
    const b = setup({ numWorkers: 2, statsInterval: 100 }, {}, { clock: a.clock, queue: a.queue });
    const clock = a.clock;
    const hold: Hold = { on: false, started: 0 };
    const ta = a.runner.registerTask({ name: "work", action: timedAction(clock, 100, hold) });
    b.runner.registerTask({ name: "work", action: timedAction(clock, 100, hold) });
    let completed = 0;
    a.runner.on("completed", () => completed++);
    b.runner.on("completed", () => completed++);
    await a.runner.start();
    await b.runner.start();
    // Four runs of exactly 100 ms: T_avg = 100 ms.
    await ta.dispatchBulk([1, 2, 3, 4].map(() => ({ payload: null })));
    await until(() => hold.started === 4, "running");
    await clock.advance(100);
    await until(() => completed === 4, "four completed");
    await clock.advance(100); // stats flushed
    // Then a backlog: 4 running (2 per runner) and 6 waiting.
    hold.on = true;
    await ta.dispatchBulk(Array.from({ length: 10 }, () => ({ payload: null })));
    return { a, b, clock };
  }

  it("is T_avg × (waiting + in flight) / total workers of the live instances", async () => {
    const { a } = await twoRunnerFleet();
    let s: RunnerStats = await a.runner.stats();
    await until(() => {
      void a.runner.stats().then((x) => (s = x));
      return s.counts.inFlight === 4;
    }, "four in flight");
    assert.equal(s.instances.length, 2);
    assert.equal(s.totalWorkers, 4);
    assert.equal(s.counts.waiting, 6);
    assert.equal(s.averageRunTime, 100);
    assert.equal(s.estimatedDrainTime, (100 * 10) / 4);
  });

  it("uses replicationFactor × numWorkers as total workers when configured", async () => {
    const { clock, a } = await twoRunnerFleet();
    const observer = setup({ numWorkers: 2, replicationFactor: 3 }, {}, { clock, queue: a.queue });
    let s: RunnerStats = await observer.runner.stats();
    await until(() => {
      void observer.runner.stats().then((x) => (s = x));
      return s.counts.inFlight === 4;
    }, "four in flight");
    assert.equal(s.totalWorkers, 6);
    assert.equal(s.estimatedDrainTime, (100 * 10) / 6);
  });

  it("is 0 for an empty queue and null before any run completed", async () => {
    const { runner } = setup();
    const t = runner.registerTask({ name: "t", action: () => forever() });
    await runner.start();
    assert.equal((await runner.stats()).estimatedDrainTime, 0);
    await t.dispatch(null);
    const s = await runner.stats();
    assert.equal(s.averageRunTime, null);
    assert.equal(s.estimatedDrainTime, null);
    assert.equal(s.longQueue, false);
  });
});

describe("long-queue hook", () => {
  it("fires once across the fleet per threshold period while the estimate is above it", async () => {
    const fired: { runner: string; stats: RunnerStats }[] = [];
    const a = setup({
      numWorkers: 1,
      statsInterval: 100,
      longQueueThreshold: 1_000,
      longQueueHook: (stats) => void fired.push({ runner: "a", stats }),
    });
    const b = setup({
      numWorkers: 1,
      statsInterval: 100,
      longQueueThreshold: 1_000,
      longQueueHook: (stats) => void fired.push({ runner: "b", stats }),
    }, {}, { clock: a.clock, queue: a.queue });
    const clock = a.clock;
    const hold: Hold = { on: false, started: 0 };
    const ta = a.runner.registerTask({ name: "w", action: timedAction(clock, 100, hold) });
    b.runner.registerTask({ name: "w", action: timedAction(clock, 100, hold) });
    let completed = 0;
    a.runner.on("completed", () => completed++);
    b.runner.on("completed", () => completed++);
    await a.runner.start();
    await b.runner.start();
    await ta.dispatchBulk([1, 2].map(() => ({ payload: null })));
    await until(() => hold.started === 2, "running");
    await clock.advance(100);
    await until(() => completed === 2, "completed");
    assert.equal(fired.length, 0);
    // 100 ms × 30 tasks / 2 workers = 1500 ms > 1000 ms.
    hold.on = true;
    await ta.dispatchBulk(Array.from({ length: 30 }, () => ({ payload: null })));
    await clock.advance(100);
    await clock.advance(100);
    await until(() => fired.length === 1, "fired once");
    assert.ok(fired[0].stats.longQueue);
    assert.equal(fired[0].stats.estimatedDrainTime, 1_500);
    await clock.advance(700);
    assert.equal(fired.length, 1, "not again within the threshold period");
    await clock.advance(500);
    await until(() => fired.length === 2, "again after the period");
  });

  it("that throws is logged and reported, and the runner goes on", async () => {
    const logged: string[] = [];
    const { runner, clock } = setup({
      numWorkers: 1,
      statsInterval: 100,
      longQueueThreshold: 10,
      replicationFactor: 1,
      logger: { debug() {}, info() {}, warn() {}, error: (m: string) => void logged.push(m) },
      longQueueHook: () => {
        throw new Error("pager down");
      },
    });
    const errors: Error[] = [];
    runner.on("error", (e) => errors.push(e));
    const hold: Hold = { on: false, started: 0 };
    const t = runner.registerTask({ name: "w", action: timedAction(clock, 50, hold) });
    let completed = 0;
    runner.on("completed", () => completed++);
    await runner.start();
    await t.dispatch(null);
    await until(() => hold.started === 1, "running");
    await clock.advance(50);
    await until(() => completed === 1, "completed");
    hold.on = true;
    await t.dispatchBulk([1, 2, 3].map(() => ({ payload: null })));
    await clock.advance(100);
    await clock.advance(100);
    await until(() => errors.length >= 1, "reported");
    assert.match(errors[0].message, /longQueueHook threw/);
    assert.ok(logged.includes("longQueueHook threw"));
    assert.equal(runner.state, "running");
  });
});

describe("stats read-your-writes", () => {
  it("count every completion right after the last completed event, with no wait", async () => {
    const { runner } = setup({ statsInterval: 1_000 });
    let completed = 0;
    runner.on("completed", () => completed++);
    const t = runner.registerTask({ name: "t", action: () => {} });
    await runner.start();
    await t.dispatchBulk(Array.from({ length: 50 }, () => ({ payload: null })));
    await until(() => completed === 50, "50 completed");
    const s = await runner.stats();
    assert.equal(s.tasks.t?.completed, 50);
    assert.deepEqual(s.totals, { completed: 50, failed: 0, retried: 0, dead: 0 });
  });

  it("count failures, retries and dead letters not flushed yet, with a long statsInterval", async () => {
    const { runner, calls } = setup({ statsInterval: 3_600_000 });
    let dead = 0;
    runner.on("dead", () => dead++);
    const bad = runner.registerTask({ name: "bad", maxRetry: 2, backoff: () => 0, action: () => {
      throw new Error("x");
    } });
    await runner.start();
    await bad.dispatch(null);
    await until(() => dead === 1, "dead");
    const s = await runner.stats();
    assert.deepEqual(
      [s.tasks.bad?.completed, s.tasks.bad?.failed, s.tasks.bad?.retried, s.tasks.bad?.dead],
      [0, 3, 2, 1],
    );
    assert.equal(calls.recordStats, undefined, "nothing was flushed");
  });

  it("count a delta exactly once while its flush is in flight, and after it failed", async () => {
    const gate: { hold: Promise<void> | null; fail: boolean } = { hold: null, fail: false };
    let release = () => {};
    const { runner, clock, queue } = setup({ statsInterval: 100 }, {
      recordStats: async (delta: never) => {
        if (gate.hold) await gate.hold;
        if (gate.fail) throw new Error("store down");
        await queue.recordStats(delta);
      },
    });
    let completed = 0;
    runner.on("completed", () => completed++);
    const t = runner.registerTask({ name: "t", action: () => {} });
    await runner.start();
    await t.dispatchBulk(Array.from({ length: 5 }, () => ({ payload: null })));
    await until(() => completed === 5, "5 completed");
    // A flush starts and hangs before its write is applied.
    gate.hold = new Promise((resolve) => (release = resolve));
    await clock.advance(100);
    const during = runner.stats();
    await t.dispatchBulk(Array.from({ length: 2 }, () => ({ payload: null })));
    await until(() => completed === 7, "7 completed");
    release();
    gate.hold = null;
    assert.equal((await during).tasks.t?.completed, 7);
    assert.equal((await runner.stats()).tasks.t?.completed, 7);
    // A failed flush puts its delta back: still counted once.
    gate.fail = true;
    await clock.advance(100);
    assert.equal((await runner.stats()).tasks.t?.completed, 7);
    gate.fail = false;
    await clock.advance(100);
    assert.equal((await runner.stats()).tasks.t?.completed, 7);
    assert.equal((await queue.readStats()).tasks.t?.completed, 7);
  });
});
