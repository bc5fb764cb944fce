/**
 * Three worker processes share one Redis queue while one is SIGKILLed in the
 * middle of its tasks. Every handler start, end and failed-handler call is
 * reported by the workers on stdout, so the ledger lives outside Redis.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { createClient } from "@redis/client";
import { TaskRunner } from "../mod.ts";
import { RedisStreamQueue } from "../adapters/redis/mod.ts";
import { type RedisServer, startRedis } from "./_redis.ts";
import { onLines } from "./_lines.ts";

interface WorkerRecord {
  ev: "ready" | "start" | "end" | "failed" | "stopped";
  w: string;
  pid: number;
  id?: string;
  n?: number;
  attempt?: number;
  aborted?: boolean;
  /** When this process read the record (added here, not by the worker). */
  at?: number;
}

const ext = import.meta.url.endsWith(".js") ? ".js" : ".ts";
const workerScript = fileURLToPath(new URL(`./_workers/multiprocess_worker${ext}`, import.meta.url));
/** The runtime running this test runs the workers too. */
const runtimeArgs: string[] = (globalThis as { Deno?: unknown }).Deno ? ["run", "-A"] : [];

class Worker {
  readonly label: string;
  readonly child: ChildProcess;
  readonly records: WorkerRecord[];
  readonly exited: Promise<void>;

  constructor(label: string, env: Record<string, string>, records: WorkerRecord[]) {
    this.label = label;
    this.records = records;
    this.child = spawn(process.execPath, [...runtimeArgs, workerScript], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, ...env },
    });
    onLines(this.child.stdout!, (line) => {
      if (line.startsWith("{")) records.push({ ...(JSON.parse(line) as WorkerRecord), at: Date.now() });
    });
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.stdin!.write("stop\n");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

async function until(what: string, timeout: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const WORK = 5_000;
const FAILING = 20;
const FAIL_BASE = 100_000; // payload numbers of the failing tasks
const LONG_RESERVATION = 1_000;
const LONG_MS = 10 * LONG_RESERVATION;

describe("three worker processes on one Redis queue, one SIGKILLed mid-task", () => {
  let server: RedisServer;
  const workers: Worker[] = [];

  before(async () => {
    server = await startRedis();
  });

  after(async () => {
    for (const w of workers) if (w.alive) w.child.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.exited));
    await server?.stop();
  });

  it("completes every task at least once, bounds duplicates, fails exhausted tasks once, never reruns a heartbeated long task", { timeout: 180_000 }, async () => {
    const records: WorkerRecord[] = [];
    const prefix = `mp${process.pid}`;
    const env = (label: string) => ({
      TR_MULTIPROCESS: JSON.stringify({ url: server.url, prefix, queue: "shared", label }),
    });
    for (const label of ["a", "b", "c"]) workers.push(new Worker(label, env(label), records));
    const t0 = Date.now();
    const phase = (what: string) => console.log(`multiprocess: ${what} after ${Date.now() - t0} ms`);
    await until("three workers ready", 60_000, () => records.filter((r) => r.ev === "ready").length === 3);

    phase("workers ready");
    // The producer registers the same task names and only dispatches.
    const client = createClient({ url: server.url });
    client.on("error", () => {});
    await client.connect();
    const queue = new RedisStreamQueue(client, { prefix, queue: "shared" });
    // Reservations are fixed at dispatch: the producer sets the same 1 s the workers use.
    const producer = new TaskRunner(queue, { consumerGroup: "multiprocess", reservationTimeout: 1_000 });
    const noop = async () => {};
    const long = producer.registerTask<{ n: number; ms: number }>({ name: "long", reservationTimeout: LONG_RESERVATION, action: noop });
    const fail = producer.registerTask<{ n: number }>({ name: "fail", maxRetry: 1, action: noop });
    const work = producer.registerTask<{ n: number }>({ name: "work", maxRetry: 3, action: noop });
    try {
      const longId = await long.dispatch({ n: -1, ms: LONG_MS });
      const failIds = new Set<string>();
      for (const r of await fail.dispatchBulk(Array.from({ length: FAILING }, (_, i) => ({ payload: { n: FAIL_BASE + i } })))) {
        assert.ok(r.ok);
        failIds.add(r.id);
      }
      for (let from = 0; from < WORK; from += 500) {
        const results = await work.dispatchBulk(
          Array.from({ length: 500 }, (_, i) => ({ payload: { n: from + i } })),
        );
        assert.ok(results.every((r) => r.ok));
      }

      phase("dispatched");
      // Kill a worker other than the one running the long task, while it runs tasks.
      await until("the long task to start and 1000 tasks to run", 60_000, () =>
        records.some((r) => r.ev === "start" && r.id === longId) &&
        records.filter((r) => r.ev === "start").length >= 1_000);
      const longWorker = records.find((r) => r.ev === "start" && r.id === longId)!.w;
      const openTasks = (w: string) => {
        const started = new Map<string, WorkerRecord>();
        for (const r of records) {
          if (r.w !== w || !r.id) continue;
          if (r.ev === "start") started.set(r.id, r);
          if (r.ev === "end") started.delete(r.id);
        }
        return [...started.values()];
      };
      const open = (w: string) => openTasks(w).length;
      const candidates = workers.filter((w) => w.label !== longWorker);
      let victim: Worker | undefined;
      await until("a worker running a 100 ms task", 20_000, () => {
        // A 100 ms task that started less than 40 ms ago, so it is surely still running at the kill.
        const now = Date.now();
        victim = candidates.find((w) =>
          openTasks(w.label).some((r) => r.n! % 100 === 0 && r.n! < WORK && now - (r.at ?? 0) < 40)
        );
        return victim !== undefined;
      });
      victim!.child.kill("SIGKILL");
      await victim!.exited;
      const openAtKill = open(victim!.label);
      assert.ok(openAtKill > 0, "the victim was killed in the middle of a task");
      const killedAt = records.length;
      phase("victim killed");

      const isWork = (r: WorkerRecord) => r.n! >= 0 && r.n! < WORK;
      const workDone = () => new Set(records.filter((r) => r.ev === "end" && isWork(r)).map((r) => r.n)).size;
      const progress = setInterval(() => {
        if (process.env.TR_DEBUG) {
          console.log(`work ${workDone()} failed ${records.filter((r) => r.ev === "failed").length} long ${records.some((r) => r.ev === "end" && r.id === longId)}`);
        }
      }, 2_000);
      await until("every task to complete or fail", 90_000, () =>
        workDone() === WORK &&
        records.filter((r) => r.ev === "failed").length >= FAILING &&
        records.some((r) => r.ev === "end" && r.id === longId));
      clearInterval(progress);
      phase("all done");
      // Let late duplicates (or a second failed-handler call) surface before judging.
      await new Promise((r) => setTimeout(r, 1_500));
      for (const w of workers) await w.stop();

      const workStarts = new Map<number, WorkerRecord[]>();
      for (const r of records) {
        if (r.ev === "start" && isWork(r)) {
          workStarts.set(r.n!, [...(workStarts.get(r.n!) ?? []), r]);
        }
      }
      assert.equal(workStarts.size, WORK, "every work task ran");
      const duplicated = [...workStarts.values()].filter((runs) => runs.length > 1);
      const duplicates = duplicated.reduce((sum, runs) => sum + runs.length - 1, 0);
      console.log(
        `multiprocess: ${records.filter((r) => r.ev === "start").length} executions, ${duplicates} duplicates ` +
          `(victim ${victim!.label} had ${openAtKill} tasks open at SIGKILL, ${killedAt} records before it)`,
      );
      for (const runs of duplicated) {
        assert.ok(runs.some((r) => r.w === victim!.label), `task ${runs[0].n} ran twice without a crash involved`);
      }
      assert.ok(duplicates <= openAtKill + 8, `${duplicates} duplicates for ${openAtKill} tasks in flight (+ one ack batch)`);

      const failed = records.filter((r) => r.ev === "failed");
      const failedPerTask = new Map<string, number>();
      for (const r of failed) failedPerTask.set(r.id!, (failedPerTask.get(r.id!) ?? 0) + 1);
      assert.deepEqual([...failedPerTask.keys()].sort(), [...failIds].sort(), "each exhausted task reached the failed handler");
      for (const [id, calls] of failedPerTask) assert.equal(calls, 1, `failed handler called ${calls} times for ${id}`);

      const longRuns = records.filter((r) => r.ev === "start" && r.id === longId);
      assert.equal(
        longRuns.length,
        1,
        `the long task under heartbeats ran once; runs: ${JSON.stringify(records.filter((r) => r.id === longId))}`,
      );
      const longEnd = records.find((r) => r.ev === "end" && r.id === longId)!;
      assert.equal(longEnd.aborted, false, "the long task kept its reservation");

      const counts = await queue.counts("multiprocess");
      assert.deepEqual(
        { waiting: counts.waiting, inFlight: counts.inFlight, delayed: counts.delayed, dead: counts.dead },
        { waiting: 0, inFlight: 0, delayed: 0, dead: FAILING },
      );
    } finally {
      await queue.close();
      await client.close();
    }
  });
});
