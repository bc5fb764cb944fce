import assert from "node:assert/strict";
import { describe } from "node:test";
import { type Delivery, HISTOGRAM_BUCKETS, type StatsDelta, type TaskStatsDelta } from "../src/queue.ts";
import { emptyTaskDelta } from "../src/stats.ts";
import type { Spec } from "./_delivery_specs.ts";
import {
  assertNear,
  DELAY,
  GROUP,
  MARGIN,
  optionalMember,
  type QueueCapabilities,
  realSleep,
  RESERVATION,
  settlesWithin,
  type SuiteContext,
} from "./_fixture.ts";

/** Real time given to a new `onDelayedAdded` subscription to become active, in ms. */
const SUBSCRIBE_GRACE = 300;

const ids = (items: readonly { id: string }[]): string[] => items.map((d) => d.id);
const failure = (message: string): { name: string; message: string; stack: string } => ({
  name: "Error",
  message,
  stack: `Error: ${message}\n    at action (task.ts:1:1)`,
});

/** Add `n` tasks, receive them as c1 and dead-letter each one, oldest first. */
async function deadLetters(t: SuiteContext, n: number): Promise<Delivery[]> {
  const tasks = Array.from({ length: n }, () => t.task());
  await t.queue.add(tasks);
  const got = await t.queue.receive(t.c1, { count: n, block: 0 });
  for (const d of got) {
    assert.equal(typeof await t.queue.deadLetter(t.c1, d, "max-retries", failure(`failed ${d.id}`)), "string");
  }
  return got;
}

/** Bucket counts with `value` in bucket `index`. */
function buckets(index: number, value: number): number[] {
  const out = new Array<number>(HISTOGRAM_BUCKETS.length + 1).fill(0);
  out[index] = value;
  return out;
}

function taskStats(part: Partial<TaskStatsDelta>): TaskStatsDelta {
  return { ...emptyTaskDelta(), ...part };
}

/** dead letters, delayed tasks, unique locks, inspection, registry, flags, close. */
export function storeSpecs(spec: Spec, capabilities: QueueCapabilities = {}): void {
  describe("dead letters", () => {
    spec("records the task with its reason, error and attempts, and removes it from the queue", async (t) => {
      const task = t.task({ name: "charge", body: '{"amount":3}', attempt: 2, dispatchedAt: t.now() - 1_000 });
      await t.queue.add([task]);
      const [d] = await t.queue.receive(t.c1, { count: 1, block: 0 });
      const failedAt = t.now();
      const deadLetterId = await t.queue.deadLetter(t.c1, d, "max-retries", failure("card declined"));
      const { items, nextCursor } = await t.queue.listDeadLetters({ limit: 10 });
      assert.equal(nextCursor, null);
      assert.equal(items.length, 1);
      const [letter] = items;
      assert.equal(typeof letter.deadLetterId, "string");
      assert.ok(letter.deadLetterId.length > 0);
      assert.equal(deadLetterId, letter.deadLetterId, "deadLetter resolves to the new dead letter's id");
      assert.equal(letter.id, task.id);
      assert.equal(letter.name, "charge");
      assert.equal(letter.body, '{"amount":3}');
      assert.equal(letter.attempt, 3, "failed runs counted, including the last one");
      assert.equal(letter.reason, "max-retries");
      assert.deepEqual(letter.error, failure("card declined"));
      assert.equal(letter.dispatchedAt, task.dispatchedAt);
      assertNear(letter.failedAt, failedAt, t.tolerance, "failedAt");
      const counts = await t.queue.counts(GROUP);
      assert.equal(counts.dead, 1);
      assert.equal(counts.inFlight, 0);
      assert.equal(counts.waiting, 0);
      await t.advance(RESERVATION + MARGIN);
      assert.deepEqual((await t.queue.reclaim(t.c2, 10)).deliveries, []);
    });

    spec("keeps an error without a stack as given", async (t) => {
      await t.queue.add([t.task()]);
      const [d] = await t.queue.receive(t.c1, { count: 1, block: 0 });
      const error = { name: "NonErrorThrown", message: "non-Error value thrown: 42" };
      assert.equal(typeof await t.queue.deadLetter(t.c1, d, "unrecoverable", error), "string");
      const [letter] = (await t.queue.listDeadLetters({ limit: 1 })).items;
      assert.deepEqual(letter.error, error);
      assert.equal(letter.reason, "unrecoverable");
    });

    spec("returns the dead letter id to exactly one of two racing callers, false to the other", async (t) => {
      await t.queue.add([t.task()]);
      const [d] = await t.queue.receive(t.c1, { count: 1, block: 0 });
      const results = await Promise.all([
        t.queue.deadLetter(t.c1, d, "max-retries", failure("first")),
        t.queue.deadLetter(t.c1, d, "unrecoverable", failure("second")),
      ]);
      assert.equal(results.filter((r) => typeof r === "string").length, 1);
      assert.equal(results.filter((r) => r === false).length, 1);
      assert.equal((await t.queue.listDeadLetters({ limit: 10 })).items.length, 1);
      assert.equal((await t.queue.counts(GROUP)).dead, 1);
    });

    spec("refuses a dead letter from a non-owner or with a stale deliveryCount", async (t) => {
      await t.queue.add([t.task()]);
      const [d] = await t.queue.receive(t.c1, { count: 1, block: 0 });
      assert.equal(await t.queue.deadLetter(t.c2, d, "max-retries", failure("x")), false);
      await t.advance(RESERVATION + MARGIN);
      const { deliveries: [again] } = await t.queue.reclaim(t.c1, 10);
      assert.equal(await t.queue.deadLetter(t.c1, d, "max-retries", failure("x")), false);
      assert.equal((await t.queue.counts(GROUP)).dead, 0);
      assert.equal(typeof await t.queue.deadLetter(t.c1, again, "poison", failure("x")), "string");
    });

    spec("releases the task's unique lock", async (t) => {
      await t.queue.add([t.task({ unique: t.lock("dead-key") })]);
      const [d] = await t.queue.receive(t.c1, { count: 1, block: 0 });
      assert.equal(typeof await t.queue.deadLetter(t.c1, d, "max-retries", failure("x")), "string");
      assert.equal((await t.queue.add([t.task({ unique: t.lock("dead-key") })]))[0].ok, true);
    });

    spec("lists oldest first and pages with a cursor until nextCursor is null", async (t) => {
      const dead = await deadLetters(t, 5);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await t.queue.listDeadLetters({ cursor, limit: 2 });
        assert.ok(page.items.length <= 2, "a page holds at most limit items");
        seen.push(...ids(page.items));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null && pages < 10);
      assert.deepEqual(seen, ids(dead));
      assert.equal(pages, 3);
      const all = await t.queue.listDeadLetters({ limit: 100 });
      assert.deepEqual(ids(all.items), ids(dead));
      assert.equal(all.nextCursor, null);
    });

    spec("a page after the last dead letter is empty", async (t) => {
      await deadLetters(t, 2);
      const { items } = await t.queue.listDeadLetters({ limit: 10 });
      const after = await t.queue.listDeadLetters({ cursor: items[1].deadLetterId, limit: 10 });
      assert.deepEqual(after, { items: [], nextCursor: null });
      assert.deepEqual(await t.queue.listDeadLetters({ limit: 10, cursor: null }), { items, nextCursor: null });
    });

    spec("a cursor the queue never issued yields an empty page", async (t) => {
      await deadLetters(t, 1);
      assert.deepEqual(await t.queue.listDeadLetters({ cursor: "not-a-cursor", limit: 10 }), {
        items: [],
        nextCursor: null,
      });
    });

    spec("gets one dead letter by id, and null for an unknown id", async (t) => {
      const [, second] = await deadLetters(t, 2);
      const { items } = await t.queue.listDeadLetters({ limit: 10 });
      const letter = await t.queue.getDeadLetter(items[1].deadLetterId);
      assert.deepEqual(letter, items[1]);
      assert.equal(letter?.id, second.id);
      assert.equal(await t.queue.getDeadLetter("999999999-0"), null);
      assert.equal(await t.queue.getDeadLetter("999999999"), null);
      assert.equal(await t.queue.getDeadLetter("not-an-id"), null);
    });

    spec("replays a dead letter: gone from the store, ready at once with attempt 0 and the same id", async (t) => {
      const task = t.task({ attempt: 3 });
      await t.queue.add([task]);
      const [d] = await t.queue.receive(t.c1, { count: 1, block: 0 });
      await t.queue.deadLetter(t.c1, d, "max-retries", failure("x"));
      const [letter] = (await t.queue.listDeadLetters({ limit: 1 })).items;
      assert.equal(await t.queue.replayDeadLetter(letter.deadLetterId), true);
      assert.equal(await t.queue.getDeadLetter(letter.deadLetterId), null);
      assert.equal((await t.queue.counts(GROUP)).dead, 0);
      assert.equal((await t.queue.counts(GROUP)).waiting, 1);
      const [again, ...rest] = await t.queue.receive(t.c2, { count: 10, block: 0 });
      assert.equal(rest.length, 0);
      assert.equal(again.id, task.id);
      assert.equal(again.attempt, 0);
      assert.equal(again.name, task.name);
      assert.equal(again.body, task.body);
      assert.equal(again.deliveryCount, 1);
      assert.equal(await t.queue.replayDeadLetter(letter.deadLetterId), false, "a replay happens once");
    });

    spec("deletes a dead letter; replay and delete of unknown ids return false", async (t) => {
      await deadLetters(t, 2);
      const { items: [first, second] } = await t.queue.listDeadLetters({ limit: 10 });
      assert.equal(await t.queue.deleteDeadLetter(first.deadLetterId), true);
      assert.equal(await t.queue.deleteDeadLetter(first.deadLetterId), false);
      assert.equal(await t.queue.replayDeadLetter(first.deadLetterId), false);
      assert.equal(await t.queue.deleteDeadLetter("999999999-0"), false);
      assert.equal(await t.queue.replayDeadLetter("999999999-0"), false);
      assert.deepEqual((await t.queue.listDeadLetters({ limit: 10 })).items, [second]);
      assert.equal((await t.queue.counts(GROUP)).dead, 1);
      assert.equal((await t.queue.counts(GROUP)).waiting, 0);
    });

    spec("answers ids that are not dead-letter ids with null or false, never an error", async (t) => {
      await deadLetters(t, 1);
      const bad = [
        "abc",
        "",
        "-",
        "+",
        "1-",
        "-1",
        "1-2-3",
        " 1-0",
        "99999999999999999999",
        "99999999999999999999-0",
        "0-99999999999999999999",
        "18446744073709551616-0",
        "18446744073709551615-18446744073709551615",
      ];
      for (const id of bad) {
        assert.equal(await t.queue.getDeadLetter(id), null, `getDeadLetter(${JSON.stringify(id)})`);
        assert.equal(await t.queue.replayDeadLetter(id), false, `replayDeadLetter(${JSON.stringify(id)})`);
        assert.equal(await t.queue.deleteDeadLetter(id), false, `deleteDeadLetter(${JSON.stringify(id)})`);
        await t.queue.completeFailedHandler(id);
        assert.deepEqual(
          await t.queue.listDeadLetters({ cursor: id, limit: 10 }),
          { items: [], nextCursor: null },
          `listDeadLetters({ cursor: ${JSON.stringify(id)} })`,
        );
      }
      assert.equal((await t.queue.counts(GROUP)).dead, 1, "the stored dead letter is untouched");
    });
  });

  describe("delayed tasks", () => {
    spec("a delayed task is counted as delayed and not delivered before it is due", async (t) => {
      await t.queue.add([t.task({ delay: DELAY })]);
      const counts = await t.queue.counts(GROUP);
      assert.equal(counts.delayed, 1);
      assert.equal(counts.waiting, 0);
      assert.equal((await t.queue.promote()).promoted, 0);
      assert.deepEqual(await t.queue.receive(t.c1, { count: 10, block: 0 }), []);
    });

    spec("a delay of 0 makes the task ready at once", async (t) => {
      const task = t.task({ delay: 0 });
      await t.queue.add([task]);
      assert.equal((await t.queue.counts(GROUP)).delayed, 0);
      assert.deepEqual(ids(await t.queue.receive(t.c1, { count: 10, block: 0 })), [task.id]);
    });

    spec("promote moves only due tasks and reports nextDueAt and now", async (t) => {
      const addedAt = t.now();
      const soon = t.task({ delay: DELAY });
      const later = t.task({ delay: DELAY * 4 });
      await t.queue.add([later, soon]);
      await t.advance(DELAY + MARGIN);
      const result = await t.queue.promote();
      assert.equal(result.promoted, 1);
      assertNear(result.now, t.now(), t.tolerance, "now");
      assert.ok(result.nextDueAt !== null, "a delayed task remains");
      assertNear(result.nextDueAt, addedAt + DELAY * 4, t.tolerance, "nextDueAt");
      assert.ok(result.nextDueAt > result.now);
      const [d] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.equal(d.id, soon.id);
      assert.ok(d.readyAt >= addedAt + DELAY - t.tolerance, "readyAt is not before the due time");
      assert.ok(d.readyAt <= t.now() + t.tolerance);
      const counts = await t.queue.counts(GROUP);
      assert.equal(counts.delayed, 1);
      assert.equal(counts.inFlight, 1);
    });

    spec("promote with nothing delayed reports nextDueAt null", async (t) => {
      const result = await t.queue.promote();
      assert.equal(result.promoted, 0);
      assert.equal(result.nextDueAt, null);
      assertNear(result.now, t.now(), t.tolerance, "now");
    });

    spec("concurrent promote calls promote each due task exactly once", async (t) => {
      const tasks = Array.from({ length: 10 }, () => t.task({ delay: DELAY }));
      await t.queue.add(tasks);
      await t.advance(DELAY + MARGIN);
      const results = await Promise.all([1, 2, 3, 4].map(() => t.queue.promote()));
      assert.equal(results.reduce((sum, r) => sum + r.promoted, 0), 10);
      const got = await t.queue.receive(t.c1, { count: 100, block: 0 });
      assert.deepEqual(ids(got).sort(), ids(tasks).sort());
      assert.equal((await t.queue.counts(GROUP)).delayed, 0);
    });

    if (capabilities.onDelayedAdded !== false) {
      spec("onDelayedAdded tells listeners each new due time until unsubscribed", async (t) => {
        const onDelayedAdded = optionalMember(t.capabilities.onDelayedAdded, t.queue.onDelayedAdded, "onDelayedAdded");
        if (!onDelayedAdded) return; // optional member, not declared
        const seen: number[] = [];
        const unsubscribe = onDelayedAdded.call(t.queue, (dueAt) => seen.push(dueAt));
        try {
          // A subscription may take a moment to become active (a pub/sub round trip).
          await realSleep(SUBSCRIBE_GRACE);
          const addedAt = t.now();
          await t.queue.add([t.task({ delay: DELAY })]);
          for (let i = 0; i < 100 && seen.length === 0; i++) await realSleep(20);
          assert.equal(seen.length, 1);
          assertNear(seen[0], addedAt + DELAY, t.tolerance, "dueAt");
        } finally {
          unsubscribe();
        }
        await t.queue.add([t.task({ delay: DELAY })]);
        await realSleep(SUBSCRIBE_GRACE);
        assert.equal(seen.length, 1, "no call after unsubscribing");
      });
    }

    spec("a delayed unique task holds its lock while it waits", async (t) => {
      const task = t.task({ delay: DELAY, unique: t.lock("later-key") });
      await t.queue.add([task]);
      assert.deepEqual(await t.queue.add([t.task({ unique: t.lock("later-key") })]), [
        { ok: false, reason: "duplicate", existingId: task.id },
      ]);
    });
  });

  describe("unique locks", () => {
    spec("refuses a duplicate while the task is queued or running, naming the existing task", async (t) => {
      const task = t.task({ unique: t.lock("key") });
      assert.equal((await t.queue.add([task]))[0].ok, true);
      const duplicate = { ok: false, reason: "duplicate", existingId: task.id };
      assert.deepEqual(await t.queue.add([t.task({ unique: t.lock("key") })]), [duplicate]);
      const [d] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.deepEqual(await t.queue.add([t.task({ unique: t.lock("key") })]), [duplicate]);
      assert.deepEqual(await t.queue.receive(t.c1, { count: 10, block: 0 }), [], "the refused task was not added");
      assert.equal(d.id, task.id);
      assert.equal((await t.queue.add([t.task({ unique: t.lock("other-key") })]))[0].ok, true);
    });

    spec("releases the lock when the task is acked", async (t) => {
      await t.queue.add([t.task({ unique: t.lock("key") })]);
      const got = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.deepEqual(await t.queue.ack(t.c1, got), [true]);
      assert.equal((await t.queue.add([t.task({ unique: t.lock("key") })]))[0].ok, true);
    });

    spec("a refused ack does not release the lock", async (t) => {
      const task = t.task({ unique: t.lock("key") });
      await t.queue.add([task]);
      const got = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.deepEqual(await t.queue.ack(t.c2, got), [false]);
      assert.deepEqual(await t.queue.add([t.task({ unique: t.lock("key") })]), [
        { ok: false, reason: "duplicate", existingId: task.id },
      ]);
    });

    spec("keeps the lock for holdFor after an early ack, then releases it", async (t) => {
      const task = t.task({ unique: t.lock("key", { holdFor: RESERVATION * 2 }) });
      await t.queue.add([task]);
      const got = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.deepEqual(await t.queue.ack(t.c1, got), [true]);
      assert.deepEqual(await t.queue.add([t.task({ unique: t.lock("key") })]), [
        { ok: false, reason: "duplicate", existingId: task.id },
      ]);
      await t.advance(RESERVATION * 2 + MARGIN);
      assert.equal((await t.queue.add([t.task({ unique: t.lock("key") })]))[0].ok, true);
    });

    spec("releases at once on ack when holdFor has already passed", async (t) => {
      await t.queue.add([t.task({ unique: t.lock("key", { holdFor: DELAY }) })]);
      const got = await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(DELAY + MARGIN);
      assert.deepEqual(await t.queue.heartbeat(t.c1, got), []);
      assert.deepEqual(await t.queue.ack(t.c1, got), [true]);
      assert.equal((await t.queue.add([t.task({ unique: t.lock("key") })]))[0].ok, true);
    });

    spec("lets the lock expire after its ttl when the task never completes", async (t) => {
      const first = t.task({ unique: t.lock("key", { ttl: RESERVATION }) });
      await t.queue.add([first]);
      await t.advance(RESERVATION / 2);
      assert.equal((await t.queue.add([t.task({ unique: t.lock("key") })]))[0].ok, false);
      await t.advance(RESERVATION / 2 + MARGIN);
      assert.equal((await t.queue.add([t.task({ unique: t.lock("key") })]))[0].ok, true);
    });

    spec("releases by token only: completing an older task keeps a newer holder's lock", async (t) => {
      await t.queue.add([t.task({ unique: t.lock("key", { ttl: RESERVATION }) })]);
      const old = await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(RESERVATION + MARGIN);
      const newer = t.task({ unique: t.lock("key") });
      assert.equal((await t.queue.add([newer]))[0].ok, true);
      assert.deepEqual(await t.queue.ack(t.c1, old), [true]);
      assert.deepEqual(await t.queue.add([t.task({ unique: t.lock("key") })]), [
        { ok: false, reason: "duplicate", existingId: newer.id },
      ]);
    });

    spec("of 20 concurrent adds with the same key exactly one succeeds", async (t) => {
      const tasks = Array.from({ length: 20 }, () => t.task({ unique: t.lock("race-key") }));
      const results = (await Promise.all(tasks.map((task) => t.queue.add([task])))).flat();
      const winners = results.filter((r) => r.ok);
      assert.equal(winners.length, 1);
      const winner = winners[0].ok ? winners[0].id : "";
      for (const r of results) {
        if (!r.ok) assert.equal(r.existingId, winner);
      }
      assert.deepEqual(ids(await t.queue.receive(t.c1, { count: 100, block: 0 })), [winner]);
    });
  });

  describe("counts and consumers", () => {
    spec("counts waiting, in flight, delayed, dead and consumers", async (t) => {
      assert.deepEqual(await t.queue.counts(GROUP), { waiting: 0, inFlight: 0, delayed: 0, dead: 0, consumers: 0 });
      await t.queue.add([t.task(), t.task(), t.task(), t.task(), t.task({ delay: DELAY })]);
      await t.queue.receive(t.c1, { count: 1, block: 0 });
      const [d] = await t.queue.receive(t.c2, { count: 1, block: 0 });
      await t.queue.deadLetter(t.c2, d, "max-retries", failure("x"));
      assert.deepEqual(await t.queue.counts(GROUP), { waiting: 2, inFlight: 1, delayed: 1, dead: 1, consumers: 2 });
    });

    spec("removeConsumer refuses while the consumer owns a delivery, then removes it", async (t) => {
      await t.queue.add([t.task()]);
      const got = await t.queue.receive(t.c1, { count: 1, block: 0 });
      assert.equal(await t.queue.removeConsumer(t.c1), false);
      assert.equal((await t.queue.counts(GROUP)).consumers, 1);
      assert.deepEqual(await t.queue.ack(t.c1, got), [true]);
      assert.equal(await t.queue.removeConsumer(t.c1), true);
      assert.equal((await t.queue.counts(GROUP)).consumers, 0);
    });

    spec("removing a consumer that was never registered succeeds", async (t) => {
      assert.equal(await t.queue.removeConsumer({ group: GROUP, name: "never-seen" }), true);
      assert.equal((await t.queue.counts(GROUP)).consumers, 0);
    });

    spec("a consumer whose deliveries were reclaimed can be removed", async (t) => {
      await t.queue.add([t.task()]);
      await t.queue.receive(t.c1, { count: 1, block: 0 });
      await t.advance(RESERVATION + MARGIN);
      assert.equal((await t.queue.reclaim(t.c2, 10)).deliveries.length, 1);
      assert.equal(await t.queue.removeConsumer(t.c2), false);
      assert.equal(await t.queue.removeConsumer(t.c1), true);
      assert.equal((await t.queue.counts(GROUP)).inFlight, 1, "removing a consumer loses no delivery");
    });
  });

  describe("stats", () => {
    spec("start empty and add deltas per task name, bucket by bucket", async (t) => {
      assert.deepEqual(await t.queue.readStats(), { tasks: {} });
      const one: StatsDelta = {
        tasks: {
          email: taskStats({
            completed: 2,
            runTimeSum: 30,
            runTime: buckets(3, 2),
            waitTimeSum: 4,
            waitTime: buckets(1, 2),
          }),
        },
      };
      const two: StatsDelta = {
        tasks: {
          email: taskStats({
            completed: 1,
            failed: 1,
            retried: 1,
            runTimeSum: 7,
            runTime: buckets(3, 1),
            waitTime: buckets(0, 1),
          }),
          charge: taskStats({ dead: 1 }),
        },
      };
      await t.queue.recordStats(one);
      await t.queue.recordStats(two);
      const total = await t.queue.readStats();
      assert.deepEqual(Object.keys(total.tasks).sort(), ["charge", "email"]);
      const runTime = buckets(3, 3);
      const waitTime = buckets(1, 2);
      waitTime[0] = 1;
      assert.deepEqual(total.tasks.email, {
        completed: 3,
        failed: 1,
        retried: 1,
        dead: 0,
        runTimeSum: 37,
        runTime,
        waitTimeSum: 4,
        waitTime,
      });
      assert.deepEqual(total.tasks.charge, taskStats({ dead: 1 }));
    });
  });

  describe("instance registry", () => {
    spec("lists registered instances with lastSeen and drops them after ttl unless refreshed", async (t) => {
      const base = { host: "host-a", pid: 100, workers: 10, busy: 2, startedAt: t.now() };
      const registeredAt = t.now();
      await t.queue.registerInstance({ ...base, id: "i1" }, RESERVATION);
      await t.queue.registerInstance({ ...base, id: "i2", busy: 5 }, RESERVATION);
      const listed = await t.queue.instances();
      assert.deepEqual(listed.map((i) => i.id).sort(), ["i1", "i2"]);
      const i2 = listed.find((i) => i.id === "i2")!;
      assert.equal(i2.busy, 5);
      assert.equal(i2.workers, 10);
      assert.equal(i2.host, "host-a");
      assert.equal(i2.pid, 100);
      assert.equal(i2.startedAt, base.startedAt);
      assertNear(i2.lastSeen ?? Number.NaN, registeredAt, t.tolerance, "lastSeen");
      await t.advance(RESERVATION / 2 + MARGIN);
      await t.queue.registerInstance({ ...base, id: "i2", busy: 7 }, RESERVATION);
      await t.advance(RESERVATION / 2);
      const live = await t.queue.instances();
      assert.deepEqual(live.map((i) => i.id), ["i2"]);
      assert.equal(live[0].busy, 7);
    });

    spec("unregisterInstance removes an instance at once", async (t) => {
      const info = { id: "i1", host: "h", pid: 1, workers: 1, busy: 0, startedAt: t.now() };
      await t.queue.registerInstance(info, 60_000);
      await t.queue.unregisterInstance("i1");
      assert.deepEqual(await t.queue.instances(), []);
      await t.queue.unregisterInstance("never-registered");
    });
  });

  if (capabilities.processInfo !== false) {
    describe("process identity", () => {
      spec("processInfo names this process by a non-empty host and a non-negative integer pid", async (t) => {
        const processInfo = optionalMember(t.capabilities.processInfo, t.queue.processInfo, "processInfo");
        if (!processInfo) return; // optional member, not declared
        const info = processInfo.call(t.queue);
        assert.equal(typeof info.host, "string");
        assert.ok(info.host.length > 0, "host is not empty");
        assert.ok(Number.isInteger(info.pid) && info.pid >= 0, `pid is a non-negative integer, got ${info.pid}`);
        assert.deepEqual(processInfo.call(t.queue), info, "the same process answers the same");
      });
    });
  }

  describe("claimOnce", () => {
    spec("returns true to exactly one caller per key until ttl passes", async (t) => {
      const results = await Promise.all([1, 2, 3, 4, 5].map(() => t.queue.claimOnce("hook", RESERVATION)));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await t.queue.claimOnce("other-hook", RESERVATION), true);
      await t.advance(RESERVATION / 2);
      assert.equal(await t.queue.claimOnce("hook", RESERVATION), false);
      await t.advance(RESERVATION / 2 + MARGIN);
      assert.equal(await t.queue.claimOnce("hook", RESERVATION), true);
    });
  });

  describe("paused flag", () => {
    spec("is not paused at first; setPaused sets and clears the flag", async (t) => {
      assert.equal(await t.queue.isPaused(), false);
      await t.queue.setPaused(true);
      assert.equal(await t.queue.isPaused(), true);
      await t.queue.setPaused(true);
      assert.equal(await t.queue.isPaused(), true);
      await t.queue.setPaused(false);
      assert.equal(await t.queue.isPaused(), false);
    });
  });

  describe("close", () => {
    spec("close is idempotent", async (t) => {
      await t.queue.close();
      await t.queue.close();
    });

    spec("close ends a blocked receive promptly with nothing", async (t) => {
      const pending = t.queue.receive(t.c1, { count: 10, block: 10_000 });
      await t.advance(MARGIN);
      await t.queue.close();
      assert.deepEqual(await settlesWithin(pending, 2_000, "blocked receive did not return on close"), []);
    });
  });
}
