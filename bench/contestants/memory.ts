/**
 * The engine's own ceiling: TaskRunner on `MemoryQueue`, producer and worker
 * in one process, no Redis.
 *
 * @module
 */
import { TaskRunner } from "../../mod.ts";
import { MemoryQueue } from "../../adapters/memory/mod.ts";
import type { Payload } from "./types.ts";
import { nowMs } from "../lib/stats.ts";

/**
 * Dispatch `n` no-op tasks to a `MemoryQueue` in batches of 1,000, then
 * process them with `numWorkers` = `batchSize` = `concurrency`, timing the
 * processing only (start → last `completed` event).
 * @param n tasks
 * @param concurrency worker slots and batch size
 * @returns elapsed processing time in ms
 */
export async function memoryRun(n: number, concurrency: number): Promise<{ ms: number }> {
  const queue = new MemoryQueue({ name: "bench" });
  const runner = new TaskRunner(queue, { consumerGroup: "bench", numWorkers: concurrency, batchSize: concurrency });
  let done = 0;
  let resolve: () => void = () => {};
  const all = new Promise<void>((r) => (resolve = r));
  const task = runner.registerTask({ name: "noop", action: (_p: Payload) => {} });
  runner.on("completed", () => {
    if (++done === n) resolve();
  });
  for (let i = 0; i < n; i += 1000) {
    const items: { payload: Payload }[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) items.push({ payload: { i: j } });
    await task.dispatchBulk(items);
  }
  const t0 = nowMs();
  await runner.start();
  await all;
  const ms = nowMs() - t0;
  await runner.stop();
  return { ms };
}
