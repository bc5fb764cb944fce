import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as v from "valibot";
import {
  type DeadEvent,
  type FailedTask,
  PayloadValidationError,
  type RetryingEvent,
  type TaskContext,
  type TaskRunner,
  TaskTimeoutError,
  UnknownTaskError,
  UnrecoverableError,
} from "../mod.ts";
import { deferred, forever, until, engineSetup } from "./_engine_helpers.ts";

const setup = engineSetup();

function collect<T>(runner: TaskRunner, event: "dead" | "retrying" | "completed" | "failed" | "lost" | "error") {
  const out: T[] = [];
  runner.on(event, (e) => out.push(e as T));
  return out;
}

describe("running tasks", () => {
  it("calls the action with the payload and a context (id, name, attempt 0, live signal)", async () => {
    const { runner } = setup();
    const seen: { payload: unknown; ctx: TaskContext; aborted: boolean }[] = [];
    const t = runner.registerTask({
      name: "greet",
      action: (payload: { who: string }, ctx) => void seen.push({ payload, ctx, aborted: ctx.signal.aborted }),
    });
    await runner.start();
    const id = await t.dispatch({ who: "world" });
    await until(() => seen.length === 1, "the action ran");
    assert.deepEqual(seen[0].payload, { who: "world" });
    assert.equal(seen[0].ctx.id, id);
    assert.equal(seen[0].ctx.name, "greet");
    assert.equal(seen[0].ctx.attempt, 0);
    assert.equal(seen[0].aborted, false);
  });

  it("removes a task from the queue only after its action succeeded", async () => {
    const { runner, queue } = setup();
    const gate = deferred();
    let started = false;
    const completed = collect<unknown>(runner, "completed");
    const t = runner.registerTask({ name: "slow", action: () => {
      started = true;
      return gate.promise;
    } });
    await runner.start();
    await t.dispatch(null);
    await until(() => started, "the action started");
    assert.equal((await queue.counts("test")).inFlight, 1);
    gate.resolve();
    await until(() => completed.length === 1, "completed");
    const counts = await queue.counts("test");
    assert.equal(counts.inFlight + counts.waiting, 0);
  });

  it("emits completed with run and wait times measured on the runner clock", async () => {
    const { runner, clock } = setup();
    const completed = collect<{ runTime: number; waitTime: number; attempt: number }>(runner, "completed");
    const gate = deferred();
    let started = false;
    const t = runner.registerTask({ name: "timed", action: () => {
      started = true;
      return gate.promise;
    } });
    await runner.start();
    await t.dispatch(null);
    await until(() => started, "the action started");
    await clock.advance(250);
    gate.resolve();
    await until(() => completed.length === 1, "completed");
    assert.equal(completed[0].runTime, 250);
    assert.equal(completed[0].waitTime, 0);
    assert.equal(completed[0].attempt, 0);
  });
});

describe("retries", () => {
  it("maxRetry N means N + 1 runs, then a dead letter with the last error", async () => {
    const { runner, queue } = setup();
    const attempts: number[] = [];
    const dead = collect<DeadEvent>(runner, "dead");
    const t = runner.registerTask({
      name: "flaky",
      maxRetry: 2,
      backoff: () => 0,
      action: (_p: null, ctx) => {
        attempts.push(ctx.attempt);
        throw new Error(`boom ${ctx.attempt}`);
      },
    });
    await runner.start();
    const id = await t.dispatch(null);
    await until(() => dead.length === 1, "dead-lettered");
    assert.deepEqual(attempts, [0, 1, 2]);
    assert.equal(dead[0].id, id);
    assert.equal(dead[0].reason, "max-retries");
    assert.equal(dead[0].attempt, 3);
    assert.equal(dead[0].failure.message, "boom 2");
    const page = await queue.listDeadLetters({ limit: 10 });
    assert.equal(page.items.length, 1);
    assert.equal(page.items[0].reason, "max-retries");
    assert.equal(page.items[0].error.message, "boom 2");
    assert.equal(page.items[0].id, id);
  });

  it("maxRetry 0 means exactly one run", async () => {
    const { runner } = setup();
    let runs = 0;
    const dead = collect<DeadEvent>(runner, "dead");
    const t = runner.registerTask({ name: "once", maxRetry: 0, action: () => {
      runs++;
      throw new Error("no");
    } });
    await runner.start();
    await t.dispatch(null);
    await until(() => dead.length === 1, "dead-lettered");
    assert.equal(runs, 1);
  });

  it("waits the fixed backoff before the next run, to the millisecond", async () => {
    const { runner, clock } = setup();
    let runs = 0;
    const t = runner.registerTask({
      name: "fixed",
      maxRetry: 1,
      backoff: { type: "fixed", delay: 300 },
      action: () => {
        runs++;
        throw new Error("again");
      },
    });
    const retrying = collect<RetryingEvent>(runner, "retrying");
    await runner.start();
    await t.dispatch(null);
    await until(() => retrying.length === 1, "retry scheduled");
    assert.equal(retrying[0].delay, 300);
    assert.equal(retrying[0].attempt, 1);
    await clock.advance(299);
    assert.equal(runs, 1);
    await clock.advance(1);
    await until(() => runs === 2, "second run after 300 ms");
  });

  it("passes the failure count and the error to a custom backoff function", async () => {
    const { runner } = setup();
    const calls: [number, unknown][] = [];
    const t = runner.registerTask({
      name: "custom",
      maxRetry: 2,
      backoff: (attempt, error) => {
        calls.push([attempt, (error as Error).message]);
        return 0;
      },
      action: (_p: null, ctx) => {
        throw new Error(`e${ctx.attempt}`);
      },
    });
    const dead = collect<DeadEvent>(runner, "dead");
    await runner.start();
    await t.dispatch(null);
    await until(() => dead.length === 1, "dead-lettered");
    assert.deepEqual(calls, [[1, "e0"], [2, "e1"]]);
  });

  it("uses exponential backoff with jitter by default", async () => {
    const { runner } = setup();
    const t = runner.registerTask({ name: "exp", maxRetry: 1, action: () => {
      throw new Error("x");
    } });
    const retrying = collect<RetryingEvent>(runner, "retrying");
    await runner.start();
    await t.dispatch(null);
    await until(() => retrying.length === 1, "retry scheduled");
    assert.ok(retrying[0].delay >= 500 && retrying[0].delay <= 1000, `delay ${retrying[0].delay}`);
  });

  it("skips the remaining retries on UnrecoverableError", async () => {
    const { runner } = setup();
    let runs = 0;
    const dead = collect<DeadEvent>(runner, "dead");
    const t = runner.registerTask({ name: "fatal", maxRetry: 5, action: () => {
      runs++;
      throw new UnrecoverableError("card declined");
    } });
    await runner.start();
    await t.dispatch(null);
    await until(() => dead.length === 1, "dead-lettered");
    assert.equal(runs, 1);
    assert.equal(dead[0].reason, "unrecoverable");
    assert.equal(dead[0].failure.name, "UnrecoverableError");
  });

  it("records non-Error throws faithfully: throw 42 and throw undefined", async () => {
    const handled: unknown[] = [];
    const { runner, queue } = setup({ failedTaskHandler: (_task, error) => void handled.push(error) });
    const dead = collect<DeadEvent>(runner, "dead");
    const t = runner.registerTask({ name: "odd", maxRetry: 0, action: (kind: string) => {
      if (kind === "number") throw 42;
      throw undefined;
    } });
    await runner.start();
    await t.dispatch("number");
    await until(() => dead.length === 1, "first dead letter");
    await t.dispatch("undefined");
    await until(() => dead.length === 2, "second dead letter");
    assert.deepEqual(handled, [42, undefined]);
    const items = (await queue.listDeadLetters({ limit: 10 })).items;
    assert.deepEqual(items.map((i) => i.error.message), [
      "non-Error value thrown: 42",
      "non-Error value thrown: undefined",
    ]);
    assert.deepEqual(items.map((i) => i.error.name), ["NonErrorThrown", "NonErrorThrown"]);
  });

  it("survives hostile throws: a revoked Proxy is recorded, a huge message is clipped", async () => {
    const { runner, queue } = setup();
    const dead = collect<DeadEvent>(runner, "dead");
    const t = runner.registerTask({ name: "hostile", maxRetry: 0, action: (kind: string) => {
      if (kind === "proxy") {
        const { proxy, revoke } = Proxy.revocable({}, {});
        revoke();
        throw proxy;
      }
      throw new Error("x".repeat(1_000_000));
    } });
    await runner.start();
    await t.dispatch("proxy");
    await t.dispatch("huge");
    await until(() => dead.length === 2, "both dead-lettered");
    const items = (await queue.listDeadLetters({ limit: 10 })).items;
    assert.deepEqual(items.map((i) => i.reason), ["max-retries", "max-retries"]);
    assert.match(items[0].error.message, /uninspectable/);
    assert.ok(items[1].error.message.length <= 8_192);
    assert.match(items[1].error.message, /1000000 characters, truncated/);
  });
});

describe("failedTaskHandler", () => {
  it("is called exactly once per dead-lettered task, with the task and the last real error", async () => {
    const calls: [FailedTask, unknown][] = [];
    const { runner, clock } = setup({ failedTaskHandler: (task, error) => void calls.push([task, error]) });
    const t = runner.registerTask({
      name: "doomed",
      maxRetry: 1,
      backoff: { type: "fixed", delay: 10 },
      action: (_p: { n: number }, ctx) => {
        throw new Error(`attempt ${ctx.attempt}`);
      },
    });
    const retrying = collect<RetryingEvent>(runner, "retrying");
    await runner.start();
    const id = await t.dispatch({ n: 1 });
    await until(() => retrying.length === 1, "first run failed");
    await clock.advance(10);
    await until(() => calls.length === 1, "handler called");
    await clock.advance(5_000);
    assert.equal(calls.length, 1);
    const [task, error] = calls[0];
    assert.equal(task.id, id);
    assert.equal(task.name, "doomed");
    assert.deepEqual(task.payload, { n: 1 });
    assert.equal(task.body, '{"n":1}');
    assert.equal(task.reason, "max-retries");
    assert.equal(task.attempt, 2);
    assert.equal((error as Error).message, "attempt 1");
  });

  it("that throws is logged and reported as an error event, never called again, and the runner goes on", async () => {
    let calls = 0;
    const logged: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (m: string) => void logged.push(m) };
    const { runner } = setup({
      logger,
      failedTaskHandler: () => {
        calls++;
        throw new Error("handler broke");
      },
    });
    const errors = collect<Error>(runner, "error");
    let ok = 0;
    const bad = runner.registerTask({ name: "bad", maxRetry: 0, action: () => {
      throw new Error("x");
    } });
    const good = runner.registerTask({ name: "good", action: () => void ok++ });
    await runner.start();
    await bad.dispatch(null);
    await until(() => errors.length === 1, "error event");
    await good.dispatch(null);
    await until(() => ok === 1, "the runner still runs tasks");
    assert.equal(calls, 1);
    assert.match(errors[0].message, /failedTaskHandler threw/);
    assert.equal((errors[0].cause as Error).message, "handler broke");
    assert.ok(logged.includes("failedTaskHandler threw"));
  });

  it("that never settles holds stop() no longer than the grace period", async () => {
    const { runner, clock } = setup({
      shutdownTimeout: 1_000,
      failedTaskHandler: () => new Promise<void>(() => {}),
    });
    let dead = 0;
    runner.on("dead", () => dead++);
    const t = runner.registerTask({ name: "t", maxRetry: 0, action: () => {
      throw new Error("x");
    } });
    await runner.start();
    await t.dispatch(null);
    await until(() => dead === 1, "dead-lettered");
    let stopped = false;
    const stopping = runner.stop().then(() => (stopped = true));
    await clock.advance(999);
    assert.equal(stopped, false, "the handler gets the grace period");
    await clock.advance(1);
    await until(() => stopped, "stopped after the grace period");
    await stopping;
  });
});

describe("timeouts", () => {
  it("abort ctx.signal and free the worker slot even if the action never settles", async () => {
    const { runner, clock } = setup({ numWorkers: 1 });
    const signals: AbortSignal[] = [];
    let quickRuns = 0;
    const stuck = runner.registerTask({
      name: "stuck",
      timeout: 1_000,
      maxRetry: 0,
      action: (_p: null, ctx) => {
        signals.push(ctx.signal);
        return forever();
      },
    });
    const quick = runner.registerTask({ name: "quick", action: () => void quickRuns++ });
    const dead = collect<DeadEvent>(runner, "dead");
    await runner.start();
    await stuck.dispatch(null);
    await until(() => signals.length === 1, "stuck task started");
    await quick.dispatch(null);
    await clock.advance(999);
    assert.equal(quickRuns, 0, "the only slot is still taken");
    assert.equal(signals[0].aborted, false);
    await clock.advance(1);
    await until(() => quickRuns === 1, "the slot was freed");
    assert.ok(signals[0].aborted);
    assert.ok(signals[0].reason instanceof TaskTimeoutError);
    await until(() => dead.length === 1, "the timed-out run counts as failed");
    assert.equal(dead[0].failure.name, "TaskTimeoutError");
    assert.match(dead[0].failure.message, /timed out after 1000 ms/);
  });

  it("retry a timed-out task like any failed run", async () => {
    const { runner, clock } = setup();
    const attempts: number[] = [];
    const t = runner.registerTask({
      name: "slowpoke",
      timeout: 50,
      maxRetry: 1,
      backoff: () => 0,
      action: (_p: null, ctx) => {
        attempts.push(ctx.attempt);
        return ctx.attempt === 0 ? forever() : undefined;
      },
    });
    const completed = collect<unknown>(runner, "completed");
    await runner.start();
    await t.dispatch(null);
    await until(() => attempts.length === 1, "first run");
    await clock.advance(50);
    await until(() => completed.length === 1, "second run completed");
    assert.deepEqual(attempts, [0, 1]);
  });
});

describe("payloads at execution", () => {
  it("dead-letters a payload failing the schema as invalid-payload, without running it", async () => {
    const handled: FailedTask[] = [];
    const { runner, queue } = setup({ failedTaskHandler: (task) => void handled.push(task) });
    let runs = 0;
    runner.registerTask({ name: "strict", schema: v.object({ n: v.number() }), action: () => void runs++ });
    const dead = collect<DeadEvent>(runner, "dead");
    // Written by an older producer with another shape.
    await queue.add([{ id: "old-1", name: "strict", body: '{"n":"one"}', attempt: 0, reservationTimeout: 30_000 }]);
    await runner.start();
    await until(() => dead.length === 1, "dead-lettered");
    assert.equal(runs, 0);
    assert.equal(dead[0].reason, "invalid-payload");
    assert.ok(dead[0].error instanceof PayloadValidationError);
    assert.equal(dead[0].failure.name, "PayloadValidationError");
    assert.deepEqual(handled.map((h) => [h.id, h.reason]), [["old-1", "invalid-payload"]]);
  });

  it("dead-letters a body that is not JSON as invalid-payload", async () => {
    const { runner, queue } = setup();
    runner.registerTask({ name: "j", action: () => {} });
    const dead = collect<DeadEvent>(runner, "dead");
    await queue.add([{ id: "raw", name: "j", body: "{nope", attempt: 0, reservationTimeout: 30_000 }]);
    await runner.start();
    await until(() => dead.length === 1, "dead-lettered");
    assert.equal(dead[0].reason, "invalid-payload");
    assert.match(dead[0].failure.message, /not valid JSON/);
  });

  it("passes the schema's output (transforms applied) to the action", async () => {
    const { runner } = setup();
    const seen: unknown[] = [];
    const t = runner.registerTask({
      name: "shout",
      schema: v.pipe(v.string(), v.transform((s) => s.toUpperCase())),
      action: (payload) => void seen.push(payload),
    });
    await runner.start();
    await t.dispatch("hi");
    await until(() => seen.length === 1, "ran");
    assert.deepEqual(seen, ["HI"]);
  });

  it("dead-letters malformed deliveries as malformed", async () => {
    const { runner, queue } = setup();
    const dead = collect<DeadEvent>(runner, "dead");
    await queue.injectMalformed("missing fields: name");
    await runner.start();
    await until(() => dead.length === 1, "dead-lettered");
    assert.equal(dead[0].reason, "malformed");
    assert.match(dead[0].failure.message, /missing fields: name/);
  });
});

describe("unknown task names", () => {
  it("are retried with backoff (another instance may know them), then dead-lettered, never acked away", async () => {
    const { runner, queue, clock } = setup({ unknownTaskMaxRetry: 2, backoff: { type: "fixed", delay: 100 } });
    const retrying = collect<RetryingEvent>(runner, "retrying");
    const dead = collect<DeadEvent>(runner, "dead");
    await queue.add([{ id: "ghost-1", name: "ghost", body: "null", attempt: 0, reservationTimeout: 30_000 }]);
    await runner.start();
    await until(() => retrying.length === 1, "first retry");
    assert.ok(retrying[0].error instanceof UnknownTaskError);
    assert.equal((await queue.counts("test")).delayed, 1);
    await clock.advance(100);
    await until(() => retrying.length === 2, "second retry");
    await clock.advance(100);
    await until(() => dead.length === 1, "dead-lettered");
    assert.equal(dead[0].reason, "unknown-task");
    assert.equal(dead[0].id, "ghost-1");
    const counts = await queue.counts("test");
    assert.equal(counts.dead, 1);
    assert.equal(counts.waiting + counts.inFlight + counts.delayed, 0);
  });

  it("run on an instance that knows them when one appears (rolling deploy)", async () => {
    const old = setup({ backoff: { type: "fixed", delay: 100 } });
    const retrying = collect<RetryingEvent>(old.runner, "retrying");
    await old.queue.add([{ id: "new-1", name: "newTask", body: '"hi"', attempt: 0, reservationTimeout: 30_000 }]);
    await old.runner.start();
    await until(() => retrying.length === 1, "retried by the old instance");
    await old.runner.stop();
    const fresh = setup({}, {}, { clock: old.clock, queue: old.queue });
    const seen: unknown[] = [];
    fresh.runner.registerTask({ name: "newTask", action: (p: string, ctx) => void seen.push([p, ctx.attempt]) });
    await fresh.runner.start();
    await old.clock.advance(100);
    await until(() => seen.length === 1, "run by the new instance");
    assert.deepEqual(seen, [["hi", 1]]);
  });
});
