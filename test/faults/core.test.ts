// @runtimes node deno bun
/**
 * Fault matrix rows 1, 6, 12 and 19: the rows every runtime runs (Node, Deno,
 * Bun). Each prints its figure as `fault <row>: ...`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RedisProcess, delay, figure, percentile, runtime, uniquePrefix, waitFor, type Persistence } from "./_harness.ts";
import { Fleet } from "./_fleet.ts";
import { analyse, assertDuplicatesAtMost, assertFailedHandlerExactlyOnce, assertNoLoss } from "./_ledger.ts";
import { ms, range, starts, unacked } from "./_util.ts";
import type { WorkerProcess } from "./_harness.ts";

const RESERVATION = 400;

describe("fault 1: SIGKILL of a worker mid-task", () => {
  let redis: RedisProcess;
  let fleet: Fleet;
  before(async () => {
    redis = await RedisProcess.start();
    fleet = await Fleet.open({
      redisUrl: redis.url,
      prefix: uniquePrefix("f1"),
      tasks: [{ name: "work", maxRetry: 1, reservationTimeout: RESERVATION }],
    });
  });
  after(async () => {
    await fleet?.close();
    await redis?.stop();
  });

  it("reclaims the killed worker's tasks: nothing lost, one extra run per task in flight, no attempt charged", async () => {
    const survivor = await fleet.spawn({ numWorkers: 4, label: "survivor" });
    let victim = await fleet.spawn({ numWorkers: 4, label: "victim-1" });
    const ids = await fleet.dispatch("work", range(500).map((i) => ({ i, ms: 40 })));
    const kills: { t: number; open: Map<string, number>; worker: WorkerProcess }[] = [];
    for (let k = 0; k < 2; k++) {
      const v = victim;
      await waitFor("the victim to be mid-task", () => starts(v) >= 8 && unacked(v).size > 0, 15_000, 5);
      v.signal("SIGKILL");
      const t = Date.now();
      await v.exited;
      kills.push({ t, open: unacked(v), worker: v });
      if (k === 0) victim = await fleet.spawn({ numWorkers: 4, label: "victim-2" });
    }
    await waitFor("every task to complete", () => {
      const done = fleet.completedIds();
      return ids.every((id) => done.has(id));
    }, 30_000, 50);

    const outcome = analyse(fleet.records(), ids, await fleet.deadTasks(), fleet.lostIds());
    assertNoLoss(outcome);
    assert.equal(outcome.dead.size, 0, "no task may be dead-lettered by a crash");
    assertFailedHandlerExactlyOnce(outcome);
    const inFlight = kills.reduce((n, k) => n + k.open.size, 0);
    assert.ok(inFlight > 0, "the kills landed while tasks were running");
    assertDuplicatesAtMost(outcome, inFlight);

    // D1 per kill and no attempt charged: a killed task reruns with the same attempt.
    const latencies: number[] = [];
    for (const kill of kills) {
      for (const [id, attempt] of kill.open) {
        const reruns = fleet.records().filter((r) => r.ev === "start" && r.id === id && r.t >= kill.t);
        assert.ok(reruns.length <= 1, `task ${id} ran ${reruns.length} more times after one kill`);
        for (const r of reruns) assert.equal((r as { attempt: number }).attempt, attempt, `kill charged an attempt to ${id}`);
        const done = outcome.completedAt.get(id);
        if (done !== undefined && done >= kill.t) latencies.push(done - kill.t);
      }
    }
    assert.deepEqual(fleet.fatals(), []);
    assert.equal(survivor.exit, null, "the survivor keeps running");
    await survivor.stop();
    await victim.stop();
    figure(
      1,
      `${runtime()} kills=2 inFlightAtKill=${inFlight} duplicates=${outcome.duplicates} ` +
        `kill->completion p50=${ms(percentile(latencies, 50))} p99=${ms(percentile(latencies, 99))} ` +
        `(reservation ${RESERVATION}ms, ${ids.length} tasks)`,
    );
  });
});

for (const persistence of ["aof-always", "aof-everysec"] as Persistence[]) {
  describe(`fault 6: Redis SIGKILL and restart with AOF (${persistence})`, () => {
    let redis: RedisProcess;
    let fleet: Fleet;
    before(async () => {
      redis = await RedisProcess.start({ persistence });
      fleet = await Fleet.open({
        redisUrl: redis.url,
        prefix: uniquePrefix("f6"),
        tasks: [{ name: "work", maxRetry: 1, reservationTimeout: RESERVATION }],
      });
    });
    after(async () => {
      await fleet?.close();
      await redis?.stop();
    });

    it("workers ride out the outage without a restart; nothing lost, duplicates bounded by what was in flight", async () => {
      const a = await fleet.spawn({ numWorkers: 4, label: "a" });
      const b = await fleet.spawn({ numWorkers: 4, label: "b" });
      const pids = [a.pid, b.pid];
      const ids = await fleet.dispatch("work", range(1000).map((i) => ({ i, ms: 10 })));
      await waitFor("a third of the run", () => fleet.completedIds().size >= 300, 20_000, 5);
      await redis.kill();
      const inFlight = unacked(a).size + unacked(b).size;
      await delay(2_000);
      await redis.restart();
      const up = Date.now();
      await waitFor("every task to complete", () => {
        const done = fleet.completedIds();
        return ids.every((id) => done.has(id));
      }, 45_000, 50);
      const firstAfter = Math.min(
        ...fleet.records().filter((r) => r.ev === "end" && r.ok && r.t >= up).map((r) => r.t),
      );

      const outcome = analyse(fleet.records(), ids, await fleet.deadTasks(), fleet.lostIds());
      assertNoLoss(outcome);
      assert.equal(outcome.dead.size, 0);
      assertFailedHandlerExactlyOnce(outcome);
      assertDuplicatesAtMost(outcome, inFlight);
      assert.deepEqual(fleet.fatals(), []);
      assert.deepEqual([a.pid, b.pid], pids);
      assert.equal(a.exit, null, "worker a survived the outage");
      assert.equal(b.exit, null, "worker b survived the outage");
      await a.stop();
      await b.stop();
      figure(
        6,
        `${runtime()} ${persistence} redis-up->first-completion=${ms(firstAfter - up)} ` +
          `duplicates=${outcome.duplicates} (bound ${inFlight} unacked at kill) lost=0 of ${ids.length}`,
      );
    });
  });
}
