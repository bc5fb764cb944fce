/**
 * Fault matrix rows 18 and 23: a 100k-task burst (nothing lost, no
 * duplicate, memory back near baseline once drained) and Redis running out
 * of memory under `noeviction` (typed enqueue errors, the queue still drains,
 * enqueue recovers; a startup warning for evicting policies).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RedisProcess, delay, figure, percentile, uniquePrefix, waitFor } from "./_harness.ts";
import { Fleet } from "./_fleet.ts";
import { assertLedger, ms, range } from "./_util.ts";
import type { DispatchResult } from "../../src/task.ts";

const MB = 1024 * 1024;

describe("fault matrix rows 18 and 23 (capacity)", () => {
  it("fault 18: a 100k-task burst while three workers consume: nothing lost, no duplicate, memory returns", async () => {
    const TOTAL = Number(process.env.FAULT_BURST ?? 100_000);
    const BATCH = 1_000;
    const redis = await RedisProcess.start();
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f18"), tasks: [{ name: "noop", reservationTimeout: 5_000 }] });
    try {
      const baseline = Number(await redis.info("used_memory"));
      const workers = await Promise.all(range(3).map((n) => fleet.spawn({ numWorkers: 20, batchSize: 20, label: `w${n}` })));
      let peakUsed = baseline;
      let peakRss = 0;
      let loopP99 = 0;
      let polling = true;
      const poller = (async () => {
        while (polling) {
          peakUsed = Math.max(peakUsed, Number(await redis.info("used_memory")));
          for (const w of workers) w.send({ cmd: "mem" });
          await delay(250);
        }
      })();
      const batchAt: number[] = [];
      const idAt = new Map<string, number>();
      const t0 = Date.now();
      for (let b = 0; b < TOTAL / BATCH; b++) {
        const at = Date.now();
        batchAt.push(at);
        const results: DispatchResult[] = await fleet.producer.dispatchBulk(
          range(BATCH).map((k) => ({ name: "noop", payload: { i: b * BATCH + k } })),
        );
        for (const r of results) {
          assert.ok(r.ok, "every burst dispatch is accepted");
          idAt.set(r.id, at);
          fleet.accepted.push(r.id);
        }
      }
      const enqueueRate = TOTAL / ((Date.now() - t0) / 1000);
      const ids = fleet.accepted;
      await waitFor("the burst to drain", () => fleet.completedIds().size >= TOTAL, 120_000, 200);
      const drainedAt = Date.now();
      await delay(3_000);
      polling = false;
      await poller;
      for (const w of workers) {
        for (const m of w.of("mem")) {
          peakRss = Math.max(peakRss, m.rss);
          if (Number.isFinite(m.loopDelayP99)) loopP99 = Math.max(loopP99, m.loopDelayP99);
        }
      }
      const usedAfter = Number(await redis.info("used_memory"));

      const outcome = await assertLedger(fleet, ids, { failedHandlerOnce: true });
      assert.equal(outcome.duplicates, 0, "no fault, no duplicate");
      assert.equal(await redis.int("XLEN", `${fleet.tag}:stream`), 0, "acked entries are deleted");
      assert.ok(
        usedAfter - baseline <= Math.max(2 * MB, 0.1 * (peakUsed - baseline)),
        `used_memory ${usedAfter} did not return near the baseline ${baseline} (peak ${peakUsed})`,
      );
      assert.deepEqual(fleet.fatals(), [], "no unpack error or other crash");
      const errors = fleet.records().filter((r) => r.ev === "runner" && r.name === "error");
      assert.deepEqual(errors.map((r) => (r as { detail?: string }).detail).slice(0, 3), [], "no internal error");
      const latencies = [...outcome.completedAt].map(([id, t]) => t - idAt.get(id)!);
      const e2e = TOTAL / ((drainedAt - t0) / 1000);
      await Promise.all(workers.map((w) => w.stop()));
      figure(
        18,
        `tasks=${TOTAL} enqueue=${Math.round(enqueueRate)}/s e2e=${Math.round(e2e)}/s latency p50=${ms(percentile(latencies, 50))} ` +
          `p99=${ms(percentile(latencies, 99))} peak-worker-rss=${Math.round(peakRss / MB)}MB ` +
          `used_memory baseline=${(baseline / MB).toFixed(1)}MB peak=${(peakUsed / MB).toFixed(1)}MB after=${(usedAfter / MB).toFixed(1)}MB ` +
          `loop-delay-p99=${ms(loopP99)} duplicates=0`,
      );
    } finally {
      await fleet.close();
      await redis.stop();
    }
  });

  it("fault 23: maxmemory reached under noeviction: typed enqueue errors, the queue drains, enqueue recovers", async () => {
    const redis = await RedisProcess.start({ args: ["--maxmemory-policy", "noeviction"] });
    const fleet = await Fleet.open({ redisUrl: redis.url, prefix: uniquePrefix("f23"), tasks: [{ name: "work", reservationTimeout: 1_000 }] });
    try {
      const a = await fleet.spawn({ numWorkers: 4, label: "a" });
      const b = await fleet.spawn({ numWorkers: 4, label: "b" });
      const used = Number(await redis.info("used_memory"));
      await redis.cli("CONFIG", "SET", "maxmemory", String(used + 2 * MB));
      const pad = "x".repeat(4_096);
      const errors: { name: string; message: string }[] = [];
      const accepted: string[] = [];
      let k = 0;
      const burstStart = Date.now();
      while (errors.length < 50 && k < 5_000) {
        const wave = await Promise.allSettled(range(20).map(() => fleet.producer.dispatch("work" as never, { i: k++, ms: 20, pad } as never) as Promise<string>));
        for (const r of wave) {
          if (r.status === "fulfilled") accepted.push(r.value);
          else errors.push({ name: (r.reason as Error)?.constructor?.name ?? typeof r.reason, message: String((r.reason as Error)?.message) });
        }
      }
      const burstEnd = Date.now();
      assert.ok(errors.length > 0, `the burst never hit maxmemory (${accepted.length} accepted)`);
      const untyped = errors.filter((e) => e.name !== "TransportError" || !/OOM/.test(e.message));
      assert.deepEqual(untyped.slice(0, 3), [], "every refused enqueue is an error that names the cause (OOM), never a silent drop");
      fleet.accepted.push(...accepted);
      await waitFor("every accepted task to drain under OOM", () => {
        const done = fleet.completedIds();
        return accepted.every((id) => done.has(id));
      }, 60_000, 50);
      let recoveredAt = 0;
      await waitFor("enqueue to work again", async () => {
        try {
          const id = await fleet.producer.dispatch("work" as never, { i: -1 } as never) as string;
          fleet.accepted.push(id);
          recoveredAt = Date.now();
          return true;
        } catch {
          return false;
        }
      }, 30_000, 50);
      await fleet.settled(fleet.accepted, 10_000);
      await assertLedger(fleet, fleet.accepted, { noCrash: [a, b] });
      await a.stop();
      await b.stop();

      // Evicting policies are flagged at startup.
      const warnings: string[] = [];
      for (const policy of ["allkeys-lru", "volatile-lru"]) {
        await redis.cli("CONFIG", "SET", "maxmemory-policy", policy);
        const w = await fleet.spawn({ numWorkers: 1, label: policy });
        const warned = await w.waitFor("an eviction-policy warning", (r) => r.ev === "runner" && r.name.startsWith("log:") && /noeviction|eviction|maxmemory/i.test(r.detail ?? ""), 5_000)
          .then(() => true, () => false);
        warnings.push(`${policy}=${warned ? "warned" : "silent"}`);
        await w.stop();
      }
      figure(23, `producer-errors=${errors.length} (${errors[0]?.name}: ${errors[0]?.message.slice(0, 60)}) accepted=${accepted.length} drained, ` +
        `recover=${ms(recoveredAt - burstEnd)} after the burst (${ms(burstEnd - burstStart)}) lost=0 startup: ${warnings.join(" ")}`);
      assert.deepEqual(warnings, ["allkeys-lru=warned", "volatile-lru=warned"]);
    } finally {
      await fleet.close();
      await redis.stop();
    }
  });
});
