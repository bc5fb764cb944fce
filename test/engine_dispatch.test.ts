import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as v from "valibot";
import {
  DuplicateTaskError,
  PayloadValidationError,
  TransportError,
  UnknownTaskError,
  ValidationError,
} from "../mod.ts";
import { until, engineSetup } from "./_engine_helpers.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const setup = engineSetup();

describe("dispatch", () => {
  it("adds a task and resolves to its id (a UUID)", async () => {
    const { runner, queue } = setup();
    runner.registerTask({ name: "hello", action: () => {} });
    const id = await runner.dispatch("hello", "world");
    assert.match(id, UUID);
    assert.equal((await queue.counts("test")).waiting, 1);
  });

  it("rejects with a TransportError keeping the cause when the transport refuses the add (Redis OOM, down)", async () => {
    const refusal = new Error("OOM command not allowed when used memory > 'maxmemory'.");
    const { runner } = setup({}, { add: () => Promise.reject(refusal) });
    const t = runner.registerTask({ name: "t", action: (_p: number) => {} });
    for (const attempt of [() => runner.dispatch("t", 1), () => t.dispatchBulk([{ payload: 2 }])]) {
      await assert.rejects(attempt(), (e: unknown) => {
        assert.ok(e instanceof TransportError);
        assert.equal(e.cause, refusal);
        assert.match(e.message, /add.*OOM command not allowed/);
        return true;
      });
    }
  });

  it("rejects an unregistered name with UnknownTaskError", async () => {
    const { runner } = setup();
    await assert.rejects(runner.dispatch("nope", 1), (e: unknown) => {
      assert.ok(e instanceof UnknownTaskError);
      assert.equal(e.taskName, "nope");
      return true;
    });
  });

  it("refuses payloads JSON cannot carry faithfully, naming where, and adds nothing", async () => {
    const { runner, queue } = setup();
    const t = runner.registerTask({ name: "t", action: (_p: unknown) => {} });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const cases: [unknown, RegExp][] = [
      [{ n: 10n }, /n: BigInt cannot be encoded/],
      [{ f: () => 1 }, /f: a function cannot be encoded/],
      [cyclic, /self: cyclic structure/],
      [undefined, /undefined cannot be encoded/],
      [[1, undefined], /1: undefined cannot be encoded/],
      [{ x: NaN }, /x: NaN is not representable/],
      [{ m: new Map() }, /m: Map cannot be encoded/],
      [Symbol("s"), /a symbol cannot be encoded/],
    ];
    for (const [payload, pattern] of cases) {
      await assert.rejects(t.dispatch(payload), (e: unknown) => {
        assert.ok(e instanceof PayloadValidationError, `expected PayloadValidationError for ${String(pattern)}`);
        assert.match(e.message, pattern);
        assert.equal(e.taskName, "t");
        return true;
      });
    }
    assert.equal((await queue.counts("test")).waiting, 0);
  });

  it("encodes Dates through toJSON and omits undefined properties, as JSON does", async () => {
    const { runner, queue } = setup();
    const t = runner.registerTask({ name: "t", action: (_p: unknown) => {} });
    await t.dispatch({ when: new Date(0), skip: undefined });
    const [d] = await queue.receive({ group: "test", name: "probe" }, { count: 1, block: 0 });
    assert.equal(d.body, '{"when":"1970-01-01T00:00:00.000Z"}');
  });

  it("refuses payloads over maxPayloadBytes, counting UTF-8 bytes", async () => {
    const { runner } = setup({ maxPayloadBytes: 20 });
    const t = runner.registerTask({ name: "t", action: (_p: string) => {} });
    await t.dispatch("é".repeat(8)); // 18 bytes with quotes
    await assert.rejects(t.dispatch("é".repeat(10)), /22 bytes, over the limit of 20 bytes/);
  });

  it("validates the payload against a valibot schema (Standard Schema) before adding", async () => {
    const { runner, queue } = setup();
    const send = runner.registerTask({
      name: "email",
      schema: v.object({ to: v.pipe(v.string(), v.email()) }),
      action: () => {},
    });
    await assert.rejects(send.dispatch({ to: "not-an-email" }), (e: unknown) => {
      assert.ok(e instanceof PayloadValidationError);
      assert.equal(e.issues[0].path, "to");
      assert.match(e.message, /Invalid payload for task 'email': to: /);
      return true;
    });
    assert.equal((await queue.counts("test")).waiting, 0);
    assert.match(await send.dispatch({ to: "ada@example.com" }), UUID);
  });

  it("rejects both delay and at, negative delays and invalid dates", async () => {
    const { runner } = setup();
    const t = runner.registerTask({ name: "t", action: (_p: number) => {} });
    await assert.rejects(t.dispatch(1, { delay: 5, at: 10 }), ValidationError);
    await assert.rejects(t.dispatch(1, { delay: -1 }), /'delay' must be a non-negative finite number of milliseconds, got -1/);
    await assert.rejects(t.dispatch(1, { at: new Date("nope") }), /'at' must be a valid Date/);
  });

  it("treats an instant in the past as due now", async () => {
    const { runner, queue, clock } = setup();
    const t = runner.registerTask({ name: "t", action: (_p: number) => {} });
    await t.dispatch(1, { at: clock.now() - 1000 });
    const counts = await queue.counts("test");
    assert.equal(counts.waiting, 1);
    assert.equal(counts.delayed, 0);
  });
});

describe("unique tasks", () => {
  it("reject a duplicate with DuplicateTaskError carrying the existing task's id", async () => {
    const { runner } = setup();
    const t = runner.registerTask({
      name: "sync",
      unique: true,
      uniqueKey: (p: { user: string }) => p.user,
      action: () => {},
    });
    const first = await t.dispatch({ user: "ada" });
    await assert.rejects(t.dispatch({ user: "ada" }), (e: unknown) => {
      assert.ok(e instanceof DuplicateTaskError);
      assert.equal(e.existingId, first);
      assert.equal(e.uniqueKey, "ada");
      assert.equal(e.taskName, "sync");
      return true;
    });
    assert.match(await t.dispatch({ user: "bob" }), UUID, "another key is not a duplicate");
  });

  it("accept the same key again once the task completed", async () => {
    const { runner } = setup();
    let completed = 0;
    runner.on("completed", () => completed++);
    const t = runner.registerTask({ name: "once", unique: true, action: () => {} });
    await t.dispatch(null);
    await assert.rejects(t.dispatch(null), DuplicateTaskError);
    await runner.start();
    await until(() => completed === 1, "the task completed");
    assert.match(await t.dispatch(null), UUID);
  });

  it("keep refusing until uniqueFor has passed since the accepted dispatch", async () => {
    const { runner, clock } = setup();
    let runs = 0;
    const t = runner.registerTask({ name: "hourly", unique: true, uniqueFor: 1_000, action: () => void runs++ });
    await runner.start();
    await t.dispatch(null);
    await until(() => runs === 1, "the task ran");
    await clock.advance(500);
    await assert.rejects(t.dispatch(null), DuplicateTaskError);
    await clock.advance(501);
    assert.match(await t.dispatch(null), UUID);
  });

  it("hold the lock while a failed run waits for its retry, and release it on dead-lettering", async () => {
    const { runner, clock } = setup();
    let dead = 0;
    let retrying = 0;
    runner.on("dead", () => dead++);
    runner.on("retrying", () => retrying++);
    const t = runner.registerTask({
      name: "charge",
      unique: true,
      uniqueKey: (p: { order: number }) => String(p.order),
      maxRetry: 1,
      backoff: { type: "fixed", delay: 1_000 },
      action: () => {
        throw new Error("declined");
      },
    });
    await runner.start();
    const first = await t.dispatch({ order: 1 });
    await until(() => retrying === 1, "waiting for its retry");
    await assert.rejects(t.dispatch({ order: 1 }), (e: unknown) => e instanceof DuplicateTaskError && e.existingId === first);
    await clock.advance(1_000);
    await until(() => dead === 1, "dead-lettered");
    assert.match(await t.dispatch({ order: 1 }), UUID);
  });
});

describe("dispatchBulk", () => {
  it("adds every item in ONE transport call and returns per-item results in order", async () => {
    const { runner, calls, queue } = setup();
    runner.registerTask({ name: "a", action: (_p: number) => {} });
    runner.registerTask({ name: "b", action: (_p: number) => {} });
    const results = await runner.dispatchBulk([
      { name: "a", payload: 1 },
      { name: "b", payload: 2, options: { delay: 100 } },
      { name: "a", payload: 3 },
    ]);
    assert.equal(calls.add.length, 1);
    assert.equal((calls.add[0][0] as unknown[]).length, 3);
    assert.equal(results.length, 3);
    for (const r of results) assert.ok(r.ok && UUID.test(r.id));
    const counts = await queue.counts("test");
    assert.equal(counts.waiting, 2);
    assert.equal(counts.delayed, 1);
  });

  it("reports duplicates per item and adds the rest", async () => {
    const { runner } = setup();
    const t = runner.registerTask({ name: "u", unique: true, uniqueKey: (k: string) => k, action: () => {} });
    const existing = await t.dispatch("x");
    const results = await t.dispatchBulk([{ payload: "x" }, { payload: "y" }, { payload: "y" }]);
    assert.equal(results[0].ok, false);
    assert.ok(!results[0].ok && results[0].error instanceof DuplicateTaskError);
    assert.ok(!results[0].ok && results[0].error.existingId === existing);
    assert.ok(results[1].ok);
    assert.ok(!results[2].ok && results[1].ok && results[2].error.existingId === results[1].id);
  });

  it("rejects the whole call, adding nothing, when any item is invalid", async () => {
    const { runner, queue, calls } = setup();
    runner.registerTask({ name: "a", action: (_p: unknown) => {} });
    await assert.rejects(
      runner.dispatchBulk([{ name: "a", payload: 1 }, { name: "a", payload: 2n }]),
      PayloadValidationError,
    );
    await assert.rejects(runner.dispatchBulk([{ name: "a", payload: 1 }, { name: "zzz", payload: 2 }]), UnknownTaskError);
    assert.equal(calls.add, undefined);
    assert.equal((await queue.counts("test")).waiting, 0);
  });

  it("makes no transport call for an empty list", async () => {
    const { runner, calls } = setup();
    assert.deepEqual(await runner.dispatchBulk([]), []);
    assert.equal(calls.add, undefined);
  });
});
