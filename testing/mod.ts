/**
 * Testing tools: the `MessageQueue` conformance suite that every transport
 * must pass, and a clock that tests drive by hand.
 *
 * - {@linkcode testMessageQueue} registers the suite with `node:test`, so it
 *   runs on Node, Deno and Bun; a third-party transport proves itself by
 *   passing it.
 * - {@linkcode ManualClock} moves only when told to; give it to a
 *   `MemoryQueue` and a `TaskRunner` to test timeouts, delays and retries
 *   without waiting.
 *
 * @example Run the suite against a transport
 * ```ts
 * import { ManualClock, testMessageQueue } from "@taskrunner/core/testing";
 * import { MemoryQueue } from "@taskrunner/core/memory";
 *
 * testMessageQueue("MemoryQueue", async () => {
 *   const clock = new ManualClock();
 *   const queue = new MemoryQueue({ clock });
 *   return { queue, clock, injectMalformed: async () => void (await queue.injectMalformed()) };
 * });
 * ```
 *
 * @module
 */

export { ManualClock } from "./manual_clock.ts";
export { type QueueCapabilities, type QueueFixture, testMessageQueue } from "./message_queue_suite.ts";
