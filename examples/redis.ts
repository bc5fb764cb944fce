/**
 * The seed's example on Redis: a runner on a Redis stream, 100 tasks
 * dispatched (one of them delayed), each completing once; then it stops and
 * prints the fleet-wide statistics kept in Redis.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 ./node_modules/.bin/node examples/redis.ts
 *   deno run -A examples/redis.ts
 *   bun run examples/redis.ts
 *
 * REDIS_URL defaults to redis://127.0.0.1:6379. Keys live under the hash tag
 * {example_tasks:default}.
 */
import process from "node:process";
import { createClient } from "@redis/client";
import { TaskRunner } from "../mod.ts";
import { RedisStreamQueue } from "../adapters/redis/mod.ts";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const client = createClient({ url });
client.on("error", (error: Error) => console.error("redis:", error.message));
await client.connect();

// The queue takes the application's client and opens its own connection for blocking reads.
const queue = new RedisStreamQueue(client, { prefix: "example_tasks", queue: "default", logger: console });
const runner = new TaskRunner(queue, {
  batchSize: 10,
  consumerGroup: "example",
  consumersPrefix: "default",
  numWorkers: 10,
  longQueueThreshold: 30_000,
  longQueueHook: (stats) => console.log("queue is long:", stats.estimatedDrainTime, "ms to drain"),
});

const exampleTask = runner.registerTask({
  name: "exampletask",
  maxRetry: 10,
  action: async (payload: string, ctx) => {
    console.log(`Hello from example task ${payload} (id ${ctx.id}, attempt ${ctx.attempt})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  },
});

const total = 100;
let completed = 0;
let resolveAllDone: () => void = () => {};
const allDone = new Promise<void>((resolve) => (resolveAllDone = resolve));
runner.on("completed", () => {
  if (++completed === total) resolveAllDone();
});

await runner.start();
const dispatchedAt = Date.now();
await exampleTask.dispatch("delayed by 200 ms", { delay: 200 });
const results = await exampleTask.dispatchBulk(
  Array.from({ length: total - 1 }, (_, i) => ({ payload: String(i) })),
);
console.log(`dispatched ${results.filter((r) => r.ok).length + 1} tasks`);
await allDone;
console.log(`all ${total} tasks completed in ${Date.now() - dispatchedAt} ms`);
await runner.stop(); // flushes this runner's statistics to Redis

const stats = await runner.stats();
const timing = stats.tasks.exampletask?.runTime;
console.log(
  `fleet-wide totals since the queue was created: ${stats.tasks.exampletask?.completed} completed; run time p50 ${timing?.p50?.toFixed(1)} ms, ` +
    `p99 ${timing?.p99?.toFixed(1)} ms`,
);
await queue.close();
await client.close();
