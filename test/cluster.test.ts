import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createCluster } from "@redis/client";
import { testMessageQueue } from "../testing/mod.ts";
import { RedisStreamQueue } from "../adapters/redis/mod.ts";
import type { NewTask } from "../src/queue.ts";
import { redisCli, type RedisClusterServers, startRedisCluster } from "./_redis.ts";

const newCluster = (urls: string[]) => createCluster({ rootNodes: urls.map((url) => ({ url })) });
type Cluster = ReturnType<typeof newCluster>;

let servers: RedisClusterServers;
let serial = 0;

before(async () => {
  servers = await startRedisCluster(3);
});

after(async () => {
  await servers?.stop();
});

async function connected(): Promise<Cluster> {
  const cluster = newCluster(servers.urls);
  cluster.on("error", () => {});
  await cluster.connect();
  return cluster;
}

testMessageQueue("RedisStreamQueue on a 3-master Cluster", async () => {
  const cluster = await connected();
  const queue = new RedisStreamQueue(cluster, { prefix: `c${++serial}`, queue: "conformance" });
  return {
    queue,
    async injectMalformed() {
      await cluster.sendCommand(queue.keys.stream, false, ["XADD", queue.keys.stream, "*", "foo", "bar"]);
    },
    async deleteEntry(deliveryId: string) {
      await cluster.sendCommand(queue.keys.stream, false, ["XDEL", queue.keys.stream, deliveryId]);
    },
    async cleanup() {
      await cluster.close();
    },
  };
}, { onDelayedAdded: true, processInfo: true, release: true });

describe("RedisStreamQueue on a 3-master Cluster", () => {
  it("runs a workload over several queues spread across the masters", async () => {
    const cluster = await connected();
    const names = ["emails", "images", "reports", "billing", "search", "audit"];
    const queues = names.map((queue) => new RedisStreamQueue(cluster, { prefix: "multi", queue }));
    try {
      // The queues' hash tags land on more than one master.
      const owners = new Set(
        queues.map((q) => {
          const slot = Number(redisCli(servers.nodes[0], "cluster", "keyslot", q.keys.stream));
          return servers.nodes.findIndex((n) => ownsSlot(n.port, slot));
        }),
      );
      assert.ok(owners.size >= 2, `queues should span masters, got ${[...owners]}`);

      const perQueue = 300;
      await Promise.all(queues.map(async (q, qi) => {
        await q.init("workers");
        const tasks: NewTask[] = Array.from({ length: perQueue }, (_, i) => ({
          id: `${names[qi]}-${i}`,
          name: "work",
          body: JSON.stringify({ i }),
          attempt: 0,
          reservationTimeout: 5_000,
          delay: i % 10 === 0 ? 50 : 0,
          unique: i % 3 === 0 ? { key: `k${i}`, token: `t${i}`, holdFor: 0, ttl: 60_000 } : undefined,
        }));
        const added = await q.add(tasks);
        assert.ok(added.every((r) => r.ok));
      }));

      const done = new Map<string, Set<string>>(names.map((n) => [n, new Set()]));
      await Promise.all(queues.map(async (q, qi) => {
        const consumer = { group: "workers", name: `w-${qi}` };
        const seen = done.get(names[qi])!;
        const deadline = Date.now() + 20_000;
        while (seen.size < perQueue && Date.now() < deadline) {
          await q.promote();
          const got = await q.receive(consumer, { count: 50, block: 100 });
          const acked = await q.ack(consumer, got);
          assert.ok(acked.every(Boolean));
          for (const d of got) seen.add(d.id);
        }
      }));
      for (const [name, seen] of done) assert.equal(seen.size, perQueue, `queue ${name} completed`);
      for (const q of queues) {
        const counts = await q.counts("workers");
        assert.deepEqual(
          { waiting: counts.waiting, inFlight: counts.inFlight, delayed: counts.delayed },
          { waiting: 0, inFlight: 0, delayed: 0 },
        );
      }
      // Unique locks were released on ack: the same keys are free again.
      const again = await queues[0].add([{
        id: "again",
        name: "work",
        body: "{}",
        attempt: 0,
        reservationTimeout: 5_000,
        unique: { key: "k0", token: "tx", holdFor: 0, ttl: 60_000 },
      }]);
      assert.ok(again[0].ok);
    } finally {
      await Promise.all(queues.map((q) => q.close()));
      await cluster.close();
    }
  });
});

function ownsSlot(port: number, slot: number): boolean {
  const lines = redisCli({ port }, "cluster", "nodes").split("\n");
  const me = lines.find((l) => l.includes("myself"));
  if (!me) return false;
  for (const range of me.split(" ").slice(8)) {
    const [a, b] = range.split("-").map(Number);
    if (slot >= a && slot <= (b ?? a)) return true;
  }
  return false;
}
