/**
 * Benchmark child process: one producer or worker of one contestant.
 *
 * Usage: `<runtime> bench/child.ts '<json spec>'`. The child prints JSON lines
 * prefixed with `@@bench ` on stdout (`ready`, `result`, `completed`) and reads
 * JSON commands from stdin (`go`, `next`, `stop`). Written with `node:`
 * built-ins only, so it runs unchanged on Node, Deno and Bun.
 *
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";
import type { Contestant, Payload, Producer, Worker } from "./contestants/types.ts";
import { nowMs, summary } from "./lib/stats.ts";

/** What the parent asks a child to do. */
export interface ChildSpec {
  role:
    | "bulk"
    | "inflight"
    | "worker"
    | "latency-producer"
    | "latency-worker"
    | "delayed-producer"
    | "delayed-worker"
    | "memory";
  contestant: string;
  url: string;
  queue: string;
  /** Number of tasks. */
  n: number;
  /** Batch size (bulk) or dispatches in flight (inflight). */
  batch?: number;
  /** Worker concurrency. */
  concurrency?: number;
  /** Delayed tasks: spread of due times, ms. */
  spreadMs?: number;
  /** Bulk: every task is due this many ms after its batch is added. */
  delayMs?: number;
  /** Every run throws and is not retried (the contestant keeps the failed task). */
  fail?: boolean;
  /**
   * Worker sharing the queue with other worker processes: reports `count`
   * every 100 ms and its result on the `end` command instead of after `n`.
   */
  shared?: boolean;
  /** Node only: write a CPU profile of the measured window into this directory. */
  cpuProfDir?: string;
}

const spec = JSON.parse(process.argv[process.argv.length - 1]) as ChildSpec;

function emit(msg: Record<string, unknown>): void {
  process.stdout.write("@@bench " + JSON.stringify(msg) + "\n");
}

// Peak RSS as the runtime sees it, sampled every 50 ms.
let rssMax = process.memoryUsage.rss();
const rssTimer = setInterval(() => {
  const r = process.memoryUsage.rss();
  if (r > rssMax) rssMax = r;
}, 50);
(rssTimer as { unref?: () => void }).unref?.();

const commands: ((cmd: string) => void)[] = [];
const waiting: Map<string, () => void> = new Map();
let nextWaiter: (() => void) | null = null;
let nextCredit = 0;
const rl = createInterface({ input: process.stdin });
rl.on("line", (line: string) => {
  const cmd = (JSON.parse(line) as { cmd: string }).cmd;
  if (cmd === "next") {
    if (nextWaiter) {
      const w = nextWaiter;
      nextWaiter = null;
      w();
    } else nextCredit++;
    return;
  }
  const w = waiting.get(cmd);
  if (w) {
    waiting.delete(cmd);
    w();
  } else for (const c of commands) c(cmd);
});

// CPU time of this process over the measured window, and an optional V8 CPU
// profile of that window only (startup and module loading excluded).
let cpuAtGo: { user: number; system: number } | null = null;
// deno-lint-ignore no-explicit-any
let profiler: any = null;

async function beginWindow(): Promise<void> {
  if (spec.cpuProfDir) {
    const inspector = await import("node:inspector/promises");
    profiler = new inspector.Session();
    profiler.connect();
    await profiler.post("Profiler.enable");
    await profiler.post("Profiler.setSamplingInterval", { interval: 100 });
    await profiler.post("Profiler.start");
  }
  cpuAtGo = process.cpuUsage();
}

async function endWindow(): Promise<{ cpuMs: number }> {
  const d = process.cpuUsage(cpuAtGo ?? undefined);
  if (profiler) {
    const { profile } = await profiler.post("Profiler.stop");
    const { writeFileSync, mkdirSync } = await import("node:fs");
    mkdirSync(spec.cpuProfDir!, { recursive: true });
    const file = `${spec.cpuProfDir}/${spec.contestant.replace(/[^A-Za-z0-9]+/g, "_")}-${spec.role}-c${spec.concurrency ?? 0}-${process.pid}.cpuprofile`;
    writeFileSync(file, JSON.stringify(profile));
    profiler.disconnect();
    profiler = null;
  }
  return { cpuMs: (d.user + d.system) / 1000 };
}

function command(name: string): Promise<void> {
  return new Promise((resolve) => waiting.set(name, resolve));
}

function nextCommand(): Promise<void> {
  if (nextCredit > 0) {
    nextCredit--;
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    nextWaiter = resolve;
  });
}

async function finish(close: () => Promise<void>): Promise<never> {
  await command("stop");
  const timer = setTimeout(() => process.exit(0), 5000);
  try {
    await close();
  } catch (err) {
    console.error("close failed:", err);
  }
  clearTimeout(timer);
  rl.close();
  process.exit(0);
}

async function loadContestant(name: string): Promise<Contestant> {
  // A contestant is a module of ./contestants/, or (to compare a modified
  // copy of the library) an absolute path to a module exporting one.
  const path = name.startsWith("/") ? name : `./contestants/${name}.ts`;
  const mod = await import(path) as Record<string, Contestant>;
  const c = name.startsWith("/") ? Object.values(mod)[0] : mod[name];
  if (!c) throw new Error(`unknown contestant ${name}`);
  return c;
}

async function runProducer(c: Contestant): Promise<never> {
  const producer: Producer = await c.producer({ url: spec.url, queue: spec.queue, fail: spec.fail });
  emit({ ev: "ready", pid: process.pid });
  await command("go");
  await beginWindow();
  const n = spec.n;
  const t0 = nowMs();
  if (spec.role === "bulk") {
    const size = spec.batch ?? 1000;
    for (let i = 0; i < n; i += size) {
      const batch: Payload[] = [];
      for (let j = i; j < Math.min(n, i + size); j++) batch.push({ i: j });
      await producer.addBulk(batch, spec.delayMs);
    }
  } else if (spec.role === "inflight") {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < n) await producer.add({ i: next++ });
    };
    await Promise.all(Array.from({ length: spec.batch ?? 100 }, lane));
  } else if (spec.role === "latency-producer") {
    for (let i = 0; i < n; i++) {
      await producer.add({ i, t: nowMs() });
      await nextCommand();
    }
  } else if (spec.role === "delayed-producer") {
    const spread = spec.spreadMs ?? 2000;
    const base = nowMs() + 300;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        const delay = Math.max(1, Math.round(base + (i * spread) / n - nowMs()));
        await producer.add({ i, due: nowMs() + delay }, delay);
      }
    };
    await Promise.all(Array.from({ length: 20 }, lane));
  }
  const t1 = nowMs();
  const { cpuMs } = await endWindow();
  emit({ ev: "result", t0, t1, ms: t1 - t0, rate: (n / (t1 - t0)) * 1000, rssMax, cpuMs });
  return finish(() => producer.close());
}

async function runWorker(c: Contestant): Promise<never> {
  const n = spec.n;
  let done = 0;
  let t0 = 0;
  let tLast = 0;
  const startLat: number[] = [];
  const lateBy: [number, number][] = [];
  const doneLat: number[] = [];
  const dispatched: Map<string, number> = new Map();
  let resolveAll: () => void = () => {};
  const all = new Promise<void>((r) => (resolveAll = r));
  const role = spec.role;
  const worker: Worker = await c.worker({
    url: spec.url,
    queue: spec.queue,
    concurrency: spec.concurrency ?? 1,
    fail: spec.fail,
    handler: role === "worker" ? () => {} : (p: Payload, key: string) => {
      const now = nowMs();
      if (role === "latency-worker") {
        startLat.push(now - (p.t as number));
        dispatched.set(key, p.t as number);
      } else {
        startLat.push(now - (p.due as number));
        lateBy.push([p.i, now - (p.due as number)]);
      }
    },
    onCompleted: (key: string) => {
      if (role === "latency-worker") {
        const t = dispatched.get(key);
        if (t !== undefined) {
          doneLat.push(nowMs() - t);
          dispatched.delete(key);
          emit({ ev: "completed" });
        }
      }
      if (spec.shared) tLast = nowMs();
      if (++done === n) resolveAll();
    },
  });
  if (spec.shared) command("end").then(resolveAll);
  emit({ ev: "ready", pid: process.pid });
  await command("go");
  await beginWindow();
  t0 = nowMs();
  await worker.start();
  emit({ ev: "started", t0 });
  const counter = spec.shared ? setInterval(() => emit({ ev: "count", done }), 100) : null;
  await all;
  if (counter) clearInterval(counter);
  const t1 = nowMs();
  const { cpuMs } = await endWindow();
  const result: Record<string, unknown> = { ev: "result", t0, t1, tLast, done, ms: t1 - t0, rate: (n / (t1 - t0)) * 1000, cpuMs };
  if (role === "latency-worker") {
    result.start = summary(startLat);
    result.done = summary(doneLat);
  } else if (role === "delayed-worker") {
    result.lateness = summary(startLat);
    // The ten latest tasks (sequence number in due order, lateness in ms), to tell a slow start from a steady delay.
    result.latest = lateBy.sort((a, b) => b[1] - a[1]).slice(0, 10).map(([i, ms]) => [i, Math.round(ms * 10) / 10]);
  }
  result.rssMax = rssMax;
  emit(result);
  return finish(() => worker.close());
}

async function runMemory(): Promise<never> {
  const mod = await import("./contestants/memory.ts");
  emit({ ev: "ready", pid: process.pid });
  await command("go");
  const r = await mod.memoryRun(spec.n, spec.concurrency ?? 1);
  emit({ ev: "result", ...r, rate: (spec.n / r.ms) * 1000, rssMax });
  return finish(() => Promise.resolve());
}

try {
  if (spec.role === "memory") await runMemory();
  const c = await loadContestant(spec.contestant);
  if (spec.role.endsWith("worker")) await runWorker(c);
  else await runProducer(c);
} catch (err) {
  console.error(err);
  emit({ ev: "error", message: String((err as Error)?.stack ?? err) });
  process.exit(1);
}
