import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type DeadEvent,
  type LostEvent,
  type ReclaimedEvent,
  ReservationLostError,
  TransportError,
} from "../mod.ts";
import type { Delivery, DeliveryRef } from "../src/queue.ts";
import { deferred, forever, until, engineSetup } from "./_engine_helpers.ts";

const setup = engineSetup();

const other = { group: "test", name: "other-consumer" };

describe("heartbeats", () => {
  it("keep a task that runs longer than its reservation from being reclaimed", async () => {
    const { runner, queue, clock } = setup();
    const gate = deferred();
    let started = false;
    const t = runner.registerTask({ name: "long", reservationTimeout: 300, action: () => {
      started = true;
      return gate.promise;
    } });
    await runner.start();
    await t.dispatch(null);
    await until(() => started, "started");
    for (let i = 0; i < 10; i++) {
      await clock.advance(100);
      assert.deepEqual((await queue.reclaim(other, 10)).deliveries, [], `not reclaimable at ${i * 100 + 100} ms`);
    }
    gate.resolve();
  });

  it("cover every held delivery in one call per consumer, every reservationTimeout / 3", async () => {
    const { runner, clock, calls } = setup({ numWorkers: 5 });
    let started = 0;
    const t = runner.registerTask({ name: "long", reservationTimeout: 300, action: () => {
      started++;
      return forever();
    } });
    await runner.start();
    await t.dispatchBulk([1, 2, 3, 4, 5].map(() => ({ payload: null })));
    await until(() => started === 5, "all five running");
    assert.equal(calls.heartbeat?.length ?? 0, 0);
    await clock.advance(100);
    assert.equal(calls.heartbeat.length, 1);
    assert.equal((calls.heartbeat[0][1] as DeliveryRef[]).length, 5);
    await clock.advance(100);
    assert.equal(calls.heartbeat.length, 2);
  });

  it("are not sent while nothing is held", async () => {
    const { runner, clock, calls } = setup();
    runner.registerTask({ name: "t", reservationTimeout: 300, action: () => {} });
    await runner.start();
    await clock.advance(1_000);
    assert.equal(calls.heartbeat?.length ?? 0, 0);
  });

  it("ctx.heartbeat() extends the reservation at once", async () => {
    const { runner, calls } = setup();
    const beat = deferred<unknown>();
    const t = runner.registerTask({ name: "t", action: async (_p: null, ctx) => {
      beat.resolve(await ctx.heartbeat().then(() => "ok", (e) => e));
    } });
    await runner.start();
    await t.dispatch(null);
    assert.equal(await beat.promise, "ok");
    assert.equal(calls.heartbeat.length, 1);
  });
});

describe("lost reservations", () => {
  it("abort ctx.signal and never ack when a heartbeat finds another consumer owns the task", async () => {
    let dropHeartbeats = true;
    // One worker slot, so this runner cannot reclaim the task from itself.
    const f = setup({ numWorkers: 1 }, {
      heartbeat: (consumer: never, refs: never) =>
        dropHeartbeats ? Promise.resolve([]) : f.queue.heartbeat(consumer, refs),
    });
    const { runner, queue, clock } = f;
    const gate = deferred();
    const signals: AbortSignal[] = [];
    const lost: LostEvent[] = [];
    runner.on("lost", (e) => lost.push(e));
    const t = runner.registerTask({ name: "t", reservationTimeout: 300, action: (_p: null, ctx) => {
      signals.push(ctx.signal);
      return gate.promise;
    } });
    await runner.start();
    const id = await t.dispatch(null);
    await until(() => signals.length === 1, "started");
    // Heartbeats do not reach the transport (a partition): the reservation lapses.
    await clock.advance(301);
    const stolen = await queue.reclaim(other, 10);
    assert.equal(stolen.deliveries.length, 1);
    dropHeartbeats = false;
    await clock.advance(100);
    await until(() => lost.length === 1, "lost event");
    assert.equal(lost[0].reason, "reservation-lost");
    assert.equal(lost[0].id, id);
    assert.ok(signals[0].aborted);
    assert.ok(signals[0].reason instanceof ReservationLostError);
    gate.resolve();
    await new Promise((r) => setTimeout(r, 5));
    // The new owner can still complete it: the stale runner did not ack.
    assert.deepEqual(await queue.ack(other, [stolen.deliveries[0]]), [true]);
  });

  it("report a refused ack as lost, never as completed", async () => {
    const f = setup({ numWorkers: 1 }, { heartbeat: () => Promise.resolve([]) });
    const { runner, queue, clock } = f;
    const gate = deferred();
    let started = false;
    const lost: LostEvent[] = [];
    const completed: unknown[] = [];
    runner.on("lost", (e) => lost.push(e));
    runner.on("completed", (e) => completed.push(e));
    const t = runner.registerTask({ name: "t", reservationTimeout: 300, action: () => {
      started = true;
      return gate.promise;
    } });
    await runner.start();
    await t.dispatch(null);
    await until(() => started, "started");
    await clock.advance(301);
    assert.equal((await queue.reclaim(other, 10)).deliveries.length, 1);
    gate.resolve();
    await until(() => lost.length === 1, "lost event");
    assert.equal(lost[0].reason, "refused");
    assert.equal(completed.length, 0);
    assert.equal((await queue.counts("test")).inFlight, 1, "still pending for its new owner");
  });

  it("reclaimed by the runner from itself carry on instead of running twice", async () => {
    let dropHeartbeats = true;
    const f = setup({ numWorkers: 2 }, {
      heartbeat: (consumer: never, refs: never) =>
        dropHeartbeats ? Promise.resolve([]) : f.queue.heartbeat(consumer, refs),
    });
    const { runner, queue, clock } = f;
    const gate = deferred();
    let runs = 0;
    const reclaimed: ReclaimedEvent[] = [];
    const completed: unknown[] = [];
    const lost: LostEvent[] = [];
    runner.on("reclaimed", (e) => reclaimed.push(e));
    runner.on("completed", (e) => completed.push(e));
    runner.on("lost", (e) => lost.push(e));
    const t = runner.registerTask({ name: "t", reservationTimeout: 300, action: () => {
      runs++;
      return gate.promise;
    } });
    await runner.start();
    await t.dispatch(null);
    await until(() => runs === 1, "started");
    await clock.advance(450); // the reservation lapses; the runner's reclaim pass takes it back
    await until(() => reclaimed.length === 1, "reclaimed from itself");
    dropHeartbeats = false;
    gate.resolve();
    await until(() => completed.length === 1, "completed with the fresh delivery");
    assert.equal(runs, 1);
    assert.deepEqual(lost, []);
    const counts = await queue.counts("test");
    assert.equal(counts.inFlight + counts.waiting, 0);
  });

  it("make ctx.heartbeat() reject with ReservationLostError once another consumer owns the task", async () => {
    let dropHeartbeats = true;
    const f = setup({ numWorkers: 1 }, {
      heartbeat: (consumer: never, refs: never) =>
        dropHeartbeats ? Promise.resolve([]) : f.queue.heartbeat(consumer, refs),
    });
    const { runner, queue, clock } = f;
    const go = deferred();
    const outcome = deferred<unknown>();
    const t = runner.registerTask({ name: "t", reservationTimeout: 300, action: async (_p: null, ctx) => {
      await go.promise;
      outcome.resolve(await ctx.heartbeat().then(() => "ok", (e) => e));
    } });
    await runner.start();
    await t.dispatch(null);
    await clock.advance(301);
    assert.equal((await queue.reclaim(other, 10)).deliveries.length, 1);
    dropHeartbeats = false; // from now on the transport reports the loss
    go.resolve();
    const error = await outcome.promise;
    assert.ok(error instanceof ReservationLostError, `got ${error}`);
  });
});

describe("reclaim", () => {
  it("takes over tasks of a crashed consumer after their reservation, with the delivery count", async () => {
    const { runner, queue, clock } = setup();
    const reclaimed: ReclaimedEvent[] = [];
    const ran: number[] = [];
    runner.on("reclaimed", (e) => reclaimed.push(e));
    const t = runner.registerTask({ name: "t", reservationTimeout: 300, action: (n: number) => void ran.push(n) });
    await t.dispatch(7);
    // A consumer takes it and dies without acking.
    await queue.init("test");
    assert.equal((await queue.receive(other, { count: 1, block: 0 })).length, 1);
    await runner.start();
    await clock.advance(299);
    assert.deepEqual(ran, []);
    await clock.advance(200);
    await until(() => ran.length === 1, "reclaimed and run");
    assert.deepEqual(ran, [7]);
    assert.equal(reclaimed.length, 1);
    assert.equal(reclaimed[0].deliveryCount, 2);
  });

  it("dead-letters a task delivered more than maxDeliveries times as poison (crash loop)", async () => {
    const { runner, queue, clock } = setup({ maxDeliveries: 2 });
    const dead: DeadEvent[] = [];
    runner.on("dead", (e) => dead.push(e));
    let runs = 0;
    const t = runner.registerTask({ name: "crashy", reservationTimeout: 300, action: () => void runs++ });
    await t.dispatch(null);
    await queue.init("test");
    // Two deliveries that each "crash" (are never acked).
    await queue.receive(other, { count: 1, block: 0 });
    await clock.advance(301);
    assert.equal((await queue.reclaim(other, 1)).deliveries[0].deliveryCount, 2);
    await runner.start();
    await clock.advance(451);
    await until(() => dead.length === 1, "quarantined");
    assert.equal(dead[0].reason, "poison");
    assert.equal(runs, 0);
    assert.match(dead[0].failure.message, /delivered 3 times without completing \(maxDeliveries 2\)/);
  });
});

describe("fetching", () => {
  it("asks for no more than the free worker slots, so nothing waits unheartbeated", async () => {
    const { runner, calls } = setup({ numWorkers: 3, batchSize: 10 });
    let started = 0;
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const t = runner.registerTask({ name: "t", action: (i: number) => {
      started++;
      return gates[i].promise;
    } });
    await t.dispatchBulk([0, 1, 2, 3].map((i) => ({ payload: i })));
    await runner.start();
    await until(() => started === 3, "three running");
    assert.equal((calls.receive[0][1] as { count: number }).count, 3);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(started, 3, "the fourth waits in the queue, not in the runner");
    assert.equal(calls.receive.length, 1, "no receive while every slot is busy");
    gates[0].resolve();
    await until(() => started === 4, "a freed slot takes the next");
    assert.equal((calls.receive[1][1] as { count: number }).count, 1);
    for (const g of gates) g.resolve();
  });

  it("shares the worker slots between several fetch loops", async () => {
    const { runner, calls } = setup({ numWorkers: 3, numFetchers: 2, batchSize: 2 });
    let started = 0;
    const gates = Array.from({ length: 6 }, () => deferred());
    const t = runner.registerTask({ name: "t", action: (i: number) => {
      started++;
      return gates[i].promise;
    } });
    await t.dispatchBulk(gates.map((_, i) => ({ payload: i })));
    await runner.start();
    await until(() => started === 3, "three running");
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(started, 3, "never more than numWorkers");
    const consumers = new Set(calls.receive.map((c) => (c[0] as { name: string }).name));
    assert.equal(consumers.size, 2, "both fetch loops received");
    for (const g of gates) g.resolve();
    await until(() => started === 6, "the rest run as slots free");
  });

  it("batches acknowledgements: one ack call in flight, the next carries the rest", async () => {
    const ackGate = deferred();
    const f = setup({ numWorkers: 20, batchSize: 20 }, {
      ack: (consumer: never, refs: never) => ackGate.promise.then(() => f.queue.ack(consumer, refs)),
    });
    const { runner, calls } = f;
    let completed = 0;
    runner.on("completed", () => completed++);
    const t = runner.registerTask({ name: "t", action: () => {} });
    await t.dispatchBulk(Array.from({ length: 20 }, () => ({ payload: null })));
    await runner.start();
    await until(() => calls.ack?.length === 1, "first ack sent");
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(calls.ack.length, 1, "one ack in flight");
    ackGate.resolve();
    await until(() => completed === 20, "all completed");
    assert.equal(calls.ack.length, 2);
    const sizes = calls.ack.map((c) => (c[1] as Delivery[]).length);
    assert.equal(sizes[0] + sizes[1], 20);
  });

  it("backs off on transport errors instead of looping hot, reporting each as an error event", async () => {
    const { runner, clock, calls } = setup({}, {
      receive: () => Promise.reject(new Error("connection refused")),
    });
    const errors: Error[] = [];
    runner.on("error", (e) => errors.push(e));
    await runner.start();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(calls.receive.length, 1, "no retry before the backoff passes");
    assert.ok(errors[0] instanceof TransportError);
    assert.match(errors[0].message, /'receive' failed: connection refused/);
    await clock.advance(10_000);
    const after = calls.receive.length;
    assert.ok(after >= 2 && after <= 12, `bounded retries in 10 s: ${after}`);
  });
});

describe("delayed tasks", () => {
  it("run at their delay to the millisecond", async () => {
    const { runner, clock } = setup();
    const ran: number[] = [];
    const t = runner.registerTask({ name: "later", action: () => void ran.push(clock.now()) });
    await runner.start();
    const t0 = clock.now();
    await t.dispatch(null, { delay: 250 });
    await clock.advance(249);
    assert.deepEqual(ran, []);
    await clock.advance(1);
    await until(() => ran.length === 1, "ran");
    assert.equal(ran[0] - t0, 250);
  });

  it("run at an absolute instant given as a Date", async () => {
    const { runner, clock } = setup();
    const ran: number[] = [];
    const t = runner.registerTask({ name: "at", action: () => void ran.push(clock.now()) });
    await runner.start();
    const due = clock.now() + 1_234;
    await t.dispatch(null, { at: new Date(due) });
    await clock.advance(1_233);
    assert.deepEqual(ran, []);
    await clock.advance(1);
    await until(() => ran.length === 1, "ran");
    assert.equal(ran[0], due);
  });

  it("dispatched by another process wake the promoter early through onDelayedAdded", async () => {
    const consumer = setup();
    const producer = setup({}, {}, { clock: consumer.clock, queue: consumer.queue });
    const ran: number[] = [];
    const clock = consumer.clock;
    consumer.runner.registerTask({ name: "x", action: () => void ran.push(clock.now()) });
    const px = producer.runner.registerTask({ name: "x", action: () => {} });
    await consumer.runner.start();
    await clock.advance(500); // the promoter is asleep until its 1 s cap
    const t0 = clock.now();
    await px.dispatch(null, { delay: 30 });
    await clock.advance(30);
    await until(() => ran.length === 1, "ran");
    assert.equal(ran[0] - t0, 30);
  });

  it("added while a promote call is in flight still run on time", async () => {
    const gate = deferred();
    let gated = true;
    const f = setup({}, {
      // This promote reads the schedule at once but answers late, like a slow round trip.
      promote: () =>
        f.queue.promote().then(async (result) => {
          if (gated) await gate.promise;
          return result;
        }),
    });
    const { runner, clock, calls } = f;
    const ran: number[] = [];
    const t = runner.registerTask({ name: "x", action: () => void ran.push(clock.now()) });
    await runner.start();
    await until(() => calls.promote?.length === 1, "first promote in flight");
    const t0 = clock.now();
    await t.dispatch(null, { delay: 30 });
    gated = false;
    gate.resolve();
    await clock.advance(30);
    await until(() => ran.length === 1, "ran");
    assert.equal(ran[0] - t0, 30);
  });
});

describe("event listeners", () => {
  it("that throw are reported as error events and never break the runner", async () => {
    const { runner } = setup();
    const errors: Error[] = [];
    runner.on("error", (e) => errors.push(e));
    runner.on("completed", () => {
      throw new Error("listener bug");
    });
    let runs = 0;
    const t = runner.registerTask({ name: "t", action: () => void runs++ });
    await runner.start();
    await t.dispatch(null);
    await t.dispatch(null);
    await until(() => errors.length === 2, "both reported");
    assert.equal(runs, 2);
    assert.match(errors[0].message, /'completed' listener threw/);
  });

  it("can be removed with the function on() returns", async () => {
    const { runner } = setup();
    let seen = 0;
    const off = runner.on("completed", () => seen++);
    const t = runner.registerTask({ name: "t", action: () => {} });
    await runner.start();
    await t.dispatch(null);
    await until(() => seen === 1, "first seen");
    off();
    let done = false;
    runner.on("completed", () => (done = true));
    await t.dispatch(null);
    await until(() => done, "second completed");
    assert.equal(seen, 1);
  });
});
