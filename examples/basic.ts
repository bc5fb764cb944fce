/**
 * The seed's example, ported: register a task, start a runner, dispatch 100
 * tasks and watch them complete, on the in-memory queue (no Redis needed).
 *
 *   npm run example                  # Node (the project's Node 24)
 *   deno run -A examples/basic.ts
 *   bun run examples/basic.ts
 */
import { TaskRunner } from "../mod.ts";
import { MemoryQueue } from "../adapters/memory/mod.ts";

const queue = new MemoryQueue();
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
let finish = (): void => {};
const allDone = new Promise<void>((resolve) => (finish = resolve));
runner.on("completed", () => {
  if (++completed === total) finish();
});

await runner.start();
for (let i = 0; i < total; i++) {
  await exampleTask.dispatch(String(i));
}
await allDone;
await runner.stop(); // flushes this runner's statistics to the queue

const stats = await runner.stats();
const timing = stats.tasks.exampletask?.runTime;
console.log(
  `${completed} tasks completed; run time p50 ${timing?.p50?.toFixed(1)} ms, p99 ${timing?.p99?.toFixed(1)} ms`,
);
await queue.close();
