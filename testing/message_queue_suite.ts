import { describe, it } from "node:test";
import { deliverySpecs, type Spec } from "./_delivery_specs.ts";
import { context, GROUP, type QueueCapabilities, type QueueFixture } from "./_fixture.ts";
import { handlerSpecs } from "./_handler_specs.ts";
import { storeSpecs } from "./_store_specs.ts";

export type { QueueCapabilities, QueueFixture } from "./_fixture.ts";

/**
 * Register the `MessageQueue` conformance suite with `node:test`: one
 * `describe` block named after the transport, and one test per promise of
 * the contract (add, receive, ack and ownership fencing, retry, dead
 * letters, pending failed-handler calls, heartbeat, reclaim with delivery
 * counts, delayed promotion exactly once, unique lock lifecycle, counts,
 * stats, instance registry, claimOnce, paused flag, close).
 *
 * Each test calls `factory` for a fresh, empty queue, creates the consumer
 * group `"conformance"`, and closes the queue (then runs `cleanup`) at the
 * end. When the fixture has a `ManualClock`, the suite advances it; otherwise
 * time passes for real, with reservation timeouts of 300 ms and delays of
 * 200 ms, so a whole run takes some seconds.
 *
 * Optional members (`onDelayedAdded`, `processInfo`, `release`) are tested when the
 * queue has them; declare them in `capabilities` so that a missing one fails
 * (`true`) or its tests are left out (`false`).
 *
 * @param name The transport's name, used as the top-level `describe` title.
 * @param factory Returns a fresh fixture for each test.
 * @param capabilities The optional members the transport implements.
 *
 * @example Prove a transport conforms
 * ```ts
 * import { ManualClock, testMessageQueue } from "@taskrunner/core/testing";
 * import { MemoryQueue } from "@taskrunner/core/memory";
 *
 * testMessageQueue("MemoryQueue", async () => {
 *   const clock = new ManualClock();
 *   return { queue: new MemoryQueue({ clock }), clock };
 * }, { onDelayedAdded: true, processInfo: false });
 * ```
 */
export function testMessageQueue(
  name: string,
  factory: () => Promise<QueueFixture>,
  capabilities: QueueCapabilities = {},
): void {
  const spec: Spec = (title, body) => {
    it(title, async () => {
      const fixture = await factory();
      try {
        await fixture.queue.init(GROUP);
        await body(context(fixture, capabilities));
      } finally {
        try {
          await fixture.queue.close();
        } finally {
          await fixture.cleanup?.();
        }
      }
    });
  };
  describe(`${name} conforms to MessageQueue`, () => {
    deliverySpecs(spec, capabilities);
    storeSpecs(spec, capabilities);
    handlerSpecs(spec);
  });
}
