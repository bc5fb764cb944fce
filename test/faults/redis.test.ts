/**
 * Fault matrix rows 7, 9, 10 and 11: Redis restarted with no persistence,
 * Redis stalls (SIGSTOP, DEBUG SLEEP, CLIENT PAUSE), connections killed under
 * load, and a silent network partition through a TCP proxy.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RedisProcess, delay, figure, uniquePrefix, waitFor } from "./_harness.ts";
import { FaultProxy } from "./_proxy.ts";
import { Fleet } from "./_fleet.ts";
import { assertDuplicatesAtMost, assertFailedHandlerExactlyOnce } from "./_ledger.ts";
import { assertLedger, assertNoCrash, ms, range, unacked } from "./_util.ts";
import type { WorkerRecord } from "./_protocol.ts";

const RESERVATION = 400;

/** A record that shows the runner noticed trouble with Redis. */
function trouble(r: WorkerRecord): boolean {
  return (r.ev === "runner" && (r.name === "error" || r.name === "lost" || r.name.startsWith("log:"))) ||
    (r.ev === "heartbeat" && r.lost > 0) || (r.ev === "end" && r.aborted);
}

describe("fault matrix rows 7, 9-11 (Redis and network faults)", () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  it("fault 7: Redis restarted without persistence: the loss is detected and reported, the group recreated, new work runs", async () => {
    const redis = await RedisProcess.start({ persistence: "none" });
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f7"), tasks: [{ name: "work", reservationTimeout: RESERVATION }] });
    cleanup.push(async () => {
      await fleet.close();
      await redis.stop();
    });
    const a = await fleet.spawn({ numWorkers: 4, label: "a" });
    const b = await fleet.spawn({ numWorkers: 4, label: "b" });
    const first = await fleet.dispatch("work", range(400).map((i) => ({ i, ms: 20 })));
    await waitFor("a quarter of the run", () => fleet.completedIds().size >= 100, 20_000, 5);
    await redis.kill();
    const before = { a: a.records.length, b: b.records.length };
    await redis.restart();
    const up = Date.now();
    const reports = () => [...a.records.slice(before.a), ...b.records.slice(before.b)]
      .filter((r) => r.ev === "runner" && /consumer group missing|NOGROUP/i.test(r.detail ?? ""));
    await waitFor("the loss to be reported", () => reports().length > 0, 15_000, 20);
    const detection = Math.min(...reports().map((r) => r.t)) - up;

    const second = await fleet.dispatch("work", range(100).map((i) => ({ i: 1000 + i, ms: 2 })));
    await fleet.settled(second, 20_000);
    const done = fleet.completedIds();
    const actualLost = first.filter((id) => !done.has(id)).length;
    const reportedLostIds = fleet.lostIds().length;
    assert.ok(actualLost > 0, "a restart without persistence loses the queued tasks (the test must see it)");
    assertNoCrash(fleet, a, b);
    const perWorker = [a, b].map((w) => w.records.filter((r) => r.ev === "runner" && r.name.startsWith("log:") && /consumer group missing/i.test(r.detail ?? "")).length);
    for (const [k, n] of perWorker.entries()) {
      assert.ok(n <= 1, `the loss is reported once per worker, not ${n} times:\n` + [a, b][k].records
        .filter((r) => r.ev === "runner" && /consumer group missing/i.test(r.detail ?? ""))
        .map((r) => `${r.t - up}ms ${(r as { detail?: string }).detail}`).join("\n"));
    }
    await a.stop();
    await b.stop();
    figure(7, `detection=${ms(detection)} reports=${reports().length} (per worker ${perWorker.join("/")}) reported-lost-ids=${reportedLostIds} actual-lost=${actualLost} of ${first.length}; ${second.length}/${second.length} new tasks ran`);
  });

  it("fault 9: Redis stalls (SIGSTOP 0.5x/1x/3x reservation, DEBUG SLEEP, CLIENT PAUSE ALL/WRITE) cost at most what was in flight", async () => {
    const redis = await RedisProcess.start({ persistence: "none" });
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f9"), tasks: [{ name: "work", maxRetry: 2, reservationTimeout: RESERVATION }] });
    cleanup.push(async () => {
      await fleet.close();
      await redis.stop();
    });
    const a = await fleet.spawn({ numWorkers: 4, label: "a" });
    const b = await fleet.spawn({ numWorkers: 4, label: "b" });
    const ids = await fleet.dispatch("work", range(1000).map((i) => ({ i, ms: 30 })));
    const stalls: { kind: string; length: number; inFlight: number; startedAt: number; resumedAt: number; recovery: number }[] = [];
    // What was in flight when the stall began: counted before it starts and again once it is in effect
    // (`began`), since a worker may take a task in the few milliseconds the stall command takes.
    const stall = async (kind: string, length: number, run: (began: () => void) => Promise<void>) => {
      await waitFor("work in flight", () => unacked(a).size + unacked(b).size > 0, 10_000, 5);
      let inFlight = unacked(a).size + unacked(b).size;
      const began = () => {
        inFlight = Math.max(inFlight, unacked(a).size + unacked(b).size);
      };
      const startedAt = Date.now();
      await run(began);
      const resumedAt = Date.now();
      await waitFor("a completion after the stall", () => fleet.records().some((r) => r.ev === "end" && r.ok && r.t > resumedAt), 10_000, 5);
      const recovery = Math.min(...fleet.records().filter((r) => r.ev === "end" && r.ok && r.t > resumedAt).map((r) => r.t)) - resumedAt;
      stalls.push({ kind, length, inFlight, startedAt, resumedAt, recovery });
      await delay(300);
    };
    for (const factor of [0.5, 1, 3]) {
      const length = RESERVATION * factor;
      await stall("SIGSTOP", length, async (began) => {
        redis.pause();
        began();
        await delay(length);
        redis.resume();
      });
    }
    await stall("DEBUG SLEEP", RESERVATION, async () => {
      await redis.cliTimeout(5_000, "DEBUG", "SLEEP", String(RESERVATION / 1000));
    });
    await stall("CLIENT PAUSE ALL", RESERVATION, async (began) => {
      await redis.cli("CLIENT", "PAUSE", String(RESERVATION), "ALL");
      began();
      await delay(RESERVATION);
    });
    await stall("CLIENT PAUSE WRITE", RESERVATION, async (began) => {
      await redis.cli("CLIENT", "PAUSE", String(RESERVATION), "WRITE");
      began();
      await delay(RESERVATION);
    });
    await fleet.settled(ids, 60_000);

    const outcome = await assertLedger(fleet, ids);
    assert.equal(outcome.dead.size, 0, "a stall never dead-letters a task");
    assertFailedHandlerExactlyOnce(outcome);
    const bound = stalls.reduce((n, s) => n + s.inFlight, 0);
    assertDuplicatesAtMost(outcome, bound);
    // Duplicates per stall: second starts of one attempt, attributed to the stall they followed.
    const seen = new Map<string, number>();
    const dupAt: number[] = [];
    for (const r of [...fleet.records()].sort((x, y) => x.t - y.t)) {
      if (r.ev !== "start") continue;
      const key = `${r.id}#${r.attempt}`;
      if (seen.has(key)) dupAt.push(r.t);
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    const perStall = stalls.map((s, k) => {
      const end = stalls[k + 1]?.startedAt ?? Infinity;
      return dupAt.filter((t) => t >= s.startedAt && t < end).length;
    });
    const over = stalls.flatMap((s, k) => (perStall[k] > s.inFlight ? [`${s.kind} ${s.length}ms: ${perStall[k]} > ${s.inFlight}`] : []));
    assertNoCrash(fleet, a, b);
    await a.stop();
    await b.stop();
    figure(9, stalls.map((s, k) => `${s.kind} ${s.length}ms: dup=${perStall[k]}/${s.inFlight} recovery=${ms(s.recovery)}`).join("; "));
    assert.deepEqual(over, [], "duplicates after a stall exceed what was in flight when it began");
  });

  it("fault 10: connections killed every 100 ms under load: nothing lost, no duplicate without a lost reservation", async () => {
    const redis = await RedisProcess.start({ persistence: "none" });
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f10"), tasks: [{ name: "work", maxRetry: 2, reservationTimeout: RESERVATION }] });
    cleanup.push(async () => {
      await fleet.close();
      await redis.stop();
    });
    const a = await fleet.spawn({ numWorkers: 4, label: "a" });
    const b = await fleet.spawn({ numWorkers: 4, label: "b" });
    const baselineIds = await fleet.dispatch("work", range(300).map((i) => ({ i, ms: 10 })));
    const t0 = Date.now();
    await fleet.settled(baselineIds, 20_000);
    const baseline = baselineIds.length / ((Date.now() - t0) / 1000);
    const consumersBefore = (await redis.cli("XINFO", "CONSUMERS", `${fleet.tag}:stream`, "g")).split("\n").filter((l) => l === "name").length;

    const connsBefore = Number(await redis.info("total_connections_received"));
    const ids = await fleet.dispatch("work", range(300).map((i) => ({ i: 1000 + i, ms: 10 })));
    const t1 = Date.now();
    let kills = 0;
    let unblocks = 0;
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      await redis.cli("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").catch(() => "");
      kills++;
      await delay(100);
    }
    await fleet.settled(ids, 30_000);
    const underFault = ids.length / ((Date.now() - t1) / 1000);
    const reconnects = Number(await redis.info("total_connections_received")) - connsBefore;

    // Idle workers block in XREADGROUP: force those reads to fail, repeatedly; the reads must be re-issued.
    const blockedReads = async () =>
      (await redis.cli("CLIENT", "LIST").catch(() => "")).split("\n").filter((l) => /flags=\S*b/.test(l) && /cmd=xreadgroup/.test(l));
    await waitFor("an idle worker to block in XREADGROUP", async () => (await blockedReads()).length > 0, 10_000, 50);
    const unblockUntil = Date.now() + 1_000;
    while (Date.now() < unblockUntil) {
      for (const line of await blockedReads()) {
        const id = /\bid=(\d+)/.exec(line)?.[1];
        if (id && (await redis.cli("CLIENT", "UNBLOCK", id, "ERROR").catch(() => "0")).endsWith("1")) unblocks++;
      }
      await delay(100);
    }
    const afterUnblock = await fleet.dispatch("work", range(50).map((i) => ({ i: 5_000 + i, ms: 2 })));
    await fleet.settled(afterUnblock, 10_000);
    ids.push(...afterUnblock);

    const outcome = await assertLedger(fleet, [...baselineIds, ...ids]);
    assert.equal(outcome.dead.size, 0);
    assertFailedHandlerExactlyOnce(outcome);
    const lostReservations = fleet.records().reduce((n, r) => n + (r.ev === "heartbeat" ? r.lost : 0), 0) +
      fleet.records().filter((r) => r.ev === "ack").flatMap((r) => r.results).filter((x) => !x.ok).length;
    assertDuplicatesAtMost(outcome, lostReservations);
    assert.ok(unblocks > 0, "the blocked reads were found and failed on purpose");
    const consumersAfter = (await redis.cli("XINFO", "CONSUMERS", `${fleet.tag}:stream`, "g")).split("\n").filter((l) => l === "name").length;
    assert.equal(consumersAfter, consumersBefore, "consumer names are stable across reconnects");
    assertNoCrash(fleet, a, b);
    await a.stop();
    await b.stop();
    figure(10, `throughput ${Math.round(underFault)}/s vs baseline ${Math.round(baseline)}/s (${(underFault / baseline).toFixed(2)}x) client-kills=${kills} unblocks=${unblocks} reconnects=${reconnects} duplicates=${outcome.duplicates}`);
  });

  it("fault 11: a silent partition: the cut-off worker notices, its late acks are refused, stop() does not hang", async () => {
    const redis = await RedisProcess.start({ persistence: "none" });
    const proxy = await FaultProxy.start(redis.port);
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f11"), tasks: [{ name: "work", maxRetry: 2, reservationTimeout: RESERVATION }] });
    cleanup.push(async () => {
      await fleet.close();
      await proxy.close();
      await redis.stop();
    });
    const cut = await fleet.spawn({ numWorkers: 4, shutdownTimeout: 1_000, label: "cut", redisUrl: `redis://127.0.0.1:${proxy.port}` });
    const ids = await fleet.dispatch("work", range(4).map((i) => ({ i, ms: 4_000 })));
    await waitFor("the partitioned worker to run all four", () => cut.of("start").length === 4, 10_000, 5);
    // An idle worker with a direct connection, free to take over what the partition strands.
    const direct = await fleet.spawn({ numWorkers: 4, label: "direct" });
    const inFlight = unacked(cut).size;
    const mark = cut.records.length;
    proxy.setMode("blackhole");
    const cutAt = Date.now();
    await delay(RESERVATION * 2);
    const noticed = cut.records.slice(mark).filter(trouble);
    proxy.setMode("pass");
    await fleet.settled(ids, 60_000);

    const outcome = await assertLedger(fleet, ids, { failedHandlerOnce: true });
    assertDuplicatesAtMost(outcome, inFlight, fleet.records(), cutAt);
    const detection = noticed.length ? Math.min(...noticed.map((r) => r.t)) - cutAt : Infinity;

    // stop() while partitioned still ends within the grace period (plus a margin).
    proxy.setMode("blackhole");
    const stopStarted = Date.now();
    cut.send({ cmd: "stop" });
    await Promise.race([cut.waitFor("stopped", (r) => r.ev === "stopped", 10_000).catch(() => null), cut.exited]);
    const stopMs = Date.now() - stopStarted;
    proxy.setMode("pass");
    await direct.stop();
    figure(11, `detection=${ms(detection)} duplicates=${outcome.duplicates} (in flight behind the partition ${inFlight}) stop-while-partitioned=${ms(stopMs)}`);
    assert.ok(noticed.length > 0, `the partitioned worker noticed nothing in ${RESERVATION * 2} ms (no abort, no lost reservation, no error)`);
    // No hung promise: the grace period, then at most the runner's bounded final flush (5 s).
    assert.ok(stopMs <= 1_000 + 6_000, `stop() during a partition took ${stopMs} ms`);
    assert.deepEqual(fleet.fatals(), []);
  });
});
