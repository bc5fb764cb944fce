/**
 * Shared set-up of the monitor tests: a real TaskRunner on a real
 * MemoryQueue with quick stats flushes, and valibot schemas of the
 * monitor's documented response shapes.
 */

import * as v from "valibot";
import { type MessageQueue, TaskRunner } from "../mod.ts";
import { MemoryQueue } from "../adapters/memory/mod.ts";
import type {
  MonitorDeadLetter,
  MonitorDeadLetterPage,
  MonitorErrorBody,
  MonitorInstance,
  MonitorInstancesResponse,
  MonitorOverview,
  MonitorStatsEvent,
  MonitorTaskEvent,
  MonitorTaskEventBatch,
  MonitorTasksResponse,
  MonitorTaskStats,
  MonitorTotals,
} from "../adapters/hono/mod.ts";

export interface Fixture {
  queue: MessageQueue;
  runner: TaskRunner;
  /** Dispatch `n` tasks that succeed. */
  dispatchOk(n: number): Promise<string[]>;
  /** Dispatch a task that fails once and is dead-lettered, with this message. */
  dispatchBoom(message: string, payload?: unknown): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Start a runner with stats flushed every 20 ms, on `queue` or on a fresh
 * memory queue with this name.
 */
export async function startFixture(name = "monitor-test", queue: MessageQueue = new MemoryQueue({ name })): Promise<Fixture> {
  const runner = new TaskRunner(queue, {
    consumerGroup: "monitor",
    numWorkers: 4,
    statsInterval: 20,
    instanceInterval: 1000,
    blockDuration: 50,
    shutdownTimeout: 1000,
  });
  const ok = runner.registerTask({
    name: "ok",
    maxRetry: 0,
    action: async (_payload: number) => {
      await new Promise((r) => setTimeout(r, 2));
    },
  });
  const boom = runner.registerTask({
    name: "boom",
    maxRetry: 0,
    action: (payload: { message: string }) => {
      throw new TypeError(payload.message);
    },
  });
  await runner.start();
  return {
    queue,
    runner,
    async dispatchOk(n) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push(await ok.dispatch(i));
      return ids;
    },
    async dispatchBoom(message, payload) {
      return await boom.dispatch({ message, ...(payload === undefined ? {} : { extra: payload }) });
    },
    async stop() {
      await runner.stop();
      await queue.close();
    },
  };
}

/** Poll `probe` until it returns a truthy value or `timeout` ms pass. */
export async function waitFor<T>(probe: () => Promise<T> | T, what: string, timeout = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

const count: v.GenericSchema<unknown, number> = v.pipe(v.number(), v.integer(), v.minValue(0));
const epoch: v.GenericSchema<unknown, number> = v.pipe(v.number(), v.integer(), v.minValue(1_600_000_000_000));
const ms: v.GenericSchema<unknown, number> = v.pipe(v.number(), v.minValue(0));

export const ErrorSchema: v.GenericSchema<unknown, MonitorErrorBody> = v.strictObject({
  error: v.strictObject({ code: v.pipe(v.string(), v.regex(/^[a-z_]+$/)), message: v.string() }),
});

export const TotalsSchema: v.GenericSchema<unknown, MonitorTotals> = v.strictObject({ completed: count, failed: count, retried: count, dead: count });

export const OverviewSchema: v.GenericSchema<unknown, MonitorOverview> = v.strictObject({
  queue: v.string(),
  paused: v.boolean(),
  length: count,
  waiting: count,
  inFlight: count,
  delayed: count,
  dead: count,
  consumers: count,
  instances: count,
  workers: count,
  busy: count,
  throughput: ms,
  failureRate: ms,
  estimatedDrainTime: v.nullable(ms),
  longQueue: v.boolean(),
  longQueueThreshold: v.nullable(ms),
  totals: TotalsSchema,
  at: epoch,
});

const TimingSchema: v.GenericSchema<unknown, MonitorTaskStats["runTime"]> = v.strictObject({
  p50: v.nullable(ms),
  p95: v.nullable(ms),
  p99: v.nullable(ms),
  avg: v.nullable(ms),
  count,
});

export const TaskStatsSchema: v.GenericSchema<unknown, MonitorTaskStats> = v.strictObject({
  name: v.string(),
  completed: count,
  failed: count,
  retried: count,
  dead: count,
  runTime: TimingSchema,
  waitTime: TimingSchema,
});

export const TasksSchema: v.GenericSchema<unknown, MonitorTasksResponse> = v.strictObject({ tasks: v.array(TaskStatsSchema) });

export const InstanceSchema: v.GenericSchema<unknown, MonitorInstance> = v.strictObject({
  id: v.string(),
  host: v.string(),
  pid: v.pipe(v.number(), v.integer()),
  workers: count,
  busy: count,
  startedAt: epoch,
  lastSeen: v.nullable(epoch),
});

export const InstancesSchema: v.GenericSchema<unknown, MonitorInstancesResponse> = v.strictObject({ instances: v.array(InstanceSchema) });

export const DeadLetterSchema: v.GenericSchema<unknown, MonitorDeadLetter> = v.strictObject({
  deadLetterId: v.string(),
  id: v.string(),
  name: v.string(),
  attempt: count,
  reason: v.picklist(["max-retries", "unrecoverable", "unknown-task", "invalid-payload", "malformed", "poison"]),
  error: v.strictObject({ name: v.string(), message: v.string(), stack: v.optional(v.string()) }),
  dispatchedAt: epoch,
  failedAt: epoch,
  body: v.nullable(v.string()),
  bodyBytes: count,
});

export const DeadLetterPageSchema: v.GenericSchema<unknown, MonitorDeadLetterPage> = v.strictObject({
  items: v.array(DeadLetterSchema),
  nextCursor: v.nullable(v.string()),
  limit: v.pipe(count, v.minValue(1), v.maxValue(100)),
});

export const TaskEventSchema: v.GenericSchema<unknown, MonitorTaskEvent> = v.strictObject({
  type: v.picklist(["completed", "failed", "dead", "reclaimed"]),
  id: v.string(),
  name: v.string(),
  attempt: v.nullable(count),
  duration: v.nullable(ms),
  error: v.nullable(v.strictObject({ name: v.string(), message: v.string() })),
  at: epoch,
});

export const TaskEventBatchSchema: v.GenericSchema<unknown, MonitorTaskEventBatch> = v.strictObject({ events: v.array(TaskEventSchema), dropped: count });

export const StatsEventSchema: v.GenericSchema<unknown, MonitorStatsEvent> = v.strictObject({
  overview: OverviewSchema,
  tasks: v.array(TaskStatsSchema),
  instances: v.array(InstanceSchema),
});

/** Parse `value` with `schema`, failing with every issue's path and message. */
export function assertShape<T extends v.GenericSchema>(schema: T, value: unknown): v.InferOutput<T> {
  const result = v.safeParse(schema, value);
  if (!result.success) {
    const issues = result.issues.map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.message}`).join("; ");
    throw new Error(`Response does not match its documented shape: ${issues}\n${JSON.stringify(value)}`);
  }
  return result.output;
}

/** Read Server-Sent Events from a response body, one parsed frame at a time. */
export class SseReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder();
  #buffer = "";

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  /** The next frame, or null when the stream ended. */
  async next(timeout = 5000): Promise<{ event: string; data: string } | null> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const frame = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of frame.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        return { event, data: data.join("\n") };
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("Timed out waiting for an SSE frame");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        this.#reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("Timed out waiting for an SSE frame")), left);
        }),
      ]).finally(() => clearTimeout(timer));
      if (result.done) return null;
      this.#buffer += this.#decoder.decode(result.value, { stream: true });
    }
  }

  /** The next frame of type `event` (others are skipped). */
  async nextOf(event: string, timeout = 5000): Promise<{ event: string; data: string }> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const frame = await this.next(Math.max(1, deadline - Date.now()));
      if (frame === null) throw new Error(`Stream ended before a '${event}' event`);
      if (frame.event === event) return frame;
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** A server on a loopback port. */
export interface Served {
  url: string;
  runtime: string;
  close(): Promise<void>;
}

export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Serve `fetch` on 127.0.0.1 with a free port, using the runtime's server. */
export async function serveOnLoopback(fetch: FetchHandler): Promise<Served> {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  if (g.Deno?.serve) {
    const server = g.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, fetch);
    return {
      url: `http://127.0.0.1:${server.addr.port}`,
      runtime: "Deno.serve",
      close: async () => {
        await server.shutdown();
      },
    };
  }
  if (g.Bun?.serve) {
    const server = g.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch });
    return {
      url: `http://127.0.0.1:${server.port}`,
      runtime: "Bun.serve",
      close: async () => {
        await server.stop(true);
      },
    };
  }
  const { serve } = await import("@hono/node-server");
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve) => {
    const s = serve({ fetch, hostname: "127.0.0.1", port: 0 }, (info) => resolve({ server: s, port: info.port }));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    runtime: "@hono/node-server",
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
