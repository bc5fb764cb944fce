/**
 * Fault matrix row 17(a): runner clocks off by an hour either way. Leases
 * and due times live on the Redis clock, so a skewed host must neither
 * reclaim healthy tasks early nor run delayed tasks early or late. (Row
 * 17(b), the Redis server's own clock jumping, needs libfaketime, which this
 * machine does not have.)
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RedisProcess, figure, uniquePrefix } from "./_harness.ts";
import { Fleet } from "./_fleet.ts";
import { assertLedger, ms, range } from "./_util.ts";

const HOUR = 3_600_000;
const RESERVATION = 400;

describe("fault 17a: runner clocks off by an hour", () => {
  let redis: RedisProcess;
  let fleet: Fleet;
  before(async () => {
    redis = await RedisProcess.start();
    fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f17"), tasks: [{ name: "work", reservationTimeout: RESERVATION }] });
  });
  after(async () => {
    await fleet?.close();
    await redis?.stop();
  });

  it("skewed runners reclaim nothing healthy and run delayed tasks on Redis time", async () => {
    const healthy = await fleet.spawn({ numWorkers: 4, label: "healthy" });
    const longIds = await fleet.dispatch("work", range(4).map((i) => ({ i, ms: 2_000, onlyLabel: "healthy", otherMs: 2_000 })));
    await healthy.waitFor("the long tasks to start", (r) => r.ev === "start" && r.id === longIds[3]);
    const ahead = await fleet.spawn({ numWorkers: 4, clockOffset: HOUR, label: "ahead" });
    const behind = await fleet.spawn({ numWorkers: 4, clockOffset: -HOUR, label: "behind" });
    // Producers with skewed clocks dispatch delayed tasks.
    const delayMs = 1_500;
    const results: { id: string; at: number }[] = [];
    for (const producer of [ahead, behind]) {
      const sentAt = Date.now();
      producer.send({ cmd: "dispatch", name: "work", payloads: range(10).map((i) => ({ i: 100 + i, ms: 1 })), tag: "delayed", delay: delayMs });
      const rec = await producer.waitFor("dispatched", (r) => r.ev === "dispatched" && r.tag === "delayed");
      for (const id of (rec as { ids: string[] }).ids) results.push({ id, at: sentAt });
    }
    const delayedIds = results.map((r) => r.id);
    fleet.accepted.push(...longIds, ...delayedIds);
    await fleet.settled(fleet.accepted, 20_000);

    const outcome = await assertLedger(fleet, fleet.accepted);
    assert.equal(outcome.duplicates, 0, "no healthy task was reclaimed by a runner whose clock is ahead");
    const firstStart = new Map<string, number>();
    for (const r of fleet.records()) if (r.ev === "start" && !firstStart.has(r.id)) firstStart.set(r.id, r.t);
    const offsets = results.map((r) => firstStart.get(r.id)! - r.at - delayMs);
    const early = offsets.filter((o) => o < -50).length;
    assert.equal(early, 0, `delayed tasks ran early: ${offsets.filter((o) => o < -50).join(", ")} ms`);
    assert.ok(Math.max(...offsets) < 1_500, `a delayed task ran ${Math.max(...offsets)} ms late`);
    assert.deepEqual(fleet.fatals(), []);
    await Promise.all([healthy.stop(), ahead.stop(), behind.stop()]);
    figure("17a", `clock +/-1h: duplicates=0 early-promotions=${early} delayed lateness p50=${ms(offsets.sort((a, b) => a - b)[Math.floor(offsets.length / 2)])} max=${ms(Math.max(...offsets))}`);
  });
});
