/**
 * Fault matrix rows 8, 20, 25, 26 and 27: Redis coming back from a stale
 * snapshot, a unique task running longer than its `uniqueFor`, a promoting
 * runner frozen at the due time (there is no leader: every runner promotes
 * atomically), delayed tasks due in the same millisecond, in the past and far
 * ahead with two promoting runners, and the script cache flushed under load.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RedisProcess, delay, figure, percentile, uniquePrefix, waitFor } from "./_harness.ts";
import { Fleet } from "./_fleet.ts";
import { assertDuplicatesAtMost } from "./_ledger.ts";
import { assertLedger, ms, range } from "./_util.ts";
import type { DispatchResult } from "../../src/task.ts";

const RESERVATION = 400;

describe("fault matrix rows 8, 20, 25, 26, 27 (durability)", () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await RedisProcess.start();
  });
  after(async () => {
    await redis?.stop();
  });

  it("fault 8: Redis restarted from a stale snapshot: completed-after-snapshot tasks rerun, later enqueues are lost and counted", async () => {
    const stale = await RedisProcess.start();
    const fleet = await Fleet.open({ redisUrl: stale.url, prefix: uniquePrefix("f8"), tasks: [{ name: "work", reservationTimeout: RESERVATION }] });
    try {
      const first = await fleet.dispatch("work", range(300).map((i) => ({ i, ms: 10 })));
      const a = await fleet.spawn({ numWorkers: 4, label: "a" });
      await waitFor("some progress", () => fleet.completedIds().size >= 50, 10_000, 5);
      await stale.cli("SAVE");
      const snapshotAt = Date.now();
      const doneAtSnapshot = new Set(fleet.completedIds());
      await waitFor("more progress after the snapshot", () => fleet.completedIds().size >= doneAtSnapshot.size + 100, 10_000, 5);
      // Accepted after the snapshot (delayed, so nobody runs them before the failover).
      const late = await Promise.all(range(20).map((i) =>
        fleet.producer.dispatch("work" as never, { i: 1000 + i } as never, { delay: 600_000 }) as Promise<string>
      ));
      await stale.kill();
      const completedAfterSnapshot = [...fleet.completedIds()].filter((id) => !doneAtSnapshot.has(id) && first.includes(id));
      await stale.restart();
      const restartedAt = Date.now();
      await fleet.settled(first, 30_000);
      const outcome = await assertLedger(fleet, first, { fenced: false });
      // Fencing cannot survive a stale failover: Redis forgot the acks, so a rerun is acked again.
      // Every task completed after the snapshot may run again; nothing else may.
      const bound = completedAfterSnapshot.length + 8;
      assertDuplicatesAtMost(outcome, bound, fleet.records(), snapshotAt);
      const lostEnqueues = late.filter((id) => !fleet.records().some((r) => r.ev === "start" && r.id === id)).length;
      assert.equal(lostEnqueues, late.length, "enqueues after the snapshot are gone (they were never run)");
      assert.deepEqual(fleet.fatals(), []);
      assert.equal(a.exit, null, "the worker survived the failover");
      await a.stop();
      figure(8, `completed-after-snapshot=${completedAfterSnapshot.length} duplicates=${outcome.duplicates} lost-enqueues=${lostEnqueues}/${late.length} (not reported: Redis forgot them) snapshot-to-restart=${ms(restartedAt - snapshotAt)}`);
    } finally {
      await fleet.close();
      await stale.stop();
    }
  });

  it("fault 20: a unique task running longer than uniqueFor keeps its lock until it completes", async () => {
    const fleet = await Fleet.open({
      redisUrl: redis.url,
      prefix: uniquePrefix("f20"),
      tasks: [{ name: "uniq", unique: true, uniqueFor: 1_000, reservationTimeout: RESERVATION }],
    });
    try {
      const w = await fleet.spawn({ numWorkers: 4, label: "w" });
      const [id] = await fleet.dispatch("uniq", [{ i: 0, key: "k", ms: 3_000 }]);
      await w.waitFor("the task to start", (r) => r.ev === "start" && r.id === id);
      const refusals: number[] = [];
      let acceptedWhileRunning = 0;
      const t0 = Date.now();
      while (!w.of("end").some((r) => r.id === id)) {
        try {
          await fleet.producer.dispatch("uniq" as never, { i: 1, key: "k", ms: 1 } as never);
          acceptedWhileRunning++;
        } catch (error) {
          assert.equal((error as Error).name, "DuplicateTaskError");
          refusals.push(Date.now() - t0);
        }
        await delay(100);
      }
      const endedAt = w.of("end").find((r) => r.id === id)!.t;
      let reacceptedAfter = NaN;
      await waitFor("the key to be free again", async () => {
        try {
          const again = await fleet.producer.dispatch("uniq" as never, { i: 2, key: "k", ms: 1 } as never) as string;
          fleet.accepted.push(again);
          reacceptedAfter = Date.now() - endedAt;
          return true;
        } catch {
          return false;
        }
      }, 5_000, 10);
      fleet.accepted.push(id);
      await fleet.settled(fleet.accepted, 10_000);
      const outcome = await assertLedger(fleet, fleet.accepted, { fenced: false });
      assert.equal(outcome.duplicates, 0);
      assert.equal(acceptedWhileRunning, 0, "no second task was accepted while the first ran past uniqueFor");
      assert.ok(refusals.some((t) => t > 1_500), "dispatches after uniqueFor but before completion were refused");
      await w.stop();
      figure(20, `uniqueFor=1000ms run=3000ms duplicates=0 lock-gaps=0 refused-while-running=${refusals.length} re-accepted ${ms(reacceptedAfter)} after completion`);
    } finally {
      await fleet.close();
    }
  });

  it("fault 26: delayed tasks due in one millisecond, in the past and far ahead, promoted by two runners, each exactly once", async () => {
    const N = 10_000;
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f26"), tasks: [{ name: "noop", reservationTimeout: 5_000 }] });
    try {
      const a = await fleet.spawn({ numWorkers: 20, label: "a" });
      const b = await fleet.spawn({ numWorkers: 20, label: "b" });
      const due = Date.now() + 2_000;
      const ids: string[] = [];
      for (let k = 0; k < N; k += 1_000) {
        const results: DispatchResult[] = await fleet.producer.dispatchBulk(
          range(1_000).map((j) => ({ name: "noop", payload: { i: k + j }, options: { at: due } })),
        );
        for (const r of results) {
          assert.ok(r.ok);
          ids.push(r.id);
        }
      }
      const past = await fleet.producer.dispatchBulk(range(100).map((j) => ({ name: "noop", payload: { i: N + j }, options: { at: Date.now() - 60_000 } })));
      const far = await fleet.producer.dispatchBulk(range(100).map((j) => ({ name: "noop", payload: { i: 2 * N + j }, options: { delay: 3_600_000 } })));
      const pastIds = past.map((r) => (r.ok ? r.id : ""));
      const farIds = new Set(far.map((r) => (r.ok ? r.id : "")));
      fleet.accepted.push(...ids, ...pastIds);
      const early = fleet.records().filter((r) => r.ev === "start" && ids.includes(r.id) && r.t < due).length;
      await waitFor("every due task to run", () => {
        const done = fleet.completedIds();
        return ids.every((id) => done.has(id)) && pastIds.every((id) => done.has(id));
      }, 60_000, 100);
      await delay(500);
      const outcome = await assertLedger(fleet, [...ids, ...pastIds]);
      assert.equal(outcome.duplicates, 0, "no task promoted (or run) twice");
      assert.equal(early, 0, "nothing ran before its due time");
      const ranFar = fleet.records().filter((r) => r.ev === "start" && farIds.has(r.id)).length;
      assert.equal(ranFar, 0, "far-future tasks wait");
      assert.equal((await fleet.queue.counts("g")).delayed, 100, "the far-future tasks are still scheduled");
      const firstStart = new Map<string, number>();
      for (const r of fleet.records()) if (r.ev === "start" && !firstStart.has(r.id)) firstStart.set(r.id, r.t);
      const lags = ids.map((id) => firstStart.get(id)! - due);
      const byRunner = [a, b].map((w) => w.of("start").length);
      await a.stop();
      await b.stop();
      figure(26, `due-same-ms=${N} promotion-lag p50=${ms(percentile(lags, 50))} p99=${ms(percentile(lags, 99))} max=${ms(Math.max(...lags))} duplicates=0 past-due=${pastIds.length} ran far-future-waiting=${farIds.size} runs a/b=${byRunner.join("/")}`);
    } finally {
      await fleet.close();
    }
  });

  it("fault 25: a promoting runner frozen (SIGSTOP) past the reservation at the due time: the other promotes, nothing twice", async () => {
    const N = 2_000;
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f25"), tasks: [{ name: "work", reservationTimeout: RESERVATION }] });
    try {
      const a = await fleet.spawn({ numWorkers: 8, label: "a" });
      const b = await fleet.spawn({ numWorkers: 8, label: "b" });
      const due = Date.now() + 1_500;
      const ids: string[] = [];
      for (let k = 0; k < N; k += 1_000) {
        const results: DispatchResult[] = await fleet.producer.dispatchBulk(
          range(1_000).map((j) => ({ name: "work", payload: { i: k + j, ms: 2 }, options: { at: due } })),
        );
        for (const r of results) if (r.ok) ids.push(r.id);
      }
      assert.equal(ids.length, N);
      fleet.accepted.push(...ids);
      await delay(Math.max(0, due - 100 - Date.now()));
      a.signal("SIGSTOP");
      const frozenAt = Date.now();
      await delay(RESERVATION * 3);
      a.signal("SIGCONT");
      const thawedAt = Date.now();
      await fleet.settled(ids, 30_000);
      // A task promoted twice would be two deliveries, each acked: fencing would see two accepted acks.
      const outcome = await assertLedger(fleet, ids);
      // Held by the frozen runner: delivered before the freeze, or to its blocked read during it
      // (that reply is only read, and recorded, once it thaws).
      const heldByA = fleet.records().filter((r) => r.label === "a" && r.ev === "received" && r.t < thawedAt + 200).flatMap((r) => (r as { ids: string[] }).ids);
      assertDuplicatesAtMost(outcome, heldByA.length, fleet.records(), frozenAt);
      const firstOnB = Math.min(...b.of("start").filter((r) => r.t >= due - 5).map((r) => r.t));
      const duringFreeze = b.of("start").filter((r) => r.t >= frozenAt && r.t < thawedAt).length;
      assert.ok(duringFreeze > 0, "the other runner promoted and ran due tasks while the first was frozen");
      assert.deepEqual(fleet.fatals(), []);
      await a.stop();
      await b.stop();
      figure(25, `frozen ${RESERVATION * 3}ms at the due time: other runner's first start ${ms(firstOnB - due)} after due, ${duringFreeze} runs during the freeze, duplicate promotions=0 duplicates=${outcome.duplicates} (held by the frozen runner ${heldByA.length})`);
    } finally {
      await fleet.close();
    }
  });

  it("fault 27: SCRIPT FLUSH every 50 ms under load: scripts reload transparently, nothing lost or doubled", async () => {
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f27"), tasks: [{ name: "work", maxRetry: 2, reservationTimeout: 2_000 }] });
    try {
      const a = await fleet.spawn({ numWorkers: 8, label: "a" });
      const b = await fleet.spawn({ numWorkers: 8, label: "b" });
      const ids = await fleet.dispatch("work", range(3_000).map((i) => ({ i, ms: 5 })));
      let flushes = 0;
      const flushing = (async () => {
        while (fleet.completedIds().size < ids.length + 500 && flushes < 100) {
          await redis.cli("SCRIPT", "FLUSH");
          flushes++;
          await delay(50);
        }
      })();
      const more = await fleet.dispatch("work", range(500).map((i) => ({ i: 5_000 + i, ms: 5 })));
      await flushing;
      await fleet.settled([...ids, ...more], 30_000);
      const outcome = await assertLedger(fleet, [...ids, ...more], { failedHandlerOnce: true });
      assert.equal(outcome.duplicates, 0, "a reloaded script neither loses nor doubles a command");
      const errors = fleet.records().filter((r) => r.ev === "runner" && (r.name === "error" || r.name === "log:error"));
      assert.deepEqual(fleet.fatals(), []);
      await a.stop();
      await b.stop();
      figure(27, `script-flushes=${flushes} tasks=${ids.length + more.length} duplicates=0 lost=0 errors-surfaced=${errors.length}`);
    } finally {
      await fleet.close();
    }
  });
});
