/**
 * A complete worker process, as deployed (one per container or pod): it
 * connects to Redis, registers its tasks, consumes until SIGTERM or SIGINT,
 * then stops gracefully and closes its client. It never calls
 * `process.exit()`: once `runner.stop()` and `client.close()` resolved,
 * nothing keeps the process alive and it ends with code 0.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node examples/worker.ts   # Node 24
 *   deno run -A examples/worker.ts
 *   bun run examples/worker.ts
 *
 * `--dispatch N` makes it dispatch N tasks itself once started (for a try
 * without a producer). REDIS_URL defaults to redis://127.0.0.1:6379. Keys
 * live under the hash tag {example_tasks:worker}.
 */
import process from "node:process";
import { createClient } from "@redis/client";
import { TaskRunner } from "../mod.ts";
import { RedisStreamQueue } from "../adapters/redis/mod.ts";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const flag = process.argv.indexOf("--dispatch");
const toDispatch = flag >= 0 ? Number(process.argv[flag + 1] ?? 0) : 0;

// The application's client: the queue uses it and duplicates from it the
// connections consuming needs (one blocking reader per fetcher, one
// subscription for delayed tasks); the runner's stop() closes those.
const client = createClient({ url });
client.on("error", (error: Error) => console.error("redis:", error.message)); // it reconnects by itself
await client.connect();

const queue = new RedisStreamQueue(client, { prefix: "example_tasks", queue: "worker", logger: console });
const runner = new TaskRunner(queue, {
  consumerGroup: "workers",
  numWorkers: 8,
  shutdownTimeout: 10_000, // ms running tasks get to finish after a signal
});

const sendEmail = runner.registerTask<{ to: string }>({
  name: "send-email",
  maxRetry: 3,
  action: async (payload, ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 20)); // the real work
    console.log(`sent email to ${payload.to} (task ${ctx.id}, attempt ${ctx.attempt})`);
  },
});

runner.on("failed", (e) => console.error("task failed:", e));

let stopping: Promise<void> | null = null;
function shutdown(signal: string): void {
  if (stopping) return; // a second signal while stopping changes nothing
  console.log(`${signal}: stopping`);
  process.off("SIGTERM", shutdown);
  process.off("SIGINT", shutdown);
  stopping = (async () => {
    await runner.stop(); // finishes running tasks, flushes, releases its connections
    await client.close(); // the application's own connection
    console.log("stopped");
  })().catch((error) => {
    console.error("unclean stop:", error);
    process.exitCode = 1;
  });
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

await runner.start();
console.log(`worker consuming from ${queue.name} (pid ${process.pid})`);

if (toDispatch > 0) {
  const results = await sendEmail.dispatchBulk(
    Array.from({ length: toDispatch }, (_, i) => ({ payload: { to: `user${i}@example.com` } })),
  );
  console.log(`dispatched ${results.filter((r) => r.ok).length} tasks`);
}
