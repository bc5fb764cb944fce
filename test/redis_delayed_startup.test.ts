import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RedisStreamQueue } from "../adapters/redis/mod.ts";
import { type PrivateRedisClient, usePrivateRedis } from "./_redis.ts";

type Client = PrivateRedisClient;

const redis = usePrivateRedis();
const connected = (): Promise<Client> => redis.connect();

describe("delayed tasks added before a promoter's subscription takes effect", () => {
  it("are announced once the subscription is in place", async () => {
    const producerClient = await connected();
    const workerClient = await connected();
    const producer = new RedisStreamQueue(producerClient, { prefix: `s${process.pid}`, queue: "announce" });
    const worker = new RedisStreamQueue(workerClient, { prefix: `s${process.pid}`, queue: "announce" });
    try {
      const [added] = await producer.add([
        { id: "early", name: "job", body: "1", attempt: 0, reservationTimeout: 5_000, delay: 60_000 },
      ]);
      assert.ok(added.ok);
      const announced = new Promise<number>((resolve) => {
        const unsubscribe = worker.onDelayedAdded((dueAt) => {
          unsubscribe();
          resolve(dueAt);
        });
      });
      const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), 2_000).unref?.());
      const dueAt = await Promise.race([announced, timeout]);
      assert.notEqual(dueAt, null, "the delayed task added before the subscription was never announced");
      const now = Date.now();
      assert.ok(dueAt! > now + 50_000 && dueAt! <= now + 60_000, `announced due time ${dueAt} is not the task's (${now} + 60 s)`);
    } finally {
      await producer.close();
      await worker.close();
      await producerClient.close();
      await workerClient.close();
    }
  });
});
