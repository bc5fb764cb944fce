// @runtimes node deno bun
/**
 * Fault matrix rows 1, 6, 12 and 19: the rows every runtime runs (Node, Deno,
 * Bun). Each prints its figure as `fault <row>: ...`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { delay, figure, percentile, runtime, uniquePrefix, waitFor, type Persistence } from "./_harness.ts";
import { openProducer, privateFleet, type Fleet } from "./_fleet.ts";
import { assertDuplicatesAtMost, assertFailedHandlerExactlyOnce } from "./_ledger.ts";
import { assertLedger, ms, range, starts, unacked } from "./_util.ts";
import type { WorkerProcess } from "./_harness.ts";
import type { WorkerRecord } from "./_protocol.ts";

const RESERVATION = 400;

describe("fault 1: SIGKILL of a worker mid-task", () => {
  const env = privateFleet({
    prefix: uniquePrefix("f1"),
    tasks: [{ name: "work", maxRetry: 1, reservationTimeout: RESERVATION }],
  });

  it("reclaims the killed worker's tasks: nothing lost, one extra run per task in flight, no attempt charged", async () => {
    const { fleet } = env;
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
    await fleet.settled(ids, 30_000);

    const outcome = await assertLedger(fleet, ids);
    assert.equal(outcome.dead.size, 0, "no task may be dead-lettered by a crash");
    assertFailedHandlerExactlyOnce(outcome);
    const inFlight = kills.reduce((n, k) => n + k.open.size, 0);
    assert.ok(inFlight > 0, "the kills landed while tasks were running");
    assertDuplicatesAtMost(outcome, inFlight);

    // D1 per kill and no attempt charged: a killed task reruns with the same attempt.
    const latencies: number[] = [];
    for (const kill of kills) {
      for (const [id, attempt] of kill.open) {
        // The killed worker runs nothing after its kill, but its last records can carry the kill's
        // own millisecond: only other workers' starts are reruns.
        const reruns = fleet.records().filter((r) =>
          r.ev === "start" && r.id === id && r.t >= kill.t && r.pid !== kill.worker.pid
        );
        // One more run per kill that caught it in flight (the rerun itself may be killed too).
        // A rerun that itself lost its reservation (a heartbeat late under load) is fenced out and
        // counted by the duplicate bound, not charged to this kill.
        const fencedOut = fleet.workers.filter((w) =>
          w.records.some((r) =>
            (r.ev === "ack" && r.results.some((a) => a.id === id && !a.ok)) ||
            (r.ev === "heartbeat" && r.lostIds.includes(id)) ||
            (r.ev === "end" && r.id === id && r.aborted && r.t > kill.t)
          )
        ).length;
        const allowed = 1 + kills.filter((k2) => k2.t > kill.t && k2.open.has(id)).length + fencedOut;
        assert.ok(
          reruns.length <= allowed,
          `task ${id} ran ${reruns.length} more times after one kill (allowed ${allowed}); kills at ` +
            `${kills.map((k2) => `${k2.worker.config.label}@${k2.t}`).join(", ")}; its records:\n${timeline(fleet, id)}`,
        );
        if (attempt >= 0) {
          for (const r of reruns) assert.equal((r as { attempt: number }).attempt, attempt, `kill charged an attempt to ${id}`);
        }
        const done = outcome.completedAt.get(id);
        if (done !== undefined && done >= kill.t) latencies.push(done - kill.t);
      }
    }
    assert.deepEqual(fleet.fatals(), []);
    assert.equal(survivor.exit, null, "the survivor keeps running");
    await survivor.stop();
    figure(
      1,
      `${runtime()} kills=2 inFlightAtKill=${inFlight} duplicates=${outcome.duplicates} ` +
        `kill->completion p50=${ms(percentile(latencies, 50))} p99=${ms(percentile(latencies, 99))} ` +
        `(reservation ${RESERVATION}ms, ${ids.length} tasks)`,
    );
  });
});

describe("fault 1: SIGKILL of a worker while the survivor is idle", () => {
  const env = privateFleet({
    prefix: uniquePrefix("f1b"),
    tasks: [{ name: "work", reservationTimeout: RESERVATION }],
  });

  it("an idle survivor (default batchSize = numWorkers) picks a dead worker's tasks up within about one reservation", async () => {
    const { fleet } = env;
    const victim = await fleet.spawn({ numWorkers: 4, label: "victim" });
    const ids = await fleet.dispatch("work", range(4).map((i) => ({ i, ms: 60_000, onlyLabel: "victim", otherMs: 5 })));
    await waitFor("the victim to run all four", () => victim.of("start").length === 4, 10_000, 5);
    const survivor = await fleet.spawn({ numWorkers: 4, label: "survivor" });
    await delay(300);
    await victim.kill();
    const killedAt = Date.now();
    await waitFor("the survivor to complete all four", () => ids.every((id) => fleet.completedIds().has(id)), 15_000, 10);
    const latencies = ids.map((id) => {
      const start = survivor.records.find((r) => r.ev === "start" && r.id === id)!;
      return start.t - killedAt;
    });
    await survivor.stop();
    await assertLedger(fleet, ids);
    figure(1, `${runtime()} idle survivor: kill->rerun p50=${ms(percentile(latencies, 50))} max=${ms(Math.max(...latencies))} (reservation ${RESERVATION}ms)`);
    assert.ok(
      Math.max(...latencies) <= RESERVATION * 2 + 500,
      `the idle survivor took ${Math.max(...latencies)} ms to take over (reservation ${RESERVATION} ms)`,
    );
  });
});

for (const persistence of ["aof-always", "aof-everysec"] as Persistence[]) {
  describe(`fault 6: Redis SIGKILL and restart with AOF (${persistence})`, () => {
    const env = privateFleet({
      redis: { persistence },
      prefix: uniquePrefix("f6"),
      tasks: [{ name: "work", maxRetry: 1, reservationTimeout: RESERVATION }],
    });

    it("workers ride out the outage without a restart; nothing lost, duplicates bounded by what was in flight", async () => {
      const { redis, fleet } = env;
      const a = await fleet.spawn({ numWorkers: 4, label: "a" });
      const b = await fleet.spawn({ numWorkers: 4, label: "b" });
      const pids = [a.pid, b.pid];
      const ids = await fleet.dispatch("work", range(1000).map((i) => ({ i, ms: 10 })));
      await waitFor("a third of the run", () => fleet.completedIds().size >= 300, 20_000, 5);
      await redis.kill();
      const killedAt = Date.now();
      const inFlight = unacked(a).size + unacked(b).size;
      await delay(2_000);
      await redis.restart();
      const up = Date.now();
      await fleet.settled(ids, 45_000);
      const firstAfter = Math.min(
        ...fleet.records().filter((r) => r.ev === "end" && r.ok && r.t >= up).map((r) => r.t),
      );

      const outcome = await assertLedger(fleet, ids, { fenced: persistence === "aof-always" });
      if (persistence !== "aof-always") {
        // With appendfsync everysec Redis may answer before its AOF write while
        // an fsync lags (it postpones the write up to 2 s), so an ack accepted
        // just before the SIGKILL can be lost with the AOF tail and the task
        // acked again after the restart. Every re-ack must be explained by that
        // window: its first accepted ack came at most 3 s before the kill.
        for (const id of outcome.doubleAcked) {
          const first = Math.min(
            ...fleet.records()
              .filter((r) => r.ev === "ack" && r.results.some((x) => x.id === id && x.ok))
              .map((r) => r.t),
          );
          assert.ok(
            first <= killedAt && killedAt - first <= 3_000,
            `task ${id} acked twice, first at ${first - killedAt} ms from the kill: not explained by the AOF tail`,
          );
        }
      }
      assert.equal(outcome.dead.size, 0);
      assertFailedHandlerExactlyOnce(outcome);
      assertDuplicatesAtMost(outcome, inFlight, fleet.records(), killedAt);
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

describe("fault 12: poison payloads", () => {
  const env = privateFleet({
    prefix: uniquePrefix("f12"),
    tasks: [
      { name: "work", maxRetry: 3, reservationTimeout: RESERVATION },
      { name: "typed", maxRetry: 3, reservationTimeout: RESERVATION, schema: true },
    ],
  });

  it("bad entries are dead-lettered at once with a reason, a crash loop is quarantined, others run on", async () => {
    const { redis, fleet } = env;
    const maxDeliveries = 3;
    const stream = `${fleet.tag}:stream`;
    const entry = (id: string, name: string, body: string) =>
      ["XADD", stream, "*", "id", id, "name", name, "body", body, "attempt", "0", "rt", String(RESERVATION)];
    // Written by a foreign producer straight into the stream, past every dispatch-time check.
    await redis.cli(...entry("raw-json", "work", "{not json"));
    await redis.cli(...entry("raw-schema", "typed", JSON.stringify({ i: "not a number" })));
    await redis.cli(...entry("raw-oversize", "work", JSON.stringify({ i: 1, pad: "x".repeat(60_000) })));
    await redis.cli("XADD", stream, "*", "foo", "bar");
    const rawIds = ["raw-json", "raw-schema", "raw-oversize"];
    const workerOptions = { numWorkers: 4, maxDeliveries, maxPayloadBytes: 50_000 };
    const a = await fleet.spawn({ ...workerOptions, label: "a" });
    const b = await fleet.spawn({ ...workerOptions, label: "b" });
    const [poisonId] = await fleet.dispatch("work", [{ i: 0, mode: "exit" }]);
    const poisonAt = Date.now();
    const ids = await fleet.dispatch("work", range(200).map((i) => ({ i: i + 1, ms: 5 })));

    // Supervise: a crashed worker is replaced, as a process manager would.
    let crashes = 0;
    const replaceCrashed = async () => {
      for (const w of [...fleet.workers]) {
        if (w.exit && !(w as { replaced?: boolean }).replaced) {
          (w as { replaced?: boolean }).replaced = true;
          if (w.exit.code === 1) crashes++;
          await fleet.spawn({ ...workerOptions, label: `r${crashes}` });
        }
      }
    };
    let dead: Awaited<ReturnType<typeof fleet.deadLetters>> = [];
    await waitFor("every good task done and every bad one dead", async () => {
      await replaceCrashed();
      dead = await fleet.deadLetters();
      const done = fleet.completedIds();
      return ids.every((id) => done.has(id)) && dead.length >= rawIds.length + 2;
    }, 60_000, 100).catch((error) => {
      const done = fleet.completedIds();
      throw new Error(
        `${String(error)}\ngood done ${ids.filter((id) => done.has(id)).length}/${ids.length}; crashes ${crashes}; ` +
          `dead ${JSON.stringify(dead.map((d) => [d.id, d.reason, d.error.message.slice(0, 80)]))}\n` +
          fleet.workers.map((w) => `${w.config.label}: exit=${JSON.stringify(w.exit)} ${w.noise.join("").slice(-500)} ${JSON.stringify(w.records.filter((r) => r.ev === "runner").slice(-5))}`).join("\n"),
      );
    });
    await fleet.handlersCalled();
    const byId = new Map(dead.map((d) => [d.id, d]));
    const poisonDead = byId.get(poisonId);
    assert.ok(poisonDead, "the crash-looping task is quarantined");
    assert.equal(poisonDead.reason, "poison");
    const quarantineMs = poisonDead.failedAt - poisonAt;
    assert.ok(crashes >= 1 && crashes <= maxDeliveries, `${crashes} crashes before quarantine (maxDeliveries ${maxDeliveries})`);
    for (const id of rawIds) {
      const d = byId.get(id);
      assert.ok(d, `${id} is dead-lettered`);
      assert.ok(["invalid-payload", "malformed"].includes(d.reason), `${id}: reason ${d.reason}`);
      assert.equal(fleet.records().filter((r) => r.ev === "start" && r.id === id).length, 0, `${id} never reached a handler`);
    }
    const malformed = dead.filter((d) => !rawIds.includes(d.id) && d.id !== poisonId);
    assert.equal(malformed.length, 1, "the entry with missing fields is dead-lettered too");
    assert.equal(malformed[0].reason, "malformed");
    await assertLedger(fleet, [...ids, poisonId], { dead, failedHandlerOnce: true, noCrash: [] });
    const goodEnds = fleet.records().filter((r) => r.ev === "end" && r.ok).map((r) => r.t);
    const throughput = goodEnds.length / ((Math.max(...goodEnds) - Math.min(...goodEnds)) / 1000);
    for (const w of fleet.workers) if (!w.exit) await w.stop();
    void a;
    void b;
    figure(
      12,
      `${runtime()} time-to-quarantine=${ms(quarantineMs)} crashes-before-quarantine=${crashes} ` +
        `bad-entries-dead=${rawIds.length + 1}/4 (0 handler runs) others=${ids.length}/${ids.length} at ${Math.round(throughput)}/s`,
    );
  });
});

describe("fault 19: unique-task race across processes", () => {
  const env = privateFleet({
    prefix: uniquePrefix("f19"),
    tasks: [{ name: "uniq", unique: true, maxRetry: 0, reservationTimeout: RESERVATION }],
  });

  it("20 producers, 1000 keys: one accepted per key; locks released on every terminal state and after a crash", async () => {
    const { redis, fleet } = env;
    const KEYS = 1000;
    const payload = (k: number) => ({
      i: k,
      key: `k${k}`,
      // 0..899 complete, 900..949 fail for good, 950..999 hang on the worker that gets killed.
      ...(k < 900 ? { ms: 2 } : k < 950 ? { mode: "fail" as const } : { mode: "hang-ignore" as const, onlyLabel: "victim", otherMs: 2 }),
    });
    const payloads = range(KEYS).map(payload);
    const options = { ...fleet.options };
    const children = await Promise.all(range(4).map((n) => fleet.spawn({ consume: false, label: `producer-${n}` })));
    const locals = await Promise.all(range(16).map(() => openProducer(options)));
    try {
      // All twenty fire at once.
      for (const child of children) child.send({ cmd: "dispatch", name: "uniq", payloads, tag: "race" });
      const localResults = await Promise.all(locals.map(async (p) => {
        const out = await Promise.allSettled(payloads.map((pl) => p.producer.dispatch("uniq" as never, pl as never) as Promise<string>));
        return out.map((r, k) => ({ key: payloads[k].key, ok: r.status === "fulfilled", id: r.status === "fulfilled" ? r.value : "", err: r.status === "rejected" ? (r.reason as Error).name : "" }));
      }));
      const childResults = await Promise.all(children.map((c) => c.waitFor("dispatched", (r) => r.ev === "dispatched" && r.tag === "race", 30_000)));
      const acceptedPerKey = new Map<string, string[]>();
      const otherErrors: string[] = [];
      for (const list of localResults) {
        for (const r of list) {
          if (r.ok) acceptedPerKey.set(r.key, [...(acceptedPerKey.get(r.key) ?? []), r.id]);
          else if (r.err !== "DuplicateTaskError") otherErrors.push(r.err);
        }
      }
      for (const rec of childResults) {
        const d = rec as Extract<typeof rec, { ev: "dispatched" }>;
        d.keys.forEach((key, k) => acceptedPerKey.set(key, [...(acceptedPerKey.get(key) ?? []), d.ids[k]]));
        otherErrors.push(...d.errors.filter((e) => e !== "DuplicateTaskError"));
      }
      assert.deepEqual(otherErrors, [], "every refusal is a DuplicateTaskError");
      const counts = range(KEYS).map((k) => acceptedPerKey.get(`k${k}`)?.length ?? 0);
      assert.deepEqual(counts.filter((c) => c !== 1), [], "exactly one accepted dispatch per key");
      const ids = range(KEYS).map((k) => acceptedPerKey.get(`k${k}`)![0]);
      fleet.accepted.push(...ids);
      assert.equal((await redis.keys(`${fleet.tag}:unique:*`)).length, KEYS, "one lock per key while queued");

      // Run them: a victim takes some hanging tasks and is SIGKILLed while holding their locks.
      const victim = await fleet.spawn({ numWorkers: 8, label: "victim" });
      await waitFor("the victim to hold hanging tasks", () => victim.of("start").some((r) => r.i >= 950), 20_000, 10);
      const survivor = await fleet.spawn({ numWorkers: 8, label: "survivor" });
      const held = victim.of("start").filter((r) => r.i >= 950 && !victim.of("end").some((e) => e.id === r.id)).map((r) => r.id);
      await victim.kill();
      const killedAt = Date.now();
      await fleet.settled(ids, 30_000);
      const releasedAfterCrash = Date.now() - killedAt;
      const dead = await fleet.deadLetters();
      assert.equal(dead.length, 50, "the failing keys are dead");
      const orphaned = (await redis.keys(`${fleet.tag}:unique:*`)).length;
      assert.equal(orphaned, 0, "no lock left once every task reached a terminal state");

      // Deleting the dead letters changes nothing for the locks; every key is free again.
      for (const d of dead) assert.equal(await fleet.queue.deleteDeadLetter(d.deadLetterId), true);
      const again = await Promise.allSettled(payloads.map((pl) => fleet.producer.dispatch("uniq" as never, { ...pl, mode: undefined, onlyLabel: undefined, ms: 1 } as never)));
      const refusedAgain = again.filter((r) => r.status === "rejected").length;
      assert.equal(refusedAgain, 0, "a key is accepted again after completion, failure and crash recovery");
      await waitFor("the second round to finish", () => fleet.completedIds().size >= KEYS - 50 + KEYS, 30_000, 50);
      assert.equal((await redis.keys(`${fleet.tag}:unique:*`)).length, 0, "second round leaves no lock either");
      await assertLedger(fleet, ids, { dead, failedHandlerOnce: true, noCrash: [] });
      await survivor.stop();
      figure(
        19,
        `${runtime()} producers=20 keys=${KEYS} accepted-per-key=1 (min ${Math.min(...counts)} max ${Math.max(...counts)}) ` +
          `orphaned-locks=${orphaned} held-by-killed=${held.length} released-after-crash=${ms(releasedAfterCrash)} (reservation ${RESERVATION}ms)`,
      );
    } finally {
      await Promise.all(locals.map((p) => p.close()));
    }
  });
});

/** Every record that names `id`, from every worker, in time order: what a failed bound is judged from. */
function timeline(fleet: Fleet, id: string): string {
  const names = (r: WorkerRecord): boolean =>
    ("id" in r && r.id === id) ||
    ("ids" in r && r.ids.includes(id)) ||
    (r.ev === "ack" && r.results.some((a) => a.id === id)) ||
    (r.ev === "heartbeat" && r.lostIds.includes(id));
  return fleet.records()
    .filter(names)
    .sort((a, b) => a.t - b.t)
    .map((r) => `  ${r.t} ${r.label ?? r.pid} ${JSON.stringify(r)}`)
    .join("\n");
}
