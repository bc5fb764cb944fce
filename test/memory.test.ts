import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryQueue } from "../adapters/memory/mod.ts";
import { TransportError } from "../src/errors.ts";
import type { NewTask } from "../src/queue.ts";
import { ManualClock, testMessageQueue } from "../testing/mod.ts";

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
}, { onDelayedAdded: true, processInfo: false, release: false });

const c1 = { group: "g", name: "c1" };
const c2 = { group: "g", name: "c2" };

function task(n: number, overrides: Partial<NewTask> = {}): NewTask {
  return { id: `t${n}`, name: "job", body: String(n), attempt: 0, reservationTimeout: 1_000, ...overrides };
}

async function setup(): Promise<{ queue: MemoryQueue; clock: ManualClock }> {
  const clock = new ManualClock();
  const queue = new MemoryQueue({ clock });
  await queue.init("g");
  return { queue, clock };
}

describe("MemoryQueue", () => {
  it("is named memory:<name>, memory:default without a name", () => {
    assert.equal(new MemoryQueue({ name: "emails" }).name, "memory:emails");
    assert.equal(new MemoryQueue().name, "memory:default");
  });

  it("rejects every call after close with a TransportError naming the queue", async () => {
    const queue = new MemoryQueue({ name: "emails" });
    await queue.close();
    await assert.rejects(queue.add([task(1)]), (error: unknown) => {
      assert.ok(error instanceof TransportError);
      assert.match(error.message, /memory:emails is closed/);
      return true;
    });
    await assert.rejects(queue.receive(c1, { count: 1, block: 0 }), TransportError);
    await assert.rejects(queue.ack(c1, []), TransportError);
    await assert.rejects(queue.counts("g"), TransportError);
    await assert.rejects(queue.promote(), TransportError);
    await queue.close();
  });

  it("close ends a blocked receive with an empty list", async () => {
    const { queue } = await setup();
    const pending = queue.receive(c1, { count: 10, block: 60_000 });
    await queue.close();
    assert.deepEqual(await pending, []);
  });

  it("a blocked receive waits on the injected clock, not in real time", async () => {
    const { queue, clock } = await setup();
    let settled = false;
    const pending = queue.receive(c1, { count: 10, block: 60_000 }).finally(() => (settled = true));
    await clock.advance(59_999);
    assert.equal(settled, false);
    await clock.advance(1);
    assert.deepEqual(await pending, []);
    assert.equal(clock.pendingTimers, 0, "the block timer is gone once receive returns");
  });

  it("a blocked receive leaves no timer behind when work arrives", async () => {
    const { queue, clock } = await setup();
    const pending = queue.receive(c1, { count: 10, block: 60_000 });
    await queue.add([task(1)]);
    assert.equal((await pending).length, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  it("keeps cursors, counts and reclaim right across stream compaction", async () => {
    const { queue, clock } = await setup();
    await queue.init("slow");
    const n = 3_000;
    await queue.add(Array.from({ length: n }, (_, i) => task(i)));
    const got = await queue.receive(c1, { count: n, block: 0 });
    assert.equal(got.length, n);
    assert.deepEqual(await queue.ack(c1, got.slice(0, 2_500)), new Array(2_500).fill(true));
    assert.deepEqual(await queue.counts("g"), { waiting: 0, inFlight: 500, delayed: 0, dead: 0, consumers: 1 });
    assert.equal((await queue.counts("slow")).waiting, 500);
    await queue.add([task(n)]);
    const slow = await queue.receive({ group: "slow", name: "s" }, { count: 10_000, block: 0 });
    assert.deepEqual(slow.map((d) => d.id), Array.from({ length: 501 }, (_, i) => `t${2_500 + i}`));
    assert.deepEqual((await queue.receive(c1, { count: 10, block: 0 })).map((d) => d.id), [`t${n}`]);
    await clock.advance(1_000);
    const { deliveries } = await queue.reclaim(c2, 10_000);
    assert.equal(deliveries.length, 501);
    assert.ok(deliveries.every((d) => d.deliveryCount === 2));
    assert.deepEqual(await queue.ack(c2, deliveries), new Array(501).fill(true));
    assert.equal((await queue.counts("g")).inFlight, 0);
  });

  it("promotes delayed tasks in due order, ties in the order they were added", async () => {
    const { queue, clock } = await setup();
    const start = clock.now();
    await queue.add([
      task(1, { delay: 300 }),
      ...Array.from({ length: 10 }, (_, i) => task(10 + i, { delay: 100 })),
      task(2, { delay: 200 }),
      task(3, { delay: 50 }),
    ]);
    await clock.advance(300);
    assert.equal((await queue.promote()).promoted, 13);
    const got = await queue.receive(c1, { count: 20, block: 0 });
    const ties = Array.from({ length: 10 }, (_, i) => `t${10 + i}`);
    assert.deepEqual(got.map((d) => d.id), ["t3", ...ties, "t2", "t1"]);
    assert.deepEqual(
      got.map((d) => d.readyAt - start),
      [50, ...new Array(10).fill(100), 200, 300],
      "readyAt is the due time",
    );
  });

  it("keeps no timer per task: delayed tasks, reservations and locks wait for promote and reclaim", async () => {
    const { queue, clock } = await setup();
    await queue.add(Array.from({ length: 100 }, (_, i) => task(i, { delay: 1_000 + i })));
    await queue.add(
      Array.from(
        { length: 100 },
        (_, i) => task(100 + i, { unique: { key: `k${i}`, token: "t", holdFor: 0, ttl: 5_000 } }),
      ),
    );
    await queue.receive(c1, { count: 100, block: 0 });
    assert.equal(clock.pendingTimers, 0);
  });

  it("reclaim gives every idle delivery its turn across calls", async () => {
    const { queue, clock } = await setup();
    await queue.add(Array.from({ length: 10 }, (_, i) => task(i)));
    await queue.receive(c1, { count: 10, block: 0 });
    await clock.advance(1_000);
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push(...(await queue.reclaim(c2, 3)).deliveries.map((d) => d.id));
    assert.deepEqual(seen.sort(), Array.from({ length: 10 }, (_, i) => `t${i}`).sort());
  });

  it("tells onDelayedAdded listeners about retries with a delay", async () => {
    const { queue, clock } = await setup();
    const seen: number[] = [];
    queue.onDelayedAdded((dueAt) => seen.push(dueAt));
    await queue.add([task(1)]);
    const [d] = await queue.receive(c1, { count: 1, block: 0 });
    assert.equal(await queue.retry(c1, d, 500), true);
    assert.deepEqual(seen, [clock.now() + 500]);
  });

  it("a throwing onDelayedAdded listener does not fail the add", async () => {
    const { queue } = await setup();
    queue.onDelayedAdded(() => {
      throw new Error("listener bug");
    });
    assert.deepEqual(await queue.add([task(1, { delay: 10 })]), [{ ok: true, id: "t1" }]);
    assert.equal((await queue.counts("g")).delayed, 1);
  });

  it("injectMalformed returns the delivery id, also used as the task id", async () => {
    const { queue } = await setup();
    const deliveryId = await queue.injectMalformed("bad json");
    const [d] = await queue.receive(c1, { count: 1, block: 0 });
    assert.equal(d.deliveryId, deliveryId);
    assert.equal(d.id, deliveryId);
    assert.equal(d.malformed, "bad json");
  });

  it("deleteEntry returns false for an unknown entry", async () => {
    const { queue } = await setup();
    assert.equal(await queue.deleteEntry("404"), false);
  });
});
