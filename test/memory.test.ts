import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryQueue } from "../adapters/memory/mod.ts";
import { ManualClock, testMessageQueue } from "./conformance/mod.ts";

testMessageQueue("MemoryQueue", () => {
  const clock = new ManualClock();
  const queue = new MemoryQueue({ clock, name: "conformance" });
  return Promise.resolve({
    queue,
    clock,
    injectMalformed: async () => {
      await queue.injectMalformed("missing fields: id, name, body");
    },
    deleteEntry: async (deliveryId: string) => {
      await queue.deleteEntry(deliveryId);
    },
  });
});

const consumer = { group: "g", name: "c1" };

describe("MemoryQueue", () => {
  it("delivers an added task once and removes it on ack", async () => {
    const queue = new MemoryQueue({ clock: new ManualClock() });
    await queue.init("g");
    await queue.add([{ id: "t1", name: "job", body: "1", attempt: 0, reservationTimeout: 1_000 }]);
    const [delivery] = await queue.receive(consumer, { count: 10, block: 0 });
    assert.equal(delivery.id, "t1");
    assert.deepEqual(await queue.receive(consumer, { count: 10, block: 0 }), []);
    assert.deepEqual(await queue.ack(consumer, [delivery]), [true]);
    assert.equal((await queue.counts("g")).inFlight, 0);
  });
});
