import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { MemoryQueue } from "../adapters/memory/mod.ts";
import type { FailedTask, RunnerConfig } from "../mod.ts";
import type { Consumer } from "../src/queue.ts";
import { deferred, engine, type EngineFixture, stopAll, tick, until } from "./_engine_helpers.ts";
import { ManualClock } from "../testing/manual_clock.ts";

/** Reservation timeout of the tests' tasks, in ms (reclaim and handler claims run every half of it). */
const RESERVATION = 1_000;

let running: EngineFixture[] = [];
afterEach(async () => {
  await stopAll(running);
  running = [];
});

/**
 * `n` runners on one MemoryQueue and one ManualClock, each with the task
 * "doomed" (always fails, no retry) and runner i's config from `configFor(i)`.
 */
function fleet(n: number, configFor: (i: number) => RunnerConfig): { clock: ManualClock; queue: MemoryQueue; runners: EngineFixture[] } {
  const clock = new ManualClock();
  const queue = new MemoryQueue({ clock });
  const runners = Array.from({ length: n }, (_, i) => {
    const f = engine(configFor(i), {}, { clock, queue });
    f.runner.registerTask({
      name: "doomed",
      maxRetry: 0,
      reservationTimeout: RESERVATION,
      action: (_payload: { n: number }) => {
        throw new Error("always fails");
      },
    });
    running.push(f);
    return f;
  });
  return { clock, queue, runners };
}

/**
 * A runner that dead-lettered a task with a handler lease and died before
 * calling the handler: its dead-letter call, and nothing after it.
 */
async function crashedAfterDeadLetter(queue: MemoryQueue, lease: number): Promise<{ id: string; deadLetterId: string }> {
  const crashed: Consumer = { group: "test", name: "crashed-runner" };
  await queue.init("test");
  await queue.add([{ id: "t-1", name: "doomed", body: '{"n":1}', attempt: 0, reservationTimeout: RESERVATION }]);
  const [d] = await queue.receive(crashed, { count: 1, block: 0 });
  const failure = { name: "TypeError", message: "card declined", stack: "TypeError: card declined\n    at charge" };
  const deadLetterId = await queue.deadLetter(crashed, d, "max-retries", failure, { handlerLease: lease });
  assert.equal(typeof deadLetterId, "string");
  return { id: d.id, deadLetterId: deadLetterId as string };
}

/** Let `ms` of runner time pass in steps, so periodic work runs between them. */
async function pass(clock: ManualClock, ms: number, step = 500): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    await clock.advance(Math.min(step, ms - t));
    await tick();
  }
}

describe("failedTaskHandler across crashes", () => {
  it("runs, on one of the other runners and exactly once, the handler of a runner that died after dead-lettering", async () => {
    const calls: { runner: number; task: FailedTask; error: unknown }[] = [];
    const { clock, queue, runners } = fleet(2, (i) => ({
      failedTaskHandler: (task, error) => void calls.push({ runner: i, task, error }),
    }));
    const lease = 8_000;
    const { id } = await crashedAfterDeadLetter(queue, lease);
    for (const f of runners) await f.runner.start();
    await pass(clock, lease - 500);
    assert.equal(calls.length, 0, "nobody takes the call over while its lease holds");
    await pass(clock, 500 + RESERVATION);
    await until(() => calls.length === 1, "the handler was taken over");
    await pass(clock, lease * 4);
    assert.equal(calls.length, 1, "called exactly once across the runners");
    const [{ task, error }] = calls;
    assert.equal(task.id, id);
    assert.equal(task.name, "doomed");
    assert.deepEqual(task.payload, { n: 1 });
    assert.equal(task.body, '{"n":1}');
    assert.equal(task.attempt, 1);
    assert.equal(task.reason, "max-retries");
    assert.deepEqual(task.failure, { name: "TypeError", message: "card declined", stack: "TypeError: card declined\n    at charge" });
    assert.ok(error instanceof Error, "the handler gets an Error rebuilt from the recorded failure");
    assert.equal(error.name, "TypeError");
    assert.equal(error.message, "card declined");
    assert.deepEqual(await queue.claimFailedHandlers({ group: "test", name: "probe" }, { lease: 1, count: 10 }), []);
  });

  it("the dead-lettering runner leases the call, runs the handler once and completes it: no other runner repeats it", async () => {
    const calls: number[] = [];
    const { clock, queue, runners } = fleet(2, (i) => ({ failedTaskHandler: () => void calls.push(i) }));
    for (const f of runners) await f.runner.start();
    await runners[0].runner.dispatch("doomed", { n: 2 });
    await until(() => calls.length === 1, "the handler ran");
    const leases = runners.flatMap((f) => (f.calls.deadLetter ?? []).map((args) => (args[4] as { handlerLease?: number }).handlerLease));
    assert.equal(leases.length, 1);
    assert.ok(leases[0]! >= RESERVATION, `the dead letter carries a handler lease of at least the reservation, got ${leases[0]}`);
    await pass(clock, leases[0]! * 3);
    assert.equal(calls.length, 1);
    assert.deepEqual(await queue.claimFailedHandlers({ group: "test", name: "probe" }, { lease: 1, count: 10 }), [], "completed, not merely leased");
  });

  it("a handler still running at half its lease keeps its single call: no runner starts it again", async () => {
    const calls: number[] = [];
    const release = deferred();
    const { clock, queue, runners } = fleet(2, (i) => ({
      failedTaskHandler: async () => {
        calls.push(i);
        await release.promise;
      },
    }));
    for (const f of runners) await f.runner.start();
    await runners[0].runner.dispatch("doomed", { n: 3 });
    await until(() => calls.length === 1, "the handler started");
    const lease = (runners.flatMap((f) => f.calls.deadLetter ?? [])[0][4] as { handlerLease: number }).handlerLease;
    await pass(clock, lease * 3);
    assert.equal(calls.length, 1);
    assert.deepEqual(await queue.claimFailedHandlers({ group: "test", name: "probe" }, { lease: 1, count: 10 }), []);
    release.resolve();
  });

  it("a throwing handler taken over from a dead runner is logged and reported, and never called again", async () => {
    let calls = 0;
    const logged: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (m: string) => void logged.push(m) };
    const { clock, queue, runners: [f] } = fleet(1, () => ({
      logger,
      failedTaskHandler: () => {
        calls++;
        throw new Error("handler broke");
      },
    }));
    const errors: Error[] = [];
    f.runner.on("error", (e) => void errors.push(e));
    const lease = 3_000;
    await crashedAfterDeadLetter(queue, lease);
    await f.runner.start();
    await pass(clock, lease + RESERVATION);
    await until(() => errors.length === 1, "error event");
    assert.match(errors[0].message, /failedTaskHandler threw/);
    assert.ok(logged.includes("failedTaskHandler threw"));
    await pass(clock, lease * 4);
    assert.equal(calls, 1);
    assert.deepEqual(await queue.claimFailedHandlers({ group: "test", name: "probe" }, { lease: 1, count: 10 }), []);
  });

  it("a runner without failedTaskHandler leaves no call pending and takes over none", async () => {
    const { clock, queue, runners: [f] } = fleet(1, () => ({}));
    const lease = 3_000;
    const { deadLetterId } = await crashedAfterDeadLetter(queue, lease);
    await f.runner.start();
    const dead: string[] = [];
    f.runner.on("dead", (e) => void dead.push(e.id));
    const id = await f.runner.dispatch("doomed", { n: 4 });
    await until(() => dead.includes(id), "dead-lettered");
    assert.equal((f.calls.deadLetter[0][4] as { handlerLease?: number } | undefined)?.handlerLease ?? 0, 0);
    await pass(clock, lease * 2);
    const pending = await queue.claimFailedHandlers({ group: "test", name: "probe" }, { lease: 1, count: 10 });
    assert.deepEqual(pending.map((l) => l.deadLetterId), [deadLetterId], "only the dead runner's call is pending, untouched");
  });
});
