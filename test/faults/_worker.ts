/**
 * A worker child process for the fault tests: a TaskRunner on
 * RedisStreamQueue whose every handler start, end and failed-handler call is
 * written as one JSON line on stdout (synchronously, so a SIGKILL loses at
 * most the line being written). Commands arrive as JSON lines on stdin. See
 * `_protocol.ts`.
 *
 * @module
 */
import { writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { createClient } from "@redis/client";
import * as v from "valibot";
import { TaskRunner } from "../../mod.ts";
import { RedisStreamQueue } from "../../adapters/redis/mod.ts";
import type { MessageQueue } from "../../src/queue.ts";
import type { WorkerCommand, WorkerConfig, WorkerRecord, WorkPayload } from "./_protocol.ts";

type Untimed<R> = R extends unknown ? Omit<R, "pid" | "t"> : never;

const config = JSON.parse(process.env.FAULT_WORKER ?? "{}") as WorkerConfig;

function emit(record: Untimed<WorkerRecord>): void {
  const line = JSON.stringify({ ...record, pid: process.pid, t: Date.now(), label: config.label }) + "\n";
  const bytes = new TextEncoder().encode(line);
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(1, bytes, off);
    } catch (error) {
      if ((error as { code?: string }).code !== "EAGAIN") throw error;
    }
  }
}

function message(value: unknown): string {
  try {
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    return String(value);
  } catch {
    return "<unprintable>";
  }
}

process.on("uncaughtException", (error) => emit({ ev: "fatal", message: `uncaughtException ${message(error)}` }));
process.on("unhandledRejection", (error) => emit({ ev: "fatal", message: `unhandledRejection ${message(error)}` }));

/** Values a handler throws for row 14, built fresh for every run. */
function odd(kind: string): unknown {
  switch (kind) {
    case "undefined":
      return undefined;
    case "null":
      return null;
    case "string":
      return "s";
    case "number":
      return 42;
    case "symbol":
      return Symbol("odd");
    case "object":
      return {};
    case "getter": {
      const o = {};
      Object.defineProperty(o, "message", { get() { throw new Error("getter threw"); }, enumerable: true });
      return o;
    }
    case "circular": {
      const o: Record<string, unknown> = { name: "circular" };
      o.self = o;
      return o;
    }
    case "revoked-proxy": {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    }
    case "aggregate":
      return new AggregateError([new Error("a"), new Error("b")], "many");
    case "abort":
      return new DOMException("aborted by the task", "AbortError");
    case "huge":
      return new Error("x".repeat(1_000_000));
    default:
      return new Error(`odd kind ${kind}`);
  }
}

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* block the event loop on purpose */ }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

interface Ctx {
  id: string;
  name: string;
  attempt: number;
  signal: AbortSignal;
}

async function action(payload: WorkPayload, ctx: Ctx): Promise<unknown> {
  const base = { id: ctx.id, name: ctx.name, attempt: ctx.attempt, i: payload.i };
  emit({ ev: "start", ...base });
  try {
    let result: unknown;
    const here = payload.onlyLabel === undefined || payload.onlyLabel === config.label;
    if (!here) payload = { i: payload.i, mode: "ok", ms: payload.otherMs };
    if (payload.before) await sleep(payload.before, ctx.signal);
    switch (payload.mode ?? "ok") {
      case "ok":
        if (payload.ms) await sleep(payload.ms, ctx.signal);
        break;
      case "fail":
        throw new Error(`task ${payload.i} failed on purpose`);
      case "hang":
        await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
        break;
      case "hang-ignore":
        await new Promise(() => {});
        break;
      case "busy":
        busy(payload.ms ?? 0);
        break;
      case "exit":
        process.exit(1);
        break;
      case "odd":
        if (payload.odd?.startsWith("return-")) {
          const kind = payload.odd.slice("return-".length);
          if (kind === "bigint") result = 1n;
          else if (kind === "function") result = () => 1;
          else result = odd("circular");
          break;
        }
        throw odd(payload.odd ?? "undefined");
    }
    emit({ ev: "end", ...base, ok: true, aborted: ctx.signal.aborted });
    return result;
  } catch (error) {
    emit({ ev: "end", ...base, ok: false, error: message(error).slice(0, 200), aborted: ctx.signal.aborted });
    throw error;
  }
}

/** Wrap the queue to see acks and heartbeats, and to hold acks on request. */
function observed(queue: MessageQueue): MessageQueue {
  const taskOf = new Map<string, string>();
  const remember = (ds: { deliveryId: string; id: string }[], reclaimed: boolean): void => {
    for (const d of ds) taskOf.set(d.deliveryId, d.id);
    if (ds.length > 0) emit({ ev: "received", ids: ds.map((d) => d.id), reclaimed });
  };
  return new Proxy(queue, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      if (prop === "receive") {
        return async (...args: unknown[]) => {
          const options = args[1] as { signal?: AbortSignal } | undefined;
          if (config.slowAbort && options?.signal) {
            const late = new AbortController();
            const original = options.signal;
            const forward = (): void => void setTimeout(() => late.abort(original.reason), config.slowAbort);
            if (original.aborted) forward();
            else original.addEventListener("abort", forward, { once: true });
            args = [args[0], { ...options, signal: late.signal }];
          }
          const out = await (value as (...a: unknown[]) => Promise<{ deliveryId: string; id: string }[]>).apply(target, args);
          remember(out, false);
          return out;
        };
      }
      if (prop === "reclaim") {
        return async (...args: unknown[]) => {
          const out = await (value as (...a: unknown[]) => Promise<{ deliveries: { deliveryId: string; id: string }[] }>).apply(target, args);
          remember(out.deliveries, true);
          return out;
        };
      }
      if (prop === "ack") {
        return async (consumer: unknown, refs: { deliveryId: string }[]) => {
          const ids = refs.map((r) => taskOf.get(r.deliveryId) ?? r.deliveryId);
          if (config.holdAcks) {
            emit({ ev: "acking", ids });
            await new Promise(() => {});
          }
          const out = await (value as (...a: unknown[]) => Promise<boolean[]>).call(target, consumer, refs);
          emit({ ev: "ack", results: ids.map((id, k) => ({ id, ok: out[k] === true })) });
          return out;
        };
      }
      if ((prop === "retry" || prop === "deadLetter") && config.holdFailures) {
        return async (consumer: unknown, delivery: { id: string }, ...rest: unknown[]) => {
          const op = prop;
          if (config.holdFailures === "before") {
            emit({ ev: "failing", id: delivery.id, op, when: "before" });
            await new Promise(() => {});
          }
          const out = await (value as (...a: unknown[]) => Promise<unknown>).call(target, consumer, delivery, ...rest);
          emit({ ev: "failing", id: delivery.id, op, when: "after", ok: Boolean(out) });
          await new Promise(() => {});
          return out;
        };
      }
      if (prop === "heartbeat") {
        return async (consumer: unknown, refs: unknown[]) => {
          const lost = await (value as (...a: unknown[]) => Promise<string[]>).call(target, consumer, refs);
          emit({ ev: "heartbeat", held: refs.length, lost: lost.length, lostIds: lost.map((d) => taskOf.get(d) ?? d) });
          return lost;
        };
      }
      return value.bind(target);
    },
  });
}

const log = (level: string) => (msg: string, fields?: Record<string, unknown>): void => {
  if (level === "warn" || level === "error") {
    emit({ ev: "runner", name: `log:${level}`, detail: `${msg} ${fields ? JSON.stringify(fields).slice(0, 300) : ""}` });
  }
};

/** The system clock, off by `offset` ms (timers are real). */
function skewedClock(offset: number): { now(): number; setTimeout(fn: () => void, ms: number): unknown; clearTimeout(h: unknown): void } {
  return {
    now: () => Date.now() + offset,
    setTimeout: (fn, ms) => {
      const h = setTimeout(fn, ms);
      (h as { unref?: () => void }).unref?.();
      return h;
    },
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  };
}

const logger = { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
const client = createClient({ url: config.redisUrl });
client.on("error", () => {/* reconnects are expected under faults */});
await client.connect();
const queue = observed(
  new RedisStreamQueue(client, { prefix: config.prefix, queue: config.queue, logger }) as unknown as MessageQueue,
);

const runner = new TaskRunner(queue, {
  consumerGroup: config.group,
  numWorkers: config.numWorkers,
  batchSize: config.batchSize ?? config.numWorkers,
  shutdownTimeout: config.shutdownTimeout ?? 2_000,
  ...(config.maxDeliveries ? { maxDeliveries: config.maxDeliveries } : {}),
  ...(config.maxPayloadBytes ? { maxPayloadBytes: config.maxPayloadBytes } : {}),
  ...(config.clockOffset ? { clock: skewedClock(config.clockOffset) } : {}),
  logger,
  failedTaskHandler: async (task: { id: string; name: string; attempt?: number; reason?: string; error?: unknown }, error?: unknown) => {
    emit({
      ev: "failed-handler",
      id: task.id,
      name: task.name,
      attempt: task.attempt,
      reason: task.reason,
      error: message(error ?? task.error).slice(0, 200),
    });
    if (config.failedHandler === "throw") throw new Error("failed handler throws on purpose");
    if (config.failedHandler === "hang") {
      await new Promise(() => {});
    }
  },
} as never);

for (const spec of config.tasks) {
  runner.registerTask({
    name: spec.name,
    maxRetry: spec.maxRetry ?? 0,
    reservationTimeout: spec.reservationTimeout,
    timeout: spec.timeout,
    unique: spec.unique,
    uniqueKey: spec.unique ? (p: WorkPayload) => p.key ?? String(p.i) : undefined,
    uniqueFor: spec.uniqueFor,
    backoff: { type: "fixed", delay: spec.backoff ?? 10 },
    schema: spec.schema ? v.looseObject({ i: v.number() }) : undefined,
    action,
  } as never);
}

for (const name of ["dead", "reclaimed", "lost", "error", "retrying"]) {
  runner.on(name as never, ((e: { id?: string; task?: { id?: string }; error?: unknown; reason?: string } | undefined) => {
    emit({
      ev: "runner",
      name,
      id: e?.id ?? e?.task?.id,
      detail: (e?.reason ?? message(e?.error ?? e ?? "")).slice(0, 300),
    });
  }) as never);
}

let stopping: Promise<void> | null = null;
function stop(): Promise<void> {
  stopping ??= (async () => {
    const t0 = Date.now();
    emit({ ev: "stopping" });
    await runner.stop();
    emit({ ev: "stopped", ms: Date.now() - t0 });
    try {
      await queue.close();
      await client.close();
    } catch { /* already down */ }
    process.exit(0);
  })();
  return stopping;
}
process.on("SIGTERM", () => void stop());

// Event-loop delay, where the runtime provides the histogram (Node, Bun).
let loopDelay: { percentile(p: number): number } | null = null;
try {
  const { monitorEventLoopDelay } = await import("node:perf_hooks");
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  loopDelay = h;
} catch { /* not available on this runtime */ }

async function command(cmd: WorkerCommand): Promise<void> {
  if (cmd.cmd === "stop") return stop();
  if (cmd.cmd === "mem") {
    const m = process.memoryUsage();
    emit({ ev: "mem", rss: m.rss, heapUsed: m.heapUsed, loopDelayP99: loopDelay ? loopDelay.percentile(99) / 1e6 : NaN });
    return;
  }
  if (cmd.cmd === "dispatch") {
    const ids: string[] = [];
    const keys: string[] = [];
    const errors: string[] = [];
    await Promise.all(cmd.payloads.map(async (p) => {
      try {
        const id = await runner.dispatch(cmd.name as never, p as never, cmd.delay ? { delay: cmd.delay } : undefined);
        ids.push(id);
        keys.push(p.key ?? String(p.i));
      } catch (error) {
        errors.push(error instanceof Error ? error.name : message(error));
      }
    }));
    emit({ ev: "dispatched", ids, keys, errors, tag: cmd.tag });
  }
}

createInterface({ input: process.stdin })
  .on("line", (line) => {
    if (!line.trim()) return;
    command(JSON.parse(line) as WorkerCommand).catch((error) => emit({ ev: "fatal", message: `command: ${message(error)}` }));
  })
  // The test process is gone: never outlive it.
  .on("close", () => process.exit(0));

if (config.consume !== false) await runner.start();
emit({ ev: "ready" });
