/**
 * Fault matrix rows 21 and 22: the stream trimmed, entries deleted or the
 * whole stream deleted under consumers; the consumer group destroyed, and a
 * consumer with pending entries deleted, all from outside the library.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RedisProcess, delay, figure, uniquePrefix, waitFor } from "./_harness.ts";
import { Fleet } from "./_fleet.ts";
import { assertDuplicatesAtMost } from "./_ledger.ts";
import { assertLedger, assertNoCrash, ms, range, unacked } from "./_util.ts";

const RESERVATION = 400;

/** Stream entry ids held (pending) by the consumers of a group, with their task ids. */
async function pendingEntries(redis: RedisProcess, stream: string): Promise<string[]> {
  const out = await redis.cli("XPENDING", stream, "g", "-", "+", "1000");
  return out.split("\n").filter((l) => /^\d+-\d+$/.test(l));
}

describe("fault matrix rows 21-22 (stream and group damage)", () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await RedisProcess.start();
  });
  after(async () => {
    await redis?.stop();
  });

  it("fault 21a: in-flight entries deleted (XDEL) under a worker that then dies are reported lost, once each", async () => {
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f21a"), tasks: [{ name: "work", reservationTimeout: RESERVATION }] });
    try {
      const stream = `${fleet.tag}:stream`;
      const victim = await fleet.spawn({ numWorkers: 4, label: "victim" });
      const ids = await fleet.dispatch("work", range(4).map((i) => ({ i, ms: 60_000 })));
      await waitFor("the victim to run all four", () => victim.of("start").length === 4, 10_000, 10);
      const entries = await pendingEntries(redis, stream);
      assert.equal(entries.length, 4);
      const deleted = await redis.int("XDEL", stream, ...entries);
      await victim.kill();
      const survivor = await fleet.spawn({ numWorkers: 4, label: "survivor" });
      const after = await fleet.dispatch("work", range(20).map((i) => ({ i: 100 + i, ms: 2 })));
      await waitFor("the loss to be reported", () => lostEvents(fleet).length >= deleted, 10_000, 20);
      await fleet.settled(after, 10_000);
      await delay(RESERVATION * 2);
      const reported = lostEvents(fleet);
      assert.equal(reported.length, deleted, "each vanished entry is reported exactly once");
      assert.equal((await pendingEntries(redis, stream)).length, 0, "vanished entries leave the pending list");
      assertNoCrash(fleet, survivor);
      await survivor.stop();
      figure("21a", `xdel-in-flight deleted=${deleted} reported-lost=${reported.length} (${ids.length} tasks held by a killed worker)`);
    } finally {
      await fleet.close();
    }
  });

  it("fault 21b: XTRIM MAXLEN 0 and DEL of the stream under blocked readers: no crash, group recreated, new work runs", async () => {
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f21b"), tasks: [{ name: "work", reservationTimeout: RESERVATION }] });
    try {
      const stream = `${fleet.tag}:stream`;
      const a = await fleet.spawn({ numWorkers: 2, label: "a" });
      const b = await fleet.spawn({ numWorkers: 2, label: "b" });
      const first = await fleet.dispatch("work", range(200).map((i) => ({ i, ms: 20 })));
      await waitFor("the run to be under way", () => fleet.completedIds().size >= 20, 10_000, 5);
      const inFlight = unacked(a).size + unacked(b).size;
      const trimmed = await redis.int("XTRIM", stream, "MAXLEN", "0");
      await delay(RESERVATION * 2);
      const done = fleet.completedIds();
      const trimmedUndelivered = first.filter((id) => !fleet.records().some((r) => r.ev === "start" && r.id === id)).length;

      // Readers now block on an empty stream: delete it under them.
      await waitFor("both workers idle", () => unacked(a).size + unacked(b).size === 0, 10_000, 10);
      const delAt = Date.now();
      assert.equal(await redis.int("DEL", stream), 1);
      await delay(300);
      const second = await fleet.dispatch("work", range(50).map((i) => ({ i: 1000 + i, ms: 2 })));
      await fleet.settled(second, 15_000);
      const recovery = Math.min(...fleet.records().filter((r) => r.ev === "end" && r.ok && r.t > delAt).map((r) => r.t)) - delAt;
      assert.equal(await redis.int("XINFO", "GROUPS", stream).catch(() => 1), 1, "the group exists again");
      await assertLedger(fleet, second, { noCrash: [a, b] });
      await a.stop();
      await b.stop();
      figure(
        "21b",
        `xtrim deleted=${trimmed} (in flight ${inFlight}, never delivered ${trimmedUndelivered}: unreportable, completed ${done.size}) ` +
          `del-stream recovery=${ms(recovery)} new=${second.length}/${second.length}`,
      );
    } finally {
      await fleet.close();
    }
  });

  it("fault 22a: XGROUP DESTROY under load: group recreated from 0, duplicates bounded by what was outstanding", async () => {
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f22a"), tasks: [{ name: "work", maxRetry: 2, reservationTimeout: RESERVATION }] });
    try {
      const stream = `${fleet.tag}:stream`;
      const a = await fleet.spawn({ numWorkers: 4, label: "a" });
      const b = await fleet.spawn({ numWorkers: 4, label: "b" });
      const ids = await fleet.dispatch("work", range(600).map((i) => ({ i, ms: 10 })));
      await waitFor("a third of the run", () => fleet.completedIds().size >= 200, 20_000, 5);
      const inFlight = unacked(a).size + unacked(b).size;
      const destroyedAt = Date.now();
      assert.equal(await redis.int("XGROUP", "DESTROY", stream, "g"), 1);
      await fleet.settled(ids, 30_000);
      const recovery = Math.min(...fleet.records().filter((r) => r.ev === "start" && r.t > destroyedAt + 1).map((r) => r.t)) - destroyedAt;
      const outcome = await assertLedger(fleet, ids, { failedHandlerOnce: true });
      assertDuplicatesAtMost(outcome, inFlight + 8, fleet.records(), destroyedAt);
      assert.equal(await redis.int("XLEN", stream), 0, "the stream holds no leftover entry");
      assert.deepEqual(fleet.fatals(), []);
      await a.stop();
      await b.stop();
      figure("22a", `group-destroy recovery=${ms(recovery)} duplicates=${outcome.duplicates} (in flight ${inFlight})`);
    } finally {
      await fleet.close();
    }
  });

  it("fault 22b: XGROUP DELCONSUMER of a consumer holding tasks: the refused acks are reported, the library never does it", async () => {
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f22b"), tasks: [{ name: "work", reservationTimeout: RESERVATION }] });
    try {
      const stream = `${fleet.tag}:stream`;
      const victim = await fleet.spawn({ numWorkers: 4, label: "victim" });
      const ids = await fleet.dispatch("work", range(4).map((i) => ({ i, ms: 800 })));
      await waitFor("the victim to run all four", () => victim.of("start").length === 4, 10_000, 10);
      const consumers = (await redis.cli("XINFO", "CONSUMERS", stream, "g")).split("\n");
      const name = consumers[consumers.indexOf("name") + 1];
      const dropped = await redis.int("XGROUP", "DELCONSUMER", stream, "g", name);
      assert.equal(dropped, 4);
      await waitFor("the handlers to finish", () => victim.of("end").length === 4, 10_000, 10);
      await waitFor("the losses to be reported", () => victim.records.filter((r) => r.ev === "runner" && r.name === "lost").length >= 4, 10_000, 20);
      const refused = victim.of("ack").flatMap((r) => r.results).filter((x) => !x.ok).length;
      const reported = victim.records.filter((r) => r.ev === "runner" && r.name === "lost").length;
      // The deleted consumer's tasks are lost to the group: the requirement is that each loss is reported.
      const reportedIds = victim.records.flatMap((r) => (r.ev === "runner" && r.name === "lost" && r.id ? [r.id] : []));
      await assertLedger(fleet, ids, { lost: reportedIds, allowLost: true });
      const orphans = await redis.int("XLEN", stream);

      await victim.stop();
      // The library's own consumer cleanup never drops a consumer that holds entries.
      const holder = await fleet.spawn({ numWorkers: 1, label: "holder" });
      const [heldId] = await fleet.dispatch("work", [{ i: 99, ms: 60_000 }]);
      await holder.waitFor("the held task to start", (r) => r.ev === "start" && r.id === heldId);
      await holder.kill();
      const names = (await redis.cli("XINFO", "CONSUMERS", stream, "g")).split("\n");
      const holderName = names.filter((_, k) => names[k - 1] === "name").find((n) => n.includes(String(holder.pid)));
      assert.ok(holderName, "the crashed consumer is listed");
      assert.equal(await fleet.queue.removeConsumer({ group: "g", name: holderName }), false, "removeConsumer refuses a consumer with pending entries");
      assert.equal((await pendingEntries(redis, stream)).length, 1, "its pending entry is still claimable");
      assert.deepEqual(fleet.fatals(), []);
      figure("22b", `delconsumer dropped=${dropped} detected: refused-acks=${refused} lost-events=${reported} orphan-entries=${orphans} removeConsumer(holding)=refused`);
    } finally {
      await fleet.close();
    }
  });
});

function lostEvents(fleet: Fleet) {
  return fleet.records().filter((r) => r.ev === "runner" && r.name === "lost" && r.detail === "entry-missing");
}
