/**
 * Fault matrix rows 13–16: handlers that never resolve, handlers that throw
 * odd values or return odd results, retries exhausted while a worker dies in
 * the fail path, and a failed-task handler that throws or hangs.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RedisProcess, delay, figure, percentile, uniquePrefix, waitFor } from "./_harness.ts";
import { Fleet } from "./_fleet.ts";
import { assertFailedHandlerExactlyOnce } from "./_ledger.ts";
import { assertLedger, ms, range } from "./_util.ts";

const RESERVATION = 400;

describe("fault matrix rows 13-16 (handler faults)", () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await RedisProcess.start();
  });
  after(async () => {
    await redis?.stop();
  });

  it("fault 13: handlers that never resolve time out, free their slot and follow the retry policy", async () => {
    const timeout = 300;
    const fleet = await Fleet.open({
      redisUrl: redis.url,
      prefix: uniquePrefix("f13"),
      tasks: [
        { name: "hang", maxRetry: 1, timeout, reservationTimeout: RESERVATION, backoff: 50 },
        { name: "work", reservationTimeout: RESERVATION },
      ],
    });
    try {
      const worker = await fleet.spawn({ numWorkers: 2, batchSize: 1, shutdownTimeout: 1_000, label: "w" });
      const hangIds = await fleet.dispatch("hang", [
        { i: 0, mode: "hang" }, { i: 1, mode: "hang" }, { i: 2, mode: "hang-ignore" }, { i: 3, mode: "hang-ignore" },
      ]);
      // Two slots, four handlers that never resolve, each run twice: only released slots let these run.
      const workIds = await fleet.dispatch("work", range(20).map((i) => ({ i: 10 + i, ms: 5 })));
      const ids = [...hangIds, ...workIds];
      await fleet.settled(ids);

      const dead = await fleet.deadTasks();
      const outcome = await assertLedger(fleet, ids, { dead, failedHandlerOnce: true });
      assert.deepEqual(new Set(dead.map((d) => d.id)), new Set(hangIds), "every never-resolving task is dead, nothing else");
      for (const d of dead) assert.equal(d.reason, "max-retries");
      for (const id of workIds) assert.ok(outcome.completed.has(id), "slots were released for the other tasks");
      const runs = (id: string) => worker.records.filter((r) => r.ev === "start" && r.id === id);
      for (const id of hangIds) assert.equal(runs(id).length, 2, "maxRetry 1 = two runs");
      const retryDelays = hangIds.map((id) => {
        const [a, b] = runs(id);
        return b.t - a.t - timeout;
      });
      const zombies = worker.of("start").filter((s) => !worker.of("end").some((e) => e.id === s.id && e.attempt === s.attempt)).length;
      assert.equal(zombies, 4, "handlers ignoring the signal stay pending (counted, not awaited)");
      const stopMs = await worker.stop();
      assert.ok(stopMs <= 1_000 + 1_000, `stop() took ${stopMs} ms with zombie handlers around`);
      assert.deepEqual(fleet.fatals(), []);
      figure(13, `slot-leaks=0 zombies=${zombies} timeout->retry p50=${ms(percentile(retryDelays, 50))} max=${ms(Math.max(...retryDelays))} stop=${ms(stopMs)}`);
    } finally {
      await fleet.close();
    }
  });

  it("fault 14: odd thrown values and odd results each fail one attempt with a bounded message, no crash", async () => {
    const throws = ["undefined", "null", "string", "number", "symbol", "object", "getter", "circular", "revoked-proxy", "aggregate", "abort", "huge"];
    const returns = ["return-bigint", "return-circular", "return-function"];
    const fleet = await Fleet.open({
      redisUrl: redis.url,
      prefix: uniquePrefix("f14"),
      tasks: [{ name: "odd", maxRetry: 1, reservationTimeout: RESERVATION, backoff: 10 }],
    });
    try {
      const worker = await fleet.spawn({ numWorkers: 4, label: "w" });
      const kinds = [...throws, ...returns];
      const ids = await fleet.dispatch("odd", kinds.map((odd, i) => ({ i, mode: "odd" as const, odd })));
      await fleet.settled(ids);
      const dead = await fleet.deadLetters();
      const byId = new Map(dead.map((d) => [d.id, d]));
      const outcome = await assertLedger(fleet, ids, { dead, failedHandlerOnce: true });
      const table: string[] = [];
      const failures: string[] = [];
      kinds.forEach((kind, k) => {
        const id = ids[k];
        const runs = worker.records.filter((r) => r.ev === "start" && r.id === id).length;
        const letter = byId.get(id);
        let ok: boolean;
        if (kind.startsWith("return-")) {
          // A result nobody reads: completed, or a failure recorded like a throw.
          ok = outcome.completed.has(id) ? runs === 1 : !!letter && runs === 2;
        } else {
          ok = !!letter && letter.reason === "max-retries" && runs === 2 && letter.attempt === 2 &&
            typeof letter.error.message === "string" && letter.error.message.length <= 65_536 &&
            (letter.error.stack === undefined || letter.error.stack.length <= 65_536);
        }
        table.push(`${kind}=${ok ? "pass" : "FAIL"}`);
        if (!ok) failures.push(`${kind}: runs=${runs} dead=${JSON.stringify(letter ? { reason: letter.reason, attempt: letter.attempt, len: letter.error.message.length } : null)}`);
      });
      assert.deepEqual(fleet.fatals(), [], "no unhandled rejection or uncaught exception");
      assert.equal(worker.exit, null);
      await worker.stop();
      figure(14, table.join(" "));
      assert.deepEqual(failures, []);
    } finally {
      await fleet.close();
    }
  });

  for (const when of ["before", "after"] as const) {
    it(`fault 15: retries exhausted while workers are SIGKILLed in the fail path (${when} the transport call)`, async () => {
      const maxRetry = when === "before" ? 2 : 0;
      const fleet = await Fleet.open({
        redisUrl: redis.url,
        prefix: uniquePrefix("f15"),
        tasks: [{ name: "fail", maxRetry, reservationTimeout: RESERVATION, backoff: 10 }],
      });
      try {
        const ids = await fleet.dispatch("fail", range(60).map((i) => ({ i, mode: "fail" as const })));
        let kills = 0;
        for (let k = 0; k < 3; k++) {
          const victim = await fleet.spawn({ numWorkers: 2, holdFailures: when, label: `victim-${k}` });
          await victim.waitFor("the fail path", (r) => r.ev === "failing" && r.when === when);
          await victim.kill();
          kills++;
        }
        await fleet.spawn({ numWorkers: 4, label: "a" });
        await fleet.spawn({ numWorkers: 4, label: "b" });
        await fleet.settled(ids, 30_000);
        const dead = await fleet.deadLetters();
        // A handler call stranded by a kill is taken over by a surviving runner: give it time, then
        // a little more so that an extra call would show.
        await waitFor("a failed-handler call for every dead task", () => {
          const called = new Set(fleet.records().flatMap((r) => (r.ev === "failed-handler" ? [r.id] : [])));
          return dead.every((d) => called.has(d.id));
        }, 15_000, 50).catch(() => {/* asserted below */});
        await delay(RESERVATION * 2);
        const outcome = await assertLedger(fleet, ids, { dead });
        assert.equal(dead.length, ids.length, "every always-failing task ends dead");
        for (const d of dead) {
          assert.equal(d.reason, "max-retries");
          assert.equal(d.attempt, maxRetry + 1, `dead letter ${d.id} counts ${d.attempt} attempts`);
        }
        const calls = [...outcome.failedHandler.values()].reduce((a, b) => a + b, 0);
        figure(15, `${when}: kills=${kills} failed-handler-calls/exhausted=${(calls / dead.length).toFixed(3)} (${calls}/${dead.length}) starts-after-failure=${outcome.startsAfterFailure}`);
        assertFailedHandlerExactlyOnce(outcome);
        assert.deepEqual(fleet.fatals(), []);
      } finally {
        await fleet.close();
      }
    });
  }

  for (const mode of ["throw", "hang"] as const) {
    it(`fault 16: a failed-task handler that ${mode}s is isolated, logged, and never re-invoked`, async () => {
      const fleet = await Fleet.open({
        redisUrl: redis.url,
        prefix: uniquePrefix("f16"),
        tasks: [
          { name: "fail", maxRetry: 1, reservationTimeout: RESERVATION, backoff: 10 },
          { name: "work", reservationTimeout: RESERVATION },
        ],
      });
      try {
        const worker = await fleet.spawn({ numWorkers: 2, failedHandler: mode, shutdownTimeout: 1_000, label: "w" });
        const failIds = await fleet.dispatch("fail", range(5).map((i) => ({ i, mode: "fail" as const })));
        const workIds = await fleet.dispatch("work", range(20).map((i) => ({ i: 100 + i, ms: 5 })));
        const ids = [...failIds, ...workIds];
        await fleet.settled(ids);
        // Let any retry storm show itself.
        await new Promise((r) => setTimeout(r, RESERVATION * 3));
        const dead = await fleet.deadLetters();
        const outcome = await assertLedger(fleet, ids, { dead, failedHandlerOnce: true });
        assert.equal(dead.length, failIds.length, "the failed tasks stay dead");
        for (const id of workIds) assert.ok(outcome.completed.has(id), "other tasks are unaffected");
        const logged = worker.records.filter((r) => r.ev === "runner" && (r.name === "log:error" || r.name === "log:warn" || r.name === "error")).length;
        if (mode === "throw") assert.ok(logged >= failIds.length, `a throwing failed handler is logged (${logged} log lines)`);
        const stopMs = await worker.stop();
        assert.ok(stopMs <= 2_000, `stop() took ${stopMs} ms`);
        assert.deepEqual(fleet.fatals(), []);
        const extra = [...outcome.failedHandler.values()].reduce((a, b) => a + b, 0) - dead.length;
        figure(16, `${mode}: errors-logged=${logged} extra-invocations=${extra} stop=${ms(stopMs)}`);
      } finally {
        await fleet.close();
      }
    });
  }
});
