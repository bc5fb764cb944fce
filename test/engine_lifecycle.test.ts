import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RunnerStateError, ShutdownError } from "../mod.ts";
import { deferred, forever, until, engineSetup } from "./_engine_helpers.ts";

const setup = engineSetup();

describe("start", () => {
  it("initialises the group, registers the instance and resolves once consuming", async () => {
    const { runner, calls, queue } = setup({ numWorkers: 7 });
    await runner.start();
    assert.equal(runner.state, "running");
    assert.deepEqual(calls.init[0], ["test"]);
    const instances = await queue.instances();
    assert.equal(instances.length, 1);
    assert.equal(instances[0].id, runner.instanceId);
    assert.equal(instances[0].workers, 7);
    assert.ok(calls.receive.length >= 1, "a fetch loop is receiving");
  });

  it("names consumers prefix-host-pid-n from the transport's processInfo", async () => {
    const { runner } = setup(
      { consumersPrefix: "mail", numFetchers: 2 },
      { processInfo: () => ({ host: "box", pid: 42 }) },
    );
    await runner.start();
    const names = runner.consumers;
    assert.equal(names.length, 2);
    for (const name of names) assert.match(name, /^mail-box-42-\d+$/);
    assert.notEqual(names[0], names[1]);
  });

  it("gives two runners of one process distinct consumer names", async () => {
    const a = setup({}, { processInfo: () => ({ host: "box", pid: 1 }) });
    const b = setup({}, { processInfo: () => ({ host: "box", pid: 1 }) }, { clock: a.clock, queue: a.queue });
    await a.runner.start();
    await b.runner.start();
    assert.notEqual(a.runner.consumers[0], b.runner.consumers[0]);
  });

  it("refuses to start twice", async () => {
    const { runner } = setup();
    await runner.start();
    await assert.rejects(runner.start(), RunnerStateError);
  });

  it("fails cleanly when the transport cannot initialise, and can be started later", async () => {
    let fail = true;
    const { runner, queue } = setup({}, {
      init: (group: never) => (fail ? Promise.reject(new Error("down")) : queue.init(group)),
    });
    await assert.rejects(runner.start(), /down/);
    assert.equal(runner.state, "idle");
    fail = false;
    await runner.start();
    assert.equal(runner.state, "running");
  });

  it("stops when the start signal aborts, and does not start on an aborted signal", async () => {
    const { runner } = setup();
    const controller = new AbortController();
    await runner.start(controller.signal);
    controller.abort();
    await until(() => runner.state === "idle", "stopped by the signal");
    await runner.start(AbortSignal.abort());
    assert.equal(runner.state, "idle");
  });

  it("stops at once when the start signal aborts while starting", async () => {
    const controller = new AbortController();
    const f = setup({}, {
      init: (group: never) => {
        controller.abort();
        return f.queue.init(group);
      },
    });
    await f.runner.start(controller.signal);
    await until(() => f.runner.state === "idle", "stopped");
  });
});

describe("stop", () => {
  it("is idempotent and safe before start", async () => {
    const { runner } = setup();
    await runner.stop();
    await runner.start();
    const a = runner.stop();
    const b = runner.stop();
    assert.equal(a, b);
    await Promise.all([a, b]);
    await runner.stop();
    assert.equal(runner.state, "idle");
  });

  it("stops fetching at once", async () => {
    const { runner, queue } = setup();
    let runs = 0;
    const t = runner.registerTask({ name: "t", action: () => void runs++ });
    await runner.start();
    await runner.stop();
    await t.dispatch(null);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(runs, 0);
    assert.equal((await queue.counts("test")).waiting, 1);
  });

  it("lets running tasks finish within the grace period and acks them", async () => {
    const { runner, queue, clock } = setup({ shutdownTimeout: 1_000 });
    const gate = deferred();
    let started = false;
    const completed: unknown[] = [];
    runner.on("completed", (e) => completed.push(e));
    const t = runner.registerTask({ name: "t", action: () => {
      started = true;
      return gate.promise;
    } });
    await runner.start();
    await t.dispatch(null);
    await until(() => started, "started");
    let stopped = false;
    const stopping = runner.stop().then(() => (stopped = true));
    await clock.advance(500);
    assert.equal(stopped, false, "waits for the running task");
    gate.resolve();
    await stopping;
    assert.equal(completed.length, 1);
    const counts = await queue.counts("test");
    assert.equal(counts.inFlight + counts.waiting, 0);
  });

  it("aborts tasks still running after the grace period and leaves them for reclaim", async () => {
    const { runner, queue, clock } = setup({ shutdownTimeout: 1_000 });
    const signals: AbortSignal[] = [];
    const t = runner.registerTask({ name: "hang", reservationTimeout: 3_000, action: (_p: null, ctx) => {
      signals.push(ctx.signal);
      return forever();
    } });
    await runner.start();
    const id = await t.dispatch(null);
    await until(() => signals.length === 1, "started");
    let stopped = false;
    const stopping = runner.stop().then(() => (stopped = true));
    await clock.advance(999);
    assert.equal(stopped, false);
    assert.equal(signals[0].aborted, false);
    await clock.advance(1);
    await stopping;
    assert.ok(signals[0].aborted);
    assert.ok(signals[0].reason instanceof ShutdownError);
    assert.equal((await queue.counts("test")).inFlight, 1, "not acked: left pending");

    // Another runner reclaims it once the reservation lapses.
    const next = setup({}, {}, { clock, queue });
    const ran: string[] = [];
    next.runner.registerTask({
      name: "hang",
      reservationTimeout: 3_000,
      action: (_p: null, ctx) => void ran.push(ctx.id),
    });
    await next.runner.start();
    assert.equal(ran.length, 0);
    await clock.advance(4_600); // reservation (3 s) lapsed, plus a reclaim pass (every 1.5 s)
    await until(() => ran.length === 1, "reclaimed and run");
    assert.deepEqual(ran, [id]);
  });

  it("flushes stats, leaves the instance registry and removes its consumers", async () => {
    const { runner, queue, calls } = setup({ statsInterval: 60_000 });
    let done = 0;
    const t = runner.registerTask({ name: "t", action: () => void done++ });
    runner.on("completed", () => {});
    await runner.start();
    await t.dispatch(null);
    await until(() => done === 1, "ran");
    await until(() => calls.ack !== undefined, "acked");
    await runner.stop();
    assert.equal((await queue.readStats()).tasks.t.completed, 1);
    assert.deepEqual(await queue.instances(), []);
    assert.equal(calls.removeConsumer.length, 1);
  });

  it("can be started again after stopping", async () => {
    const { runner } = setup();
    let runs = 0;
    const t = runner.registerTask({ name: "t", action: () => void runs++ });
    await runner.start();
    await runner.stop();
    await runner.start();
    await t.dispatch(null);
    await until(() => runs === 1, "ran after restart");
  });

  it("keeps its worker limit after a restart even when an abandoned task settles late", async () => {
    const { runner, clock } = setup({ numWorkers: 1 });
    const old = deferred();
    let started = 0;
    const t = runner.registerTask({ name: "t", action: (kind: string) => {
      started++;
      return kind === "old" ? old.promise : forever();
    } });
    await runner.start();
    await t.dispatch("old");
    await until(() => started === 1, "old task running");
    const stopping = runner.stop();
    await clock.advance(1_000); // grace over: abandoned
    await stopping;
    await runner.start();
    old.resolve(); // the abandoned action settles during the new run
    await new Promise((r) => setTimeout(r, 5));
    await t.dispatchBulk([{ payload: "new" }, { payload: "new" }]);
    await until(() => started === 2, "one new task running");
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(started, 2, "only one slot: the second new task waits");
  });

  it("is what Symbol.asyncDispose does", async () => {
    const { runner } = setup();
    await runner.start();
    await runner[Symbol.asyncDispose]();
    assert.equal(runner.state, "idle");
  });
});

describe("pause and resume", () => {
  it("pause stops consuming across the fleet; resume restarts it", async () => {
    const a = setup({ instanceInterval: 100 });
    const b = setup({ instanceInterval: 100 }, {}, { clock: a.clock, queue: a.queue });
    const ran: string[] = [];
    const ta = a.runner.registerTask({ name: "t", action: () => void ran.push("a") });
    b.runner.registerTask({ name: "t", action: () => void ran.push("b") });
    await a.runner.start();
    await b.runner.start();
    await a.runner.pause();
    await a.clock.advance(100); // b polls the flag on its instance refresh
    assert.equal((await a.runner.stats()).paused, true);
    await ta.dispatchBulk([{ payload: null }, { payload: null }, { payload: null }, { payload: null }]);
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(ran, [], "no runner takes work while paused");
    await a.runner.resume();
    await a.clock.advance(100);
    await until(() => ran.length === 4, "all ran after resume");
  });
});
