import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { computeBackoff, HISTOGRAM_BUCKETS } from "../mod.ts";
import { decodePayload, encodePayload } from "../src/codec.ts";
import { Emitter } from "../src/events.ts";
import { Execution } from "../src/_execution.ts";
import type { Delivery } from "../src/queue.ts";
import { bucketIndex, percentile, StatsCollector } from "../src/stats.ts";

describe("computeBackoff", () => {
  it("doubles the exponential delay per failure, capped by maxDelay", () => {
    const policy = { type: "exponential" as const, delay: 100, maxDelay: 1_000, jitter: 0 };
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => computeBackoff(policy, n, null)), [100, 200, 400, 800, 1_000, 1_000]);
  });

  it("spreads the delay over [d × (1 − jitter), d]", () => {
    const policy = { type: "exponential" as const, delay: 1_000, jitter: 0.5 };
    assert.equal(computeBackoff(policy, 1, null, () => 0), 1_000);
    assert.equal(computeBackoff(policy, 1, null, () => 0.999_999), 500);
  });

  it("keeps a fixed delay fixed", () => {
    assert.equal(computeBackoff({ type: "fixed", delay: 250 }, 7, null), 250);
  });

  it("treats negative or non-finite custom results as 0", () => {
    assert.equal(computeBackoff(() => -5, 1, null), 0);
    assert.equal(computeBackoff(() => NaN, 1, null), 0);
    assert.equal(computeBackoff(() => 12.4, 1, null), 12);
  });

  it("survives huge attempt numbers without overflowing to Infinity", () => {
    assert.equal(computeBackoff({ type: "exponential", delay: 1_000, jitter: 0 }, 10_000, null), 3_600_000);
  });
});

describe("percentile", () => {
  it("is null without samples", () => {
    assert.equal(percentile(new Array(HISTOGRAM_BUCKETS.length + 1).fill(0), 0.5), null);
  });

  it("interpolates within the bucket holding the rank", () => {
    const buckets = new Array(HISTOGRAM_BUCKETS.length + 1).fill(0);
    buckets[bucketIndex(3)] = 10; // (2, 5]
    assert.equal(percentile(buckets, 0.5), 3.5);
    assert.equal(percentile(buckets, 1), 5);
  });

  it("reports the lower bound for the +Inf bucket", () => {
    const buckets = new Array(HISTOGRAM_BUCKETS.length + 1).fill(0);
    buckets[HISTOGRAM_BUCKETS.length] = 1;
    assert.equal(percentile(buckets, 0.99), HISTOGRAM_BUCKETS[HISTOGRAM_BUCKETS.length - 1]);
  });

  it("places values on bucket upper bounds inclusively", () => {
    assert.equal(bucketIndex(0), 0);
    assert.equal(bucketIndex(1), 0);
    assert.equal(bucketIndex(1.5), 1);
    assert.equal(bucketIndex(300_001), HISTOGRAM_BUCKETS.length);
  });
});

describe("StatsCollector", () => {
  it("hands over what it accumulated and can take back an unflushed delta", () => {
    const c = new StatsCollector();
    assert.equal(c.isEmpty, true);
    c.completed("a", 7, 1);
    c.failed("a");
    const delta = c.take();
    assert.equal(c.isEmpty, true);
    assert.equal(delta.tasks.a.completed, 1);
    assert.equal(delta.tasks.a.runTimeSum, 7);
    c.completed("a", 3, 0);
    c.restore(delta);
    const merged = c.take().tasks.a;
    assert.equal(merged.completed, 2);
    assert.equal(merged.failed, 1);
    assert.equal(merged.runTimeSum, 10);
    assert.equal(merged.runTime.reduce((x, y) => x + y, 0), 2);
  });
});

describe("payload codec", () => {
  it("round-trips JSON values", () => {
    const value = { s: "é", n: 1.5, b: true, z: null, a: [1, "x"] };
    const encoded = encodePayload(value, 1_000);
    assert.ok(encoded.ok);
    const decoded = decodePayload(encoded.body, 1_000);
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value, value);
  });

  it("refuses to decode bodies over the limit without parsing them", () => {
    const r = decodePayload(JSON.stringify("x".repeat(100)), 50);
    assert.ok(!r.ok);
    assert.match(r.issues[0].message, /102 bytes, over the limit of 50 bytes/);
  });

  it("keeps __proto__ keys as plain data", () => {
    const r = decodePayload('{"__proto__":{"polluted":true}}', 1_000);
    assert.ok(r.ok);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("finds problems at any depth and in any container, with their paths", () => {
    let deep: unknown = { bad: 1n };
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const deepPath = `${"d.".repeat(40)}bad`;
    const cyclic: Record<string, unknown> = { a: { b: {} } };
    (cyclic.a as { b: Record<string, unknown> }).b.c = cyclic;
    const bare: Record<string, unknown> = Object.create(null);
    bare.x = [1, undefined];
    const arrayLike = Object.create(Array.prototype) as Record<string, unknown>;
    arrayLike.fn = () => {};
    const cases: [unknown, string, RegExp][] = [
      [{ a: [1, { b: NaN }] }, "a.1.b", /NaN is not representable/],
      [[1, [2, [3, undefined]]], "1.1.1", /undefined cannot be encoded/],
      [{ m: new Map() }, "m", /Map cannot be encoded/],
      [deep, deepPath, /BigInt cannot be encoded/],
      [cyclic, "a.b.c", /cyclic structure/],
      [bare, "x.1", /undefined cannot be encoded/],
      [arrayLike, "fn", /a function cannot be encoded/],
    ];
    for (const [value, path, message] of cases) {
      const r = encodePayload(value, 1_000);
      assert.ok(!r.ok, path);
      assert.equal(r.issues.length, 1, path);
      assert.equal(r.issues[0].path, path);
      assert.match(r.issues[0].message, message);
    }
  });

  it("encodes deep plain data, null-prototype objects, omitted undefined properties and toJSON values", () => {
    let deep: unknown = [1];
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const bare: Record<string, unknown> = Object.create(null);
    bare.k = "v";
    const cases: [unknown, string][] = [
      [deep, JSON.stringify(deep)],
      [bare, '{"k":"v"}'],
      [{ a: undefined, b: 1 }, '{"b":1}'],
      [{ at: new Date(0) }, '{"at":"1970-01-01T00:00:00.000Z"}'],
      [null, "null"],
      ["s", '"s"'],
    ];
    for (const [value, body] of cases) {
      const r = encodePayload(value, 1_000);
      assert.ok(r.ok);
      assert.equal(r.body, body);
    }
  });

  it("reports a throwing toJSON as an encoding problem", () => {
    const r = encodePayload({ toJSON() {
      throw new Error("nope");
    } }, 1_000);
    assert.ok(!r.ok);
    assert.match(r.issues[0].message, /cannot be encoded as JSON: nope/);
  });
});

describe("Emitter", () => {
  it("isolates a throwing listener: the others still run and the error is reported", () => {
    const reported: [unknown, string][] = [];
    const emitter = new Emitter<{ tick: number }>((error, event) => reported.push([error, event]));
    const seen: number[] = [];
    emitter.on("tick", () => {
      throw new Error("bad");
    });
    emitter.on("tick", (n) => seen.push(n));
    emitter.emit("tick", 1);
    assert.deepEqual(seen, [1]);
    assert.equal(reported.length, 1);
    assert.equal(reported[0][1], "tick");
  });

  it("lets a listener unsubscribe during an emit without skipping others", () => {
    const emitter = new Emitter<{ tick: number }>(() => {});
    const seen: string[] = [];
    const off = emitter.on("tick", () => {
      seen.push("a");
      off();
    });
    emitter.on("tick", () => seen.push("b"));
    emitter.emit("tick", 1);
    emitter.emit("tick", 2);
    assert.deepEqual(seen, ["a", "b", "b"]);
    assert.equal(emitter.has("tick"), true);
  });
});

describe("Execution", () => {
  const delivery = (deliveryCount: number): Delivery => ({
    deliveryId: "1-0",
    deliveryCount,
    id: "t1",
    name: "task",
    body: "null",
    attempt: 0,
    reservationTimeout: 1_000,
    dispatchedAt: 0,
    readyAt: 0,
  });
  const fresh = (): Execution =>
    new Execution(() => Promise.resolve(), { group: "g", name: "c" }, delivery(1), 0);

  it("changes each flag once, through its transitions", () => {
    const e = fresh();
    assert.deepEqual([e.slotHeld, e.lost, e.abandoned, e.finished, e.ackQueued], [true, false, false, false, false]);
    assert.equal(e.freeSlot(), true);
    assert.equal(e.freeSlot(), false);
    assert.equal(e.slotHeld, false);
    e.queueForAck();
    assert.equal(e.ackQueued, true);
    e.ackSettled();
    assert.equal(e.ackQueued, false);
    assert.equal(e.finish(), true);
    assert.equal(e.finish(), false);
    assert.equal(e.finished, true);
  });

  it("aborts its signal with the first reason only, also when read after the abort", () => {
    const e = fresh();
    const first = new Error("lost");
    assert.equal(e.lose(first), true);
    assert.equal(e.lose(new Error("again")), false);
    e.abandon(new Error("shutdown"));
    assert.deepEqual([e.lost, e.abandoned], [true, true]);
    assert.equal(e.signal.aborted, true);
    assert.equal(e.signal.reason, first);
  });

  it("carries on with a renewed delivery and records the timings of a success", () => {
    const e = fresh();
    const renewed = delivery(2);
    e.renew(renewed);
    assert.equal(e.delivery, renewed);
    assert.equal(e.id, "t1");
    e.succeeded(12, 3);
    assert.deepEqual([e.runTime, e.waitTime], [12, 3]);
  });

  it("exposes its state read-only", () => {
    const e = fresh();
    assert.throws(() => {
      (e as unknown as { lost: boolean }).lost = true;
    }, TypeError);
    assert.equal(e.lost, false);
  });
});
