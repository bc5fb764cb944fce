import assert from "node:assert/strict";
import { describe } from "node:test";
import {
  assertNear,
  DELAY,
  GROUP,
  MARGIN,
  optionalMember,
  RESERVATION,
  settlesWithin,
  type QueueCapabilities,
  type SuiteContext,
  watch,
} from "./_fixture.ts";

/** Registers one test: `body` runs against a fresh fixture. */
export type Spec = (title: string, body: (t: SuiteContext) => Promise<void>) => void;

const ids = (items: readonly { id: string }[]): string[] => items.map((d) => d.id);

/** add, receive, ack, retry, heartbeat, reclaim. */
export function deliverySpecs(spec: Spec, capabilities: QueueCapabilities = {}): void {
  describe("add", () => {
    spec("adds a task that is then delivered with its fields, deliveryCount 1 and readyAt", async (t) => {
      const task = t.task({ name: "email", body: '{"to":"a@example.com"}', attempt: 2 });
      const addedAt = t.now();
      assert.deepEqual(await t.queue.add([task]), [{ ok: true, id: task.id }]);
      const [d, ...rest] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.equal(rest.length, 0);
      assert.equal(d.id, task.id);
      assert.equal(d.name, "email");
      assert.equal(d.body, '{"to":"a@example.com"}');
      assert.equal(d.attempt, 2);
      assert.equal(d.reservationTimeout, RESERVATION);
      assert.equal(d.dispatchedAt, task.dispatchedAt);
      assertNear(d.readyAt, addedAt, t.tolerance, "readyAt");
      assert.equal(d.deliveryCount, 1);
      assert.equal(typeof d.deliveryId, "string");
      assert.ok(d.deliveryId.length > 0);
      assert.equal(d.malformed, undefined);
      assert.equal(d.unique, undefined);
    });

    spec("fills in dispatchedAt with the transport's now when the task has none", async (t) => {
      const task = t.task();
      delete task.dispatchedAt;
      const addedAt = t.now();
      await t.queue.add([task]);
      const [d] = await t.queue.receive(t.c1, { count: 1, block: 0 });
      assertNear(d.dispatchedAt, addedAt, t.tolerance, "dispatchedAt");
    });

    spec("answers one result per task in input order, refusing only the duplicates", async (t) => {
      const a = t.task({ unique: t.lock("k") });
      const b = t.task({ unique: t.lock("k") });
      const c = t.task();
      assert.deepEqual(await t.queue.add([a, b, c]), [
        { ok: true, id: a.id },
        { ok: false, reason: "duplicate", existingId: a.id },
        { ok: true, id: c.id },
      ]);
      assert.deepEqual(ids(await t.queue.receive(t.c1, { count: 10, block: 0 })), [a.id, c.id]);
    });

    spec("delivers the tasks of one add in the order given", async (t) => {
      const tasks = [t.task(), t.task(), t.task(), t.task(), t.task()];
      await t.queue.add(tasks);
      assert.deepEqual(ids(await t.queue.receive(t.c1, { count: 10, block: 0 })), ids(tasks));
    });

    spec("an empty add returns an empty list", async (t) => {
      assert.deepEqual(await t.queue.add([]), []);
    });
  });

  describe("receive", () => {
    spec("returns at most count deliveries, and the rest on the next call", async (t) => {
      const tasks = [t.task(), t.task(), t.task()];
      await t.queue.add(tasks);
      const first = await t.queue.receive(t.c1, { count: 2, block: 0 });
      const second = await t.queue.receive(t.c1, { count: 2, block: 0 });
      assert.deepEqual(ids(first), [tasks[0].id, tasks[1].id]);
      assert.deepEqual(ids(second), [tasks[2].id]);
    });

    spec("within a group, hands each task to one consumer only", async (t) => {
      const tasks = [t.task(), t.task(), t.task(), t.task()];
      await t.queue.add(tasks);
      const one = await t.queue.receive(t.c1, { count: 3, block: 0 });
      const two = await t.queue.receive(t.c2, { count: 3, block: 0 });
      assert.equal(one.length, 3);
      assert.equal(two.length, 1);
      assert.deepEqual([...ids(one), ...ids(two)].sort(), ids(tasks).sort());
      assert.deepEqual(await t.queue.receive(t.c1, { count: 10, block: 0 }), []);
    });

    spec("gives every group its own delivery of each task", async (t) => {
      await t.queue.init("second-group");
      const task = t.task();
      await t.queue.add([task]);
      const a = await t.queue.receive(t.c1, { count: 10, block: 0 });
      const b = await t.queue.receive({ group: "second-group", name: "other" }, { count: 10, block: 0 });
      assert.deepEqual(ids(a), [task.id]);
      assert.deepEqual(ids(b), [task.id]);
      assert.equal(b[0].deliveryCount, 1);
    });

    spec("a group created after tasks were added still receives them", async (t) => {
      const task = t.task();
      await t.queue.add([task]);
      await t.queue.init("late-group");
      const got = await t.queue.receive({ group: "late-group", name: "late" }, { count: 10, block: 0 });
      assert.deepEqual(ids(got), [task.id]);
    });

    spec("init is idempotent and keeps what the group already delivered", async (t) => {
      await t.queue.add([t.task()]);
      assert.equal((await t.queue.receive(t.c1, { count: 10, block: 0 })).length, 1);
      await t.queue.init(GROUP);
      assert.deepEqual(await t.queue.receive(t.c1, { count: 10, block: 0 }), []);
      assert.equal((await t.queue.counts(GROUP)).inFlight, 1);
    });

    spec("returns an empty list at once when block is 0 and nothing is ready", async (t) => {
      const got = await settlesWithin(
        t.queue.receive(t.c1, { count: 10, block: 0 }),
        1_000,
        "receive with block 0 did not return at once",
      );
      assert.deepEqual(got, []);
    });

    spec("waits up to block ms when nothing is ready, then returns an empty list", async (t) => {
      const block = 2 * RESERVATION;
      const pending = watch(t.queue.receive(t.c1, { count: 10, block }));
      await t.advance(block / 2);
      assert.equal(pending.settled, false, "receive returned before half of block had passed");
      await t.advance(block / 2 + 2 * MARGIN);
      const got = await settlesWithin(pending.promise, 2_000, "receive did not return after block");
      assert.deepEqual(got, []);
    });

    spec("a blocked receive returns as soon as a task is added", async (t) => {
      const pending = t.queue.receive(t.c1, { count: 10, block: 10_000 });
      await t.advance(MARGIN);
      const task = t.task();
      await t.queue.add([task]);
      const got = await settlesWithin(pending, 2_000, "blocked receive did not return when a task was added");
      assert.deepEqual(ids(got), [task.id]);
    });

    spec("a blocked receive returns when a delayed task is promoted", async (t) => {
      const task = t.task({ delay: DELAY });
      await t.queue.add([task]);
      const pending = t.queue.receive(t.c1, { count: 10, block: 10_000 });
      await t.advance(DELAY + MARGIN);
      assert.equal((await t.queue.promote()).promoted, 1);
      const got = await settlesWithin(pending, 2_000, "blocked receive did not return on promotion");
      assert.deepEqual(ids(got), [task.id]);
    });

    spec("aborting the signal ends a blocked receive promptly", async (t) => {
      const controller = new AbortController();
      const pending = t.queue.receive(t.c1, { count: 10, block: 10_000, signal: controller.signal });
      await t.advance(MARGIN);
      controller.abort();
      const got = await settlesWithin(pending, 2_000, "blocked receive did not return on abort");
      assert.deepEqual(got, []);
    });

    if (capabilities.release !== false) spec("after release (twice), a blocked receive for the released consumer works again", async (t) => {
      const release = optionalMember(t.capabilities.release, t.queue.release, "release");
      assert.ok(release, "the queue has no 'release'; declare `release: false` in its capabilities");
      assert.deepEqual(await t.queue.receive(t.c1, { count: 10, block: MARGIN }), []);
      await release.call(t.queue, [t.c1, t.c2]);
      await release.call(t.queue, [t.c1]);
      const pending = t.queue.receive(t.c1, { count: 10, block: 10_000 });
      await t.advance(MARGIN);
      const task = t.task();
      await t.queue.add([task]);
      const got = await settlesWithin(pending, 2_000, "blocked receive after release did not return when a task was added");
      assert.deepEqual(ids(got), [task.id]);
    });

    spec("with an already aborted signal, returns without waiting", async (t) => {
      const controller = new AbortController();
      controller.abort();
      const empty = await settlesWithin(
        t.queue.receive(t.c1, { count: 10, block: 10_000, signal: controller.signal }),
        2_000,
        "receive with an aborted signal waited",
      );
      assert.deepEqual(empty, []);
    });

    spec("hands out a malformed entry with malformed set, to be dead-lettered", async (t) => {
      if (!t.fixture.injectMalformed) return; // transport cannot store an undecodable entry
      await t.fixture.injectMalformed();
      const [d, ...rest] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.equal(rest.length, 0);
      assert.equal(typeof d.malformed, "string");
      assert.ok(d.malformed!.length > 0, "malformed must say what is wrong");
      assert.equal(d.name, "");
      assert.equal(d.body, "");
      assert.equal(d.deliveryCount, 1);
      const error = { name: "MalformedEntry", message: d.malformed! };
      assert.equal(typeof await t.queue.deadLetter(t.c1, d, "malformed", error), "string");
      const page = await t.queue.listDeadLetters({ limit: 10 });
      assert.equal(page.items.length, 1);
      assert.equal(page.items[0].reason, "malformed");
      assert.equal((await t.queue.counts(GROUP)).inFlight, 0);
    });
  });

  describe("ack", () => {
    spec("removes the task for good: not delivered again, not reclaimable, not counted", async (t) => {
      await t.queue.add([t.task()]);
      const got = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.deepEqual(await t.queue.ack(t.c1, got), [true]);
      const counts = await t.queue.counts(GROUP);
      assert.equal(counts.waiting, 0);
      assert.equal(counts.inFlight, 0);
      await t.advance(RESERVATION + MARGIN);
      assert.deepEqual((await t.queue.reclaim(t.c2, 10)).deliveries, []);
      assert.deepEqual(await t.queue.receive(t.c2, { count: 10, block: 0 }), []);
    });

    spec("an acked task is gone from the stream: a group created afterwards does not receive it", async (t) => {
      const [done, open] = [t.task(), t.task()];
      await t.queue.add([done, open]);
      const got = await t.queue.receive(t.c1, { count: 1, block: 0 });
      assert.deepEqual(await t.queue.ack(t.c1, got), [true]);
      await t.queue.init("late-group");
      const late = await t.queue.receive({ group: "late-group", name: "late" }, { count: 10, block: 0 });
      assert.deepEqual(ids(late), [open.id]);
    });

    spec("acks a batch and answers per delivery in input order", async (t) => {
      await t.queue.add([t.task(), t.task()]);
      const [a, b] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      const bogus = { deliveryId: b.deliveryId, deliveryCount: 7 };
      assert.deepEqual(await t.queue.ack(t.c1, [a, bogus, b]), [true, false, true]);
      assert.equal((await t.queue.counts(GROUP)).inFlight, 0);
    });

    spec("refuses an ack from a consumer that does not own the delivery", async (t) => {
      await t.queue.add([t.task()]);
      const got = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.deepEqual(await t.queue.ack(t.c2, got), [false]);
      assert.equal((await t.queue.counts(GROUP)).inFlight, 1);
      assert.deepEqual(await t.queue.ack(t.c1, got), [true]);
    });

    spec("refuses the old owner's ack after a reclaim, and accepts the new owner's", async (t) => {
      await t.queue.add([t.task()]);
      const [old] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(RESERVATION + MARGIN);
      const { deliveries: [taken] } = await t.queue.reclaim(t.c2, 10);
      assert.equal(taken.deliveryId, old.deliveryId);
      assert.deepEqual(await t.queue.ack(t.c1, [old]), [false]);
      assert.equal((await t.queue.counts(GROUP)).inFlight, 1);
      assert.deepEqual(await t.queue.ack(t.c2, [taken]), [true]);
    });

    spec("refuses an ack with a stale deliveryCount even from the same consumer", async (t) => {
      await t.queue.add([t.task()]);
      const [old] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(RESERVATION + MARGIN);
      const { deliveries: [again] } = await t.queue.reclaim(t.c1, 10);
      assert.equal(again.deliveryCount, old.deliveryCount + 1);
      assert.deepEqual(await t.queue.ack(t.c1, [old]), [false]);
      assert.deepEqual(await t.queue.ack(t.c1, [again]), [true]);
    });

    spec("refuses a second ack of the same delivery", async (t) => {
      await t.queue.add([t.task()]);
      const got = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.deepEqual(await t.queue.ack(t.c1, got), [true]);
      assert.deepEqual(await t.queue.ack(t.c1, got), [false]);
    });

    spec("an ack of an unknown delivery is refused, not thrown", async (t) => {
      assert.deepEqual(await t.queue.ack(t.c1, [{ deliveryId: "999999999-0", deliveryCount: 1 }]), [false]);
      assert.deepEqual(await t.queue.ack(t.c1, []), []);
    });
  });

  describe("retry", () => {
    spec("schedules the task again at once with attempt + 1, keeping its id and dispatchedAt", async (t) => {
      const task = t.task({ attempt: 1, dispatchedAt: t.now() - 5_000 });
      await t.queue.add([task]);
      const [d] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.equal(await t.queue.retry(t.c1, d, 0), true);
      const [again, ...rest] = await t.queue.receive(t.c2, { count: 10, block: 0 });
      assert.equal(rest.length, 0);
      assert.equal(again.id, task.id);
      assert.equal(again.attempt, 2);
      assert.equal(again.dispatchedAt, task.dispatchedAt);
      assert.equal(again.body, task.body);
      assert.equal(again.name, task.name);
      assert.equal(again.reservationTimeout, RESERVATION);
      assert.equal(again.deliveryCount, 1);
      assert.notEqual(again.deliveryId, d.deliveryId, "a retry is a new delivery");
      assert.deepEqual(await t.queue.ack(t.c1, [d]), [false], "the retried delivery is complete");
      const counts = await t.queue.counts(GROUP);
      assert.equal(counts.inFlight, 1);
      assert.equal(counts.delayed, 0);
    });

    spec("honours the delay: the task waits as delayed until promoted once due", async (t) => {
      await t.queue.add([t.task()]);
      const [d] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      const retriedAt = t.now();
      assert.equal(await t.queue.retry(t.c1, d, DELAY), true);
      let counts = await t.queue.counts(GROUP);
      assert.equal(counts.delayed, 1);
      assert.equal(counts.waiting, 0);
      assert.equal(counts.inFlight, 0);
      assert.equal((await t.queue.promote()).promoted, 0);
      assert.deepEqual(await t.queue.receive(t.c1, { count: 10, block: 0 }), []);
      await t.advance(DELAY + MARGIN);
      assert.equal((await t.queue.promote()).promoted, 1);
      const [again] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.equal(again.id, d.id);
      assert.equal(again.attempt, 1);
      assert.ok(again.readyAt >= retriedAt + DELAY - t.tolerance, "readyAt is after the delay");
      counts = await t.queue.counts(GROUP);
      assert.equal(counts.delayed, 0);
    });

    spec("refuses a retry from a non-owner and changes nothing", async (t) => {
      await t.queue.add([t.task()]);
      const [d] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.equal(await t.queue.retry(t.c2, d, 0), false);
      assert.deepEqual(await t.queue.receive(t.c2, { count: 10, block: 0 }), []);
      const counts = await t.queue.counts(GROUP);
      assert.equal(counts.inFlight, 1);
      assert.equal(counts.delayed, 0);
      assert.deepEqual(await t.queue.ack(t.c1, [d]), [true]);
    });

    spec("refuses a retry with a stale deliveryCount after a reclaim", async (t) => {
      await t.queue.add([t.task()]);
      const [d] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(RESERVATION + MARGIN);
      assert.equal((await t.queue.reclaim(t.c2, 10)).deliveries.length, 1);
      assert.equal(await t.queue.retry(t.c1, d, 0), false);
      assert.deepEqual(await t.queue.receive(t.c1, { count: 10, block: 0 }), []);
    });

    spec("keeps the unique lock across the retry", async (t) => {
      const task = t.task({ unique: t.lock("retry-key") });
      await t.queue.add([task]);
      const [d] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.deepEqual(d.unique, { key: "retry-key", token: task.unique!.token });
      assert.equal(await t.queue.retry(t.c1, d, 0), true);
      assert.deepEqual(await t.queue.add([t.task({ unique: t.lock("retry-key") })]), [
        { ok: false, reason: "duplicate", existingId: task.id },
      ]);
      const [again] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      assert.deepEqual(again.unique, d.unique);
      assert.deepEqual(await t.queue.ack(t.c1, [again]), [true]);
      assert.equal((await t.queue.add([t.task({ unique: t.lock("retry-key") })]))[0].ok, true);
    });
  });

  describe("heartbeat", () => {
    spec("keeps a delivery from being reclaimed while heartbeats continue past its reservation", async (t) => {
      await t.queue.add([t.task()]);
      const [d] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(RESERVATION * 2 / 3);
      assert.deepEqual(await t.queue.heartbeat(t.c1, [d]), []);
      await t.advance(RESERVATION / 2);
      // Idle since the heartbeat for less than the reservation, though held longer than it.
      assert.deepEqual((await t.queue.reclaim(t.c2, 10)).deliveries, []);
      assert.deepEqual(await t.queue.heartbeat(t.c1, [d]), []);
      await t.advance(RESERVATION + MARGIN);
      assert.equal((await t.queue.reclaim(t.c2, 10)).deliveries.length, 1, "reclaimable once heartbeats stop");
    });

    spec("reports the deliveries the consumer no longer owns", async (t) => {
      await t.queue.add([t.task(), t.task(), t.task()]);
      const [kept, taken, done] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.queue.ack(t.c1, [done]);
      await t.advance(RESERVATION + MARGIN);
      assert.deepEqual(await t.queue.heartbeat(t.c1, [kept]), []);
      const { deliveries } = await t.queue.reclaim(t.c2, 10);
      assert.deepEqual(ids(deliveries), [taken.id]);
      const lost = await t.queue.heartbeat(t.c1, [kept, taken, done]);
      assert.deepEqual(lost.sort(), [taken.deliveryId, done.deliveryId].sort());
      assert.deepEqual(await t.queue.heartbeat(t.c2, [kept]), [kept.deliveryId], "a non-owner holds nothing");
    });

    spec("a heartbeat with a stale deliveryCount reports the delivery lost", async (t) => {
      await t.queue.add([t.task()]);
      const [d] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(RESERVATION + MARGIN);
      const { deliveries: [again] } = await t.queue.reclaim(t.c1, 10);
      assert.deepEqual(await t.queue.heartbeat(t.c1, [d]), [d.deliveryId]);
      assert.deepEqual(await t.queue.heartbeat(t.c1, [again]), []);
    });

    spec("extends the backstop ttl of the unique lock of a delivery it keeps", async (t) => {
      const task = t.task({ unique: t.lock("hb-key", { ttl: RESERVATION }) });
      await t.queue.add([task]);
      const [d] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(RESERVATION * 2 / 3);
      assert.deepEqual(await t.queue.heartbeat(t.c1, [d]), []);
      await t.advance(RESERVATION / 2);
      // Past the original ttl, inside the extended one.
      assert.deepEqual(await t.queue.add([t.task({ unique: t.lock("hb-key") })]), [
        { ok: false, reason: "duplicate", existingId: task.id },
      ]);
    });
  });

  describe("reclaim", () => {
    spec("does not reclaim a delivery before its reservation timeout", async (t) => {
      await t.queue.add([t.task()]);
      await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(RESERVATION / 2);
      assert.deepEqual(await t.queue.reclaim(t.c2, 10), { deliveries: [], lost: [] });
    });

    spec("reclaims a delivery idle past its reservation timeout, incrementing deliveryCount", async (t) => {
      const task = t.task({ attempt: 1 });
      await t.queue.add([task]);
      const [d] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(RESERVATION + MARGIN);
      const { deliveries, lost } = await t.queue.reclaim(t.c2, 10);
      assert.deepEqual(lost, []);
      assert.equal(deliveries.length, 1);
      const [r] = deliveries;
      assert.equal(r.deliveryId, d.deliveryId);
      assert.equal(r.deliveryCount, 2);
      assert.equal(r.id, task.id);
      assert.equal(r.attempt, 1, "a reclaim is not a failed attempt");
      assert.equal(r.body, task.body);
      assert.equal(r.dispatchedAt, task.dispatchedAt);
      assert.deepEqual(await t.queue.heartbeat(t.c2, [r]), []);
      assert.deepEqual(await t.queue.heartbeat(t.c1, [d]), [d.deliveryId]);
      const counts = await t.queue.counts(GROUP);
      assert.equal(counts.inFlight, 1);
      assert.equal(counts.waiting, 0);
      await t.advance(RESERVATION + MARGIN);
      const second = await t.queue.reclaim(t.c1, 10);
      assert.equal(second.deliveries[0].deliveryCount, 3, "each reclaim counts a delivery");
    });

    spec("uses each task's own reservation timeout", async (t) => {
      const short = t.task({ reservationTimeout: RESERVATION });
      const long = t.task({ reservationTimeout: RESERVATION * 4 });
      await t.queue.add([short, long]);
      await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(RESERVATION + MARGIN);
      const first = await t.queue.reclaim(t.c2, 10);
      assert.deepEqual(ids(first.deliveries), [short.id]);
      assert.deepEqual(await t.queue.ack(t.c2, first.deliveries), [true]);
      await t.advance(RESERVATION * 3);
      assert.deepEqual(ids((await t.queue.reclaim(t.c2, 10)).deliveries), [long.id]);
    });

    spec("returns at most count, and the next call continues with the rest", async (t) => {
      const tasks = [t.task(), t.task(), t.task()];
      await t.queue.add(tasks);
      await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(RESERVATION + MARGIN);
      const first = await t.queue.reclaim(t.c2, 2);
      const second = await t.queue.reclaim(t.c2, 2);
      assert.equal(first.deliveries.length, 2);
      assert.equal(second.deliveries.length, 1);
      assert.deepEqual(
        [...ids(first.deliveries), ...ids(second.deliveries)].sort(),
        ids(tasks).sort(),
      );
    });

    spec("keeps a cursor: deliveries that go idle again do not starve the others", async (t) => {
      const tasks = [t.task(), t.task(), t.task()];
      await t.queue.add(tasks);
      await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.advance(RESERVATION + MARGIN);
      const first = await t.queue.reclaim(t.c2, 2);
      assert.equal(first.deliveries.length, 2);
      const [starving] = ids(tasks).filter((id) => !ids(first.deliveries).includes(id));
      await t.advance(RESERVATION + MARGIN);
      const second = await t.queue.reclaim(t.c2, 2);
      assert.ok(ids(second.deliveries).includes(starving), "the delivery left out last time comes next");
    });

    spec("reports a pending delivery whose stored entry was deleted as lost, once", async (t) => {
      if (!t.fixture.deleteEntry) return; // transport cannot delete an entry behind its back
      await t.queue.add([t.task(), t.task()]);
      const [gone, kept] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.fixture.deleteEntry(gone.deliveryId);
      await t.advance(RESERVATION + MARGIN);
      const first = await t.queue.reclaim(t.c2, 10);
      assert.deepEqual(first.lost, [gone.deliveryId]);
      assert.deepEqual(ids(first.deliveries), [kept.id]);
      assert.equal((await t.queue.counts(GROUP)).inFlight, 1);
      await t.advance(RESERVATION + MARGIN);
      const second = await t.queue.reclaim(t.c2, 10);
      assert.deepEqual(second.lost, []);
      assert.deepEqual(await t.queue.heartbeat(t.c1, [gone]), [gone.deliveryId]);
    });

    spec("a heartbeat reports a delivery whose stored entry was deleted as lost", async (t) => {
      if (!t.fixture.deleteEntry) return; // transport cannot delete an entry behind its back
      await t.queue.add([t.task(), t.task()]);
      const [gone, kept] = await t.queue.receive(t.c1, { count: 10, block: 0 });
      await t.fixture.deleteEntry(gone.deliveryId);
      assert.deepEqual(await t.queue.heartbeat(t.c1, [gone, kept]), [gone.deliveryId]);
    });
  });
}
