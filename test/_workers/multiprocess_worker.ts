/**
 * A worker process for `test/multiprocess.test.ts`: a TaskRunner on
 * RedisStreamQueue. Every handler start and end and every failed-handler
 * call is written as one JSON line on stdout, synchronously, so the record
 * of what ran lives outside Redis and a SIGKILL loses at most one line.
 * A line "stop" on stdin stops the runner gracefully and exits.
 *
 * Config comes as JSON in the `TR_MULTIPROCESS` environment variable:
 * `{ url, prefix, queue, label }`.
 *
 * @module
 */
import { writeSync } from "node:fs";
import process from "node:process";
import { createInterface } from "node:readline";
import { createClient } from "@redis/client";
import { TaskRunner } from "../../mod.ts";
import { RedisStreamQueue } from "../../adapters/redis/mod.ts";

interface Config {
  url: string;
  prefix: string;
  queue: string;
  label: string;
}

const config = JSON.parse(process.env.TR_MULTIPROCESS ?? "{}") as Config;
const encoder = new TextEncoder();

function emit(record: Record<string, unknown>): void {
  const bytes = encoder.encode(JSON.stringify({ ...record, w: config.label, pid: process.pid }) + "\n");
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(1, bytes, offset);
    } catch (error) {
      if ((error as { code?: string }).code !== "EAGAIN") throw error;
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const client = createClient({ url: config.url });
client.on("error", () => {});
await client.connect();
const queue = new RedisStreamQueue(client, { prefix: config.prefix, queue: config.queue });
const runner = new TaskRunner(queue, {
  consumerGroup: "multiprocess",
  numWorkers: 8,
  batchSize: 8,
  reservationTimeout: 1_000,
  shutdownTimeout: 2_000,
  failedTaskHandler: (task) => emit({ ev: "failed", id: task.id, n: (task.payload as { n: number }).n }),
});
runner.registerTask<{ n: number }>({
  name: "work",
  maxRetry: 3,
  action: async (payload, ctx) => {
    emit({ ev: "start", id: ctx.id, n: payload.n, attempt: ctx.attempt });
    // Every 100th task takes 100 ms, so a kill can land in the middle of one.
    await sleep(payload.n % 100 === 0 ? 100 : payload.n % 4);
    emit({ ev: "end", id: ctx.id, n: payload.n });
  },
});
runner.registerTask<{ n: number }>({
  name: "fail",
  maxRetry: 1,
  backoff: { type: "fixed", delay: 10 },
  action: (payload, ctx) => {
    emit({ ev: "start", id: ctx.id, n: payload.n, attempt: ctx.attempt });
    emit({ ev: "end", id: ctx.id, n: payload.n, failed: true });
    throw new Error(`task ${payload.n} always fails`);
  },
});
runner.registerTask<{ n: number; ms: number }>({
  name: "long",
  maxRetry: 0,
  reservationTimeout: 1_000,
  action: async (payload, ctx) => {
    emit({ ev: "start", id: ctx.id, n: payload.n, attempt: ctx.attempt });
    await sleep(payload.ms);
    emit({ ev: "end", id: ctx.id, n: payload.n, aborted: ctx.signal.aborted });
  },
});

await runner.start();
emit({ ev: "ready" });

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  if (line.trim() !== "stop") return;
  lines.close();
  await runner.stop();
  await queue.close();
  await client.close();
  emit({ ev: "stopped" });
  process.exit(0);
});
