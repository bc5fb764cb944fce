import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RedisStreamQueue } from "../adapters/redis/mod.ts";
import { TaskRunner } from "../mod.ts";
import type { StatsDelta } from "../src/queue.ts";
import { type PrivateRedisClient, usePrivateRedis } from "./_redis.ts";

type Client = PrivateRedisClient;

const redis = usePrivateRedis();
const connected = (): Promise<Client> => redis.connect();
let n = 0;

async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A runner on a fresh queue of the private server; `wrap` may replace queue methods. */
async function fixture(statsInterval: number, wrap?: (queue: RedisStreamQueue) => void) {
  const client = await connected();
  const queue = new RedisStreamQueue(client, { prefix: `rs${process.pid}-${n++}`, queue: "stats" });
  wrap?.(queue);
  const runner = new TaskRunner(queue, { consumerGroup: "g", numWorkers: 4, statsInterval, shutdownTimeout: 2_000 });
  return {
    queue,
    runner,
    async close() {
      await runner.stop();
      await queue.close();
      await client.close();
    },
  };
}

describe("stats read-your-writes on Redis", () => {
  it("count every completion right after the last completed event, with no wait", async () => {
    const f = await fixture(60_000);
    try {
      let completed = 0;
      f.runner.on("completed", () => completed++);
      const t = f.runner.registerTask({ name: "t", action: () => {} });
      await f.runner.start();
      await t.dispatchBulk(Array.from({ length: 50 }, () => ({ payload: null })));
      await until(() => completed === 50, "50 completed");
      const s = await f.runner.stats();
      assert.equal(s.tasks.t?.completed, 50);
      assert.deepEqual(s.totals, { completed: 50, failed: 0, retried: 0, dead: 0 });
    } finally {
      await f.close();
    }
  });

  it("count failures, retries and dead letters not flushed yet, with a long statsInterval", async () => {
    const f = await fixture(3_600_000);
    try {
      let dead = 0;
      f.runner.on("dead", () => dead++);
      const bad = f.runner.registerTask({ name: "bad", maxRetry: 2, backoff: () => 0, action: () => {
        throw new Error("x");
      } });
      await f.runner.start();
      await bad.dispatch(null);
      await until(() => dead === 1, "dead");
      const s = await f.runner.stats();
      assert.deepEqual(
        [s.tasks.bad?.completed, s.tasks.bad?.failed, s.tasks.bad?.retried, s.tasks.bad?.dead],
        [0, 3, 2, 1],
      );
      assert.deepEqual((await f.queue.readStats()).tasks, {}, "nothing was flushed");
    } finally {
      await f.close();
    }
  });

  it("count a delta exactly once while its flush is in flight", async () => {
    let hold: Promise<void> | null = null;
    let release = () => {};
    let flushing = false;
    const f = await fixture(50, (queue) => {
      const record = queue.recordStats.bind(queue);
      queue.recordStats = async (delta: StatsDelta) => {
        flushing = true;
        if (hold) await hold;
        await record(delta);
      };
    });
    try {
      let completed = 0;
      f.runner.on("completed", () => completed++);
      const t = f.runner.registerTask({ name: "t", action: () => {} });
      await f.runner.start();
      hold = new Promise((resolve) => (release = resolve));
      await t.dispatchBulk(Array.from({ length: 5 }, () => ({ payload: null })));
      await until(() => completed === 5, "5 completed");
      flushing = false;
      await until(() => flushing, "a flush in flight");
      const during = f.runner.stats();
      await t.dispatchBulk(Array.from({ length: 2 }, () => ({ payload: null })));
      await until(() => completed === 7, "7 completed");
      hold = null;
      release();
      assert.equal((await during).tasks.t?.completed, 7);
      assert.equal((await f.runner.stats()).tasks.t?.completed, 7);
    } finally {
      release();
      await f.close();
    }
  });
});
