/**
 * Fault matrix rows 2–5: a worker killed between handler end and ack, a
 * worker told to stop with a long task in flight, a long task under healthy
 * heartbeats, and a worker whose event loop is blocked past its reservation.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RedisProcess, figure, uniquePrefix, waitFor } from "./_harness.ts";
import { Fleet } from "./_fleet.ts";
import { assertLedger, ms, range, unackedStarts } from "./_util.ts";

const RESERVATION = 400;

describe("fault matrix rows 2-5 (worker faults)", () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await RedisProcess.start();
  });
  after(async () => {
    await redis?.stop();
  });

  it("fault 2: a kill between handler end and ack reruns exactly the unacked tasks", async () => {
    const fleet = await Fleet.open({
      redisUrl: redis.url,
      prefix: uniquePrefix("f2"),
      tasks: [{ name: "work", reservationTimeout: RESERVATION }],
    });
    try {
      const ids = await fleet.dispatch("work", range(40).map((i) => ({ i, ms: 5 })));
      const victims = [];
      let unackedAtKills = 0;
      for (let k = 0; k < 3; k++) {
        const victim = await fleet.spawn({ numWorkers: 1, batchSize: 1, holdAcks: true, label: `victim-${k}` });
        await victim.waitFor("an ack held back", (r) => r.ev === "acking");
        await victim.kill();
        const ended = victim.of("end").filter((r) => r.ok).length;
        assert.ok(ended >= 1, "the handler had resolved before the kill");
        unackedAtKills += unackedStarts(victim).size;
        victims.push(victim);
      }
      const survivor = await fleet.spawn({ numWorkers: 4, label: "survivor" });
      await fleet.settled(ids, 20_000);
      await survivor.stop();

      const outcome = await assertLedger(fleet, ids, { failedHandlerOnce: true });
      assert.equal(outcome.duplicates, unackedAtKills, "duplicates = executions whose ack the kill prevented");
      assert.ok(outcome.duplicates >= 3, "each kill left at least one completed-but-unacked task");
      assert.deepEqual(fleet.fatals(), []);
      figure(2, `kills=3 completed-but-unacked=${unackedAtKills} duplicates=${outcome.duplicates}`);
    } finally {
      await fleet.close();
    }
  });

  for (const grace of [1_000, 5_000]) {
    it(`fault 3: SIGTERM with a 2500 ms task in flight and a ${grace} ms grace period`, async () => {
      const taskMs = 2_500;
      const fleet = await Fleet.open({
        redisUrl: redis.url,
        prefix: uniquePrefix("f3"),
        tasks: [{ name: "work", reservationTimeout: RESERVATION }],
      });
      try {
        // The abort of its waiting read reaches Redis 200 ms late, as over a slow link.
        const victim = await fleet.spawn({ numWorkers: 2, shutdownTimeout: grace, slowAbort: 200, label: "victim" });
        const [longId] = await fleet.dispatch("work", [{ i: 0, ms: taskMs }]);
        await victim.waitFor("the long task to start", (r) => r.ev === "start");
        const survivor = await fleet.spawn({ numWorkers: 2, label: "survivor" });
        victim.signal("SIGTERM");
        const stopping = await victim.waitFor("the stop to begin", (r) => r.ev === "stopping");
        const termAt = stopping.t;
        const shortIds = await fleet.dispatch("work", range(20).map((i) => ({ i: i + 1, ms: 5 })));
        const stoppedRec = await victim.waitFor("stopped", (r) => r.ev === "stopped", grace + 10_000);
        const stopMs = (stoppedRec as { ms: number }).ms;
        await victim.exited;
        const ids = [longId, ...shortIds];
        await fleet.settled(ids, 20_000);
        await survivor.stop();

        const lateStarts = victim.of("start").filter((r) => r.t > termAt);
        assert.deepEqual(
          lateStarts.map((r) => r.i),
          [],
          "a stopping worker fetches nothing new: " +
            victim.records.filter((r) => r.t >= termAt - 5).map((r) => `${r.ev}@${r.t - termAt}`).join(" "),
        );
        assert.ok(stopMs <= grace + 1_000, `stop() took ${stopMs} ms with a ${grace} ms grace period`);
        await assertLedger(fleet, ids, { failedHandlerOnce: true });
        const longRuns = fleet.records().filter((r) => r.ev === "start" && r.id === longId).length;
        const victimFinished = victim.of("end").some((r) => r.id === longId && r.ok);
        if (grace > taskMs) {
          assert.ok(victimFinished, "within the grace period the task finishes on the stopping worker");
          assert.equal(longRuns, 1, "a finished and acked task is not redelivered");
        } else {
          assert.ok(!victimFinished, "past the grace period the task is aborted");
          assert.equal(longRuns, 2, "the aborted task is redelivered once and completes elsewhere");
        }
        assert.deepEqual(fleet.fatals(), []);
        figure(3, `grace=${grace}ms task=${taskMs}ms shutdown=${ms(stopMs)} redelivered=${longRuns - 1}`);
      } finally {
        await fleet.close();
      }
    });
  }

  it("fault 4: a task running 10x its reservation under healthy heartbeats never runs twice", async () => {
    const reservation = 300;
    const runtimeMs = reservation * 10;
    const fleet = await Fleet.open({
      redisUrl: redis.url,
      prefix: uniquePrefix("f4"),
      tasks: [{ name: "long", reservationTimeout: reservation }],
    });
    try {
      const busy = await fleet.spawn({ numWorkers: 4, label: "busy" });
      const ids = await fleet.dispatch("long", range(4).map((i) => ({ i, ms: runtimeMs })));
      await waitFor("all four to start", () => busy.of("start").length === 4, 5_000, 10);
      const idle = await fleet.spawn({ numWorkers: 4, label: "idle" });
      await fleet.settled(ids, runtimeMs + 10_000);
      await idle.stop();
      await busy.stop();

      const outcome = await assertLedger(fleet, ids);
      assert.equal(outcome.duplicates, 0, "healthy heartbeats allow no duplicate");
      assert.equal(idle.of("start").length, 0, "the idle worker reclaimed nothing");
      const beats = busy.of("heartbeat").filter((r) => r.held > 0).map((r) => r.t);
      const first = Math.min(...busy.of("start").map((r) => r.t));
      const last = Math.max(...busy.of("end").map((r) => r.t));
      const times = [first, ...beats.filter((t) => t > first && t < last), last];
      let maxGap = 0;
      for (let k = 1; k < times.length; k++) maxGap = Math.max(maxGap, times[k] - times[k - 1]);
      assert.ok(maxGap < reservation, `heartbeat gap ${maxGap} ms reached the reservation ${reservation} ms`);
      const expected = Math.floor(runtimeMs / (reservation / 3));
      assert.ok(times.length - 2 >= expected * 0.7, `${times.length - 2} heartbeats in ${runtimeMs} ms; expected about ${expected}`);
      // A heartbeat racing an ack may report the just-acked delivery; a running one must never be reported.
      const lostWhileRunning = busy.of("heartbeat").flatMap((h) =>
        h.lostIds.filter((id) => !busy.of("end").some((e) => e.id === id && e.t <= h.t))
      );
      assert.deepEqual(lostWhileRunning, [], "no heartbeat reported a running task's reservation lost");
      figure(4, `duplicates=0 heartbeats=${times.length - 2} max-heartbeat-gap=${ms(maxGap)} (reservation ${reservation}ms, run ${runtimeMs}ms)`);
    } finally {
      await fleet.close();
    }
  });

  it("fault 5: a worker blocked past its reservation loses the task and its late ack is refused", async () => {
    const fleet = await Fleet.open({
      redisUrl: redis.url,
      prefix: uniquePrefix("f5"),
      tasks: [{ name: "work", reservationTimeout: RESERVATION }],
    });
    try {
      const blocked = await fleet.spawn({ numWorkers: 1, batchSize: 1, label: "blocked" });
      // The task waits (heartbeats healthy) until the other worker is up, then blocks the loop.
      const [stuckId] = await fleet.dispatch("work", [
        { i: 0, mode: "busy", before: 4_000, ms: RESERVATION * 3, onlyLabel: "blocked", otherMs: RESERVATION * 5 },
      ]);
      await blocked.waitFor("the blocking task to start", (r) => r.ev === "start" && r.id === stuckId);
      const other = await fleet.spawn({ numWorkers: 2, label: "other" });
      const more = await fleet.dispatch("work", range(20).map((i) => ({ i: i + 1, ms: 5 })));
      const ids = [stuckId, ...more];
      await fleet.settled(ids, 20_000);
      await waitFor("the blocked worker to finish its run", () => blocked.of("end").some((r) => r.id === stuckId), 10_000);
      // Give the blocked worker's ack (if it sends one) time to be answered.
      await waitFor("the other worker's ack", () => other.of("ack").some((r) => r.results.some((a) => a.id === stuckId && a.ok)), 10_000)
        .catch((error) => {
          const t0 = blocked.records.find((r) => r.ev === "start" && r.id === stuckId)!.t;
          const trace = fleet.records().filter((r) => JSON.stringify(r).includes(stuckId) || r.ev === "heartbeat")
            .map((r) => `${r.label}:${r.ev}@${r.t - t0}${r.ev === "ack" ? JSON.stringify(r.results.filter((x) => x.id === stuckId)) : r.ev === "heartbeat" ? `(${r.held}/${r.lost})` : r.ev === "runner" ? `(${r.name} ${r.detail})` : ""}`);
          throw new Error(`${String(error)}\n${trace.join("\n")}`);
        });

      const blockedAcks = blocked.of("ack").flatMap((r) => r.results).filter((a) => a.id === stuckId);
      assert.ok(!blockedAcks.some((a) => a.ok), "the late ack of the blocked worker was accepted");
      const refused = blockedAcks.filter((a) => !a.ok).length;
      const otherRan = other.of("start").some((r) => r.id === stuckId);
      assert.ok(otherRan, "the other worker reclaimed the task");
      const outcome = await assertLedger(fleet, ids);
      assert.equal(outcome.duplicates, 1, "exactly the stalled task ran twice");
      const counts = await fleet.queue.counts("g");
      assert.equal(counts.inFlight + counts.waiting, 0, "nothing left behind in the queue");
      assert.deepEqual(fleet.fatals(), []);
      assert.equal(blocked.exit, null, "the blocked worker is alive");
      await blocked.stop();
      await other.stop();
      figure(5, `late-acks-refused=${refused} late-acks-accepted=0 duplicates=${outcome.duplicates} (blocked ${RESERVATION * 3}ms, reservation ${RESERVATION}ms)`);
    } finally {
      await fleet.close();
    }
  });
});

describe("fault 19b: a stale holder never frees a newer holder's unique lock", () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await RedisProcess.start();
  });
  after(async () => {
    await redis?.stop();
  });

  it("a blocked worker's late ack, after the key was re-dispatched, leaves the new lock in place", async () => {
    const fleet = await Fleet.open({
      redisUrl: redis.url,
      prefix: uniquePrefix("f19b"),
      tasks: [{ name: "uniq", unique: true, reservationTimeout: RESERVATION }],
    });
    try {
      const blocked = await fleet.spawn({ numWorkers: 1, batchSize: 1, label: "blocked" });
      const [firstId] = await fleet.dispatch("uniq", [
        { i: 0, key: "k", mode: "busy", before: 4_000, ms: RESERVATION * 4, onlyLabel: "blocked", otherMs: 20 },
      ]);
      await blocked.waitFor("the first holder to start", (r) => r.ev === "start" && r.id === firstId);
      const other = await fleet.spawn({ numWorkers: 2, label: "other" });
      // The other worker reclaims the stalled task and completes it, releasing the lock...
      await waitFor("the other worker to complete it", () => other.of("ack").some((r) => r.results.some((a) => a.id === firstId && a.ok)), 15_000, 10);
      // ...so the key is accepted again: a newer holder, with a new token, waiting in the queue.
      await other.stop();
      // Delayed, so no worker runs (and legitimately releases) it during the test.
      const secondId = await fleet.producer.dispatch("uniq" as never, { i: 1, key: "k", ms: 1 } as never, { delay: 600_000 }) as string;
      const lockKeys = await redis.keys(`${fleet.tag}:unique:*`);
      assert.equal(lockKeys.length, 1, "the newer holder's lock exists");
      await waitFor("the stale holder's late ack", () => blocked.of("ack").some((r) => r.results.some((a) => a.id === firstId)), 15_000, 10);
      const late = blocked.of("ack").flatMap((r) => r.results).filter((a) => a.id === firstId);
      assert.ok(late.every((a) => !a.ok), "the stale holder's ack is refused");
      assert.deepEqual(await redis.keys(`${fleet.tag}:unique:*`), lockKeys, "the newer holder's lock survived the stale ack");
      await assert.rejects(
        fleet.producer.dispatch("uniq" as never, { i: 2, key: "k" } as never),
        (e: Error) => e.name === "DuplicateTaskError",
        "the key is still taken by the newer holder",
      );
      void secondId;
      await blocked.stop();
      await assertLedger(fleet, [firstId], { noCrash: [] });
      figure("19b", `stale-ack-refused=${late.length} newer-lock-intact=yes duplicate-dispatch-refused=yes`);
    } finally {
      await fleet.close();
    }
  });

  it("an older holder completing after its lock vanished (evicted, expired) releases by token: the newer lock stays", async () => {
    const fleet = await Fleet.open({
      redisUrl: redis.url,
      prefix: uniquePrefix("f19c"),
      tasks: [{ name: "uniq", unique: true, reservationTimeout: RESERVATION }],
    });
    try {
      const w = await fleet.spawn({ numWorkers: 2, label: "w" });
      const [olderId] = await fleet.dispatch("uniq", [{ i: 0, key: "k", ms: 1_500 }]);
      await w.waitFor("the older holder to start", (r) => r.ev === "start" && r.id === olderId);
      const [lockKey] = await redis.keys(`${fleet.tag}:unique:*`);
      assert.ok(lockKey, "the older holder's lock exists");
      assert.equal(await redis.int("DEL", lockKey), 1, "the lock vanishes under the running task (as eviction or expiry would)");
      const newerId = await fleet.producer.dispatch("uniq" as never, { i: 1, key: "k" } as never, { delay: 600_000 }) as string;
      await w.waitFor("the older holder's ack", (r) => r.ev === "ack" && r.results.some((a) => a.id === olderId && a.ok), 10_000);
      assert.deepEqual(await redis.keys(`${fleet.tag}:unique:*`), [lockKey], "the newer holder's lock survived the older holder's release");
      await assert.rejects(
        fleet.producer.dispatch("uniq" as never, { i: 2, key: "k" } as never),
        (e: Error) => e.name === "DuplicateTaskError",
      );
      void newerId;
      await w.stop();
      figure("19c", "older-holder-release-by-token: newer-lock-intact=yes");
    } finally {
      await fleet.close();
    }
  });
});
