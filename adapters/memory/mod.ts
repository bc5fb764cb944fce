/**
 * The in-memory transport: {@linkcode MemoryQueue} implements the whole
 * `MessageQueue` contract in one process, with the semantics of the Redis
 * transport and an injectable clock. Use it in tests (yours and ours), in
 * examples, and where losing queued work on exit is acceptable.
 *
 * @example Swap the memory queue into a test
 * ```ts
 * import { MemoryQueue } from "@taskrunner/core/memory";
 * import { ManualClock } from "@taskrunner/core/testing";
 *
 * const clock = new ManualClock();
 * const queue = new MemoryQueue({ clock, name: "test" });
 * await queue.init("workers");
 * await queue.add([{ id: "t1", name: "hello", body: '"world"', attempt: 0, reservationTimeout: 30_000 }]);
 * ```
 *
 * @module
 */

export { MemoryQueue, type MemoryQueueOptions } from "./memory_queue.ts";
