import assert from "node:assert/strict";
import { describe } from "node:test";
import type { Delivery } from "../src/queue.ts";
import type { Spec } from "./_delivery_specs.ts";
import { GROUP, MARGIN, RESERVATION, type SuiteContext } from "./_fixture.ts";

/** Lease of the suite's pending failed-handler calls, in milliseconds. */
const LEASE = RESERVATION;

const failure = { name: "Error", message: "failed for good" };

/** Add `n` tasks and receive them as c1. */
async function received(t: SuiteContext, n: number): Promise<Delivery[]> {
  await t.queue.add(Array.from({ length: n }, () => t.task()));
  return await t.queue.receive(t.c1, { count: n, block: 0 });
}

/** Dead-letter `n` tasks as c1 with a handler lease; their dead letter ids, oldest first. */
async function pending(t: SuiteContext, n: number, lease = LEASE): Promise<string[]> {
  const out: string[] = [];
  for (const d of await received(t, n)) {
    const id = await t.queue.deadLetter(t.c1, d, "max-retries", failure, { handlerLease: lease });
    assert.equal(typeof id, "string");
    out.push(id as string);
  }
  return out;
}

const sorted = (ids: readonly string[]): string[] => [...ids].sort();
const letterIds = (items: readonly { deadLetterId: string }[]): string[] => items.map((l) => l.deadLetterId);

/** Pending failed-task-handler calls: lease, claim, complete. */
export function handlerSpecs(spec: Spec): void {
  describe("failed-handler calls", () => {
    spec("dead-lettering with a handler lease leaves a call pending, claimable only after the lease", async (t) => {
      const [id] = await pending(t, 1);
      assert.deepEqual(await t.queue.claimFailedHandlers(t.c2, { lease: LEASE, count: 10 }), [], "leased to the dead-lettering consumer");
      await t.advance(LEASE + MARGIN);
      const claimed = await t.queue.claimFailedHandlers(t.c2, { lease: LEASE, count: 10 });
      assert.equal(claimed.length, 1);
      assert.deepEqual(claimed[0], await t.queue.getDeadLetter(id), "the full dead letter is handed over");
      assert.equal(claimed[0].reason, "max-retries");
      assert.deepEqual(claimed[0].error, failure);
    });

    spec("dead-lettering without a handler lease leaves no call pending", async (t) => {
      const [a, b] = await received(t, 2);
      assert.equal(typeof await t.queue.deadLetter(t.c1, a, "max-retries", failure), "string");
      assert.equal(typeof await t.queue.deadLetter(t.c1, b, "max-retries", failure, { handlerLease: 0 }), "string");
      await t.advance(LEASE + MARGIN);
      assert.deepEqual(await t.queue.claimFailedHandlers(t.c2, { lease: LEASE, count: 10 }), []);
    });

    spec("a refused dead letter leaves no call pending; of two racing callers only the winner's is", async (t) => {
      const [d] = await received(t, 1);
      assert.equal(await t.queue.deadLetter(t.c2, d, "max-retries", failure, { handlerLease: LEASE }), false);
      const results = await Promise.all([
        t.queue.deadLetter(t.c1, d, "max-retries", failure, { handlerLease: LEASE }),
        t.queue.deadLetter(t.c1, d, "unrecoverable", failure, { handlerLease: LEASE }),
      ]);
      const winners = results.filter((r): r is string => typeof r === "string");
      assert.equal(winners.length, 1);
      await t.advance(LEASE + MARGIN);
      const claimed = await t.queue.claimFailedHandlers(t.c2, { lease: LEASE, count: 10 });
      assert.deepEqual(letterIds(claimed), winners);
    });

    spec("a claimed call is leased to the claimer: claimable again only after the new lease", async (t) => {
      const [id] = await pending(t, 1);
      await t.advance(LEASE + MARGIN);
      assert.deepEqual(letterIds(await t.queue.claimFailedHandlers(t.c2, { lease: LEASE * 3, count: 10 })), [id]);
      await t.advance(LEASE + MARGIN);
      assert.deepEqual(await t.queue.claimFailedHandlers(t.c1, { lease: LEASE, count: 10 }), [], "the new lease holds");
      await t.advance(LEASE * 2);
      assert.deepEqual(letterIds(await t.queue.claimFailedHandlers(t.c1, { lease: LEASE, count: 10 })), [id]);
    });

    spec("concurrent claimers get each expired call exactly once", async (t) => {
      const ids = await pending(t, 5);
      await t.advance(LEASE + MARGIN);
      const rounds = await Promise.all([
        t.queue.claimFailedHandlers(t.c1, { lease: LEASE, count: 10 }),
        t.queue.claimFailedHandlers(t.c2, { lease: LEASE, count: 10 }),
        t.queue.claimFailedHandlers(t.c1, { lease: LEASE, count: 2 }),
        t.queue.claimFailedHandlers(t.c2, { lease: LEASE, count: 3 }),
      ]);
      assert.deepEqual(sorted(rounds.flatMap(letterIds)), sorted(ids));
    });

    spec("claims at most count calls; the rest stay for the next claim", async (t) => {
      const ids = await pending(t, 3);
      await t.advance(LEASE + MARGIN);
      const first = await t.queue.claimFailedHandlers(t.c2, { lease: LEASE, count: 2 });
      assert.equal(first.length, 2);
      const second = await t.queue.claimFailedHandlers(t.c2, { lease: LEASE, count: 2 });
      assert.equal(second.length, 1);
      assert.deepEqual(sorted([...letterIds(first), ...letterIds(second)]), sorted(ids));
    });

    spec("completing a call removes it for good; completing twice or an unknown id is fine", async (t) => {
      const [done, open] = await pending(t, 2);
      await t.queue.completeFailedHandler(done);
      await t.queue.completeFailedHandler(done);
      await t.queue.completeFailedHandler("999999999-0");
      await t.advance(LEASE + MARGIN);
      assert.deepEqual(letterIds(await t.queue.claimFailedHandlers(t.c2, { lease: LEASE, count: 10 })), [open]);
      await t.queue.completeFailedHandler(open);
      await t.advance(LEASE + MARGIN);
      assert.deepEqual(await t.queue.claimFailedHandlers(t.c2, { lease: LEASE, count: 10 }), []);
      assert.equal((await t.queue.counts(GROUP)).dead, 2, "completing a call keeps the dead letter");
    });

    spec("deleting or replaying a dead letter drops its pending call", async (t) => {
      const [deleted, replayed, kept] = await pending(t, 3);
      assert.equal(await t.queue.deleteDeadLetter(deleted), true);
      assert.equal(await t.queue.replayDeadLetter(replayed), true);
      await t.advance(LEASE + MARGIN);
      assert.deepEqual(letterIds(await t.queue.claimFailedHandlers(t.c2, { lease: LEASE, count: 10 })), [kept]);
    });
  });
}
