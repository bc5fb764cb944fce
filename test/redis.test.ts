import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "@redis/client";
import { testMessageQueue } from "../testing/mod.ts";
import { TaskRunner } from "../mod.ts";
import { RedisStreamQueue, redactRedisUrl } from "../adapters/redis/mod.ts";
import type { RedisClientLike } from "../adapters/redis/mod.ts";
import type { Logger } from "../src/logger.ts";
import type { NewTask } from "../src/queue.ts";
import { redisCli, type RedisServer, startRedis } from "./_redis.ts";

const newClient = (url: string) => createClient({ url });
type Client = ReturnType<typeof newClient>;

let server: RedisServer;
let admin: Client;
let serial = 0;

before(async () => {
  server = await startRedis();
  admin = newClient(server.url);
  await admin.connect();
});

after(async () => {
  await admin?.close();
  await server?.stop();
});

function freshPrefix(): string {
  return `t${process.pid}-${++serial}`;
}

async function connected(): Promise<Client> {
  const client = newClient(server.url);
  client.on("error", () => {});
  await client.connect();
  return client;
}

testMessageQueue("RedisStreamQueue", async () => {
  const client = await connected();
  const queue = new RedisStreamQueue(client, { prefix: freshPrefix(), queue: "conformance" });
  return {
    queue,
    async injectMalformed() {
      await client.sendCommand(["XADD", queue.keys.stream, "*", "foo", "bar"]);
    },
    async deleteEntry(deliveryId: string) {
      await client.sendCommand(["XDEL", queue.keys.stream, deliveryId]);
    },
    async cleanup() {
      await client.close();
    },
  };
}, { onDelayedAdded: true, processInfo: true, release: true });

function task(n: number, overrides: Partial<NewTask> = {}): NewTask {
  return {
    id: `task-${n}`,
    name: "job",
    body: JSON.stringify({ n }),
    attempt: 0,
    reservationTimeout: 5_000,
    ...overrides,
  };
}

function recordingLogger(): Logger & { lines: Array<[string, string]> } {
  const lines: Array<[string, string]> = [];
  return {
    lines,
    debug: (m) => lines.push(["debug", m]),
    info: (m) => lines.push(["info", m]),
    warn: (m) => lines.push(["warn", m]),
    error: (m) => lines.push(["error", m]),
  };
}

describe("RedisStreamQueue on Redis", () => {
  it("of 20 producers on separate connections adding the same unique key, exactly one is accepted", async () => {
    const prefix = freshPrefix();
    const clients = await Promise.all(Array.from({ length: 20 }, () => connected()));
    try {
      const queues = clients.map((c) => new RedisStreamQueue(c, { prefix, queue: "race" }));
      await queues[0].init("g");
      const results = await Promise.all(
        queues.map((q, i) =>
          q.add([task(i, { unique: { key: "job:same", token: `tok-${i}`, holdFor: 0, ttl: 60_000 } })])
        ),
      );
      const accepted = results.filter(([r]) => r.ok);
      assert.equal(accepted.length, 1);
      const winner = accepted[0][0] as { ok: true; id: string };
      for (const [r] of results) {
        if (!r.ok) assert.equal(r.existingId, winner.id);
      }
      assert.equal((await queues[0].counts("g")).waiting, 1);
      await Promise.all(queues.map((q) => q.close()));
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it("a task added with delay 200 is received within a few ms of its due time", async () => {
    const client = await connected();
    const queue = new RedisStreamQueue(client, { prefix: freshPrefix(), queue: "delay" });
    try {
      await queue.init("g");
      // Promoter as the engine runs it: sleep until the next due time, woken early by announcements.
      let stop = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let wake: () => void = () => {};
      const promoter = (async () => {
        while (!stop) {
          const { nextDueAt, now } = await queue.promote();
          const wait = nextDueAt === null ? 1_000 : Math.max(0, nextDueAt - now);
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, wait);
          });
          clearTimeout(timer);
        }
      })();
      const unsubscribe = queue.onDelayedAdded(() => wake());
      await new Promise((r) => setTimeout(r, 100)); // subscription in place
      const lateness: number[] = [];
      for (let i = 0; i < 3; i++) {
        const [added] = await queue.add([task(i, { delay: 200 })]);
        assert.ok(added.ok);
        const [d] = await queue.receive({ group: "g", name: "c" }, { count: 1, block: 2_000 });
        assert.ok(d, "delayed task was not delivered");
        // Same host: the server's clock is this process's clock.
        lateness.push(Date.now() - d.readyAt);
        assert.deepEqual(await queue.ack({ group: "g", name: "c" }, [d]), [true]);
      }
      console.log(`delayed task lateness (receive time - due time), ms: ${lateness.join(", ")}`);
      const median = [...lateness].sort((a, b) => a - b)[1];
      assert.ok(median < 25, `median lateness ${median} ms`);
      for (const late of lateness) assert.ok(late < 150, `task became ready ${late} ms after its due time`);
      stop = true;
      wake();
      unsubscribe();
      await promoter;
    } finally {
      await queue.close();
      await client.close();
    }
  });

  it("a runner starts a task dispatched with { delay: 200 } within a few ms of its due time", async () => {
    const client = await connected();
    const queue = new RedisStreamQueue(client, { prefix: freshPrefix(), queue: "runner-delay" });
    const runner = new TaskRunner(queue, { consumerGroup: "g", numWorkers: 2 });
    const lateness: number[] = [];
    let due = 0;
    let started: () => void = () => {};
    const delayed = runner.registerTask<number>({
      name: "delayed",
      action: () => {
        lateness.push(Date.now() - due);
        started();
      },
    });
    try {
      await runner.start();
      for (let i = 0; i < 5; i++) {
        const ran = new Promise<void>((resolve) => (started = resolve));
        due = Date.now() + 200;
        await delayed.dispatch(i, { delay: 200 });
        await ran;
      }
      console.log(`runner: delayed task start lateness over due time, ms: ${lateness.join(", ")}`);
      // The median must be a few ms; single runs get slack for a loaded machine.
      const median = [...lateness].sort((a, b) => a - b)[2];
      assert.ok(median < 25, `median lateness ${median} ms`);
      for (const late of lateness) {
        assert.ok(late >= -5, `started ${-late} ms before its due time`);
        assert.ok(late < 150, `started ${late} ms after its due time`);
      }
    } finally {
      await runner.stop();
      await queue.close();
      await client.close();
    }
  });

  it("after a runner drains its queue and stops, only the stream and the stats remain", async () => {
    const client = await connected();
    const prefix = freshPrefix();
    const queue = new RedisStreamQueue(client, { prefix, queue: "drain" });
    const runner = new TaskRunner(queue, { consumerGroup: "g", numWorkers: 4 });
    let done = 0;
    let drained: () => void = () => {};
    const all = new Promise<void>((resolve) => (drained = resolve));
    const total = 30;
    const work = runner.registerTask<{ n: number }>({
      name: "work",
      unique: true,
      uniqueKey: (p) => String(p.n),
      action: () => {
        if (++done === total) drained();
      },
    });
    try {
      await runner.start();
      await work.dispatchBulk(
        Array.from({ length: total }, (_, n) => ({ payload: { n }, options: n % 3 === 0 ? { delay: 20 } : {} })),
      );
      await all;
    } finally {
      await runner.stop();
      await queue.close();
    }
    const tag = `{${prefix}:drain}`;
    const left = redisCli(server, "--scan", "--pattern", `${tag}*`).split("\n").filter(Boolean).sort();
    assert.deepEqual(left, [`${tag}:stats`, `${tag}:stream`]);
    assert.equal(Number(await client.sendCommand(["XLEN", `${tag}:stream`])), 0);
    await client.close();
  });

  it("keeps exactly the documented keys, and nothing but the stream and stats after a drain", async () => {
    const client = await connected();
    const prefix = freshPrefix();
    const queue = new RedisStreamQueue(client, { prefix, queue: "layout" });
    const c = { group: "g", name: "c" };
    try {
      await queue.init("g");
      await queue.add([
        task(1, { unique: { key: "job:1", token: "t1", holdFor: 0, ttl: 60_000 } }),
        task(2),
        task(3, { delay: 60_000 }),
      ]);
      await queue.registerInstance({ id: "i1", host: "h", pid: 1, workers: 1, busy: 0, startedAt: 0 }, 60_000);
      await queue.claimOnce("hook", 60_000);
      await queue.setPaused(true);
      const got = await queue.receive(c, { count: 10, block: 0 });
      assert.equal(got.length, 2);
      await queue.deadLetter(c, got[1], "max-retries", { name: "Error", message: "boom" });
      await queue.recordStats({
        tasks: { job: { completed: 1, failed: 0, retried: 0, dead: 0, runTimeSum: 3, runTime: [1], waitTimeSum: 0, waitTime: [] } },
      });
      const tag = `{${prefix}:layout}`;
      const keys = redisCli(server, "--scan", "--pattern", `${tag}*`).split("\n").filter(Boolean).sort();
      assert.deepEqual(keys, [
        `${tag}:dead`,
        `${tag}:delayed`,
        `${tag}:instance-info`,
        `${tag}:instances`,
        `${tag}:once:hook`,
        `${tag}:paused`,
        `${tag}:stats`,
        `${tag}:stream`,
        `${tag}:unique:job:1`,
      ]);
      // Drain: complete everything, empty the dead letters, unregister, resume.
      assert.deepEqual(await queue.ack(c, [got[0]]), [true]);
      await client.sendCommand(["DEL", queue.keys.delayed]);
      const [dl] = (await queue.listDeadLetters({ limit: 10 })).items;
      assert.ok(await queue.deleteDeadLetter(dl.deadLetterId));
      await queue.unregisterInstance("i1");
      await queue.setPaused(false);
      await client.sendCommand(["DEL", queue.keys.once("hook")]);
      const left = redisCli(server, "--scan", "--pattern", `${tag}*`).split("\n").filter(Boolean).sort();
      assert.deepEqual(left, [`${tag}:dead`, `${tag}:stats`, `${tag}:stream`]);
      assert.equal(Number(await client.sendCommand(["XLEN", queue.keys.stream])), 0);
      assert.equal(Number(await client.sendCommand(["XLEN", queue.keys.dead])), 0);
    } finally {
      await queue.close();
      await client.close();
    }
  });

  it("recovers from a deleted stream: recreates the group, reports it, keeps consuming", async () => {
    const client = await connected();
    const logger = recordingLogger();
    const queue = new RedisStreamQueue(client, { prefix: freshPrefix(), queue: "nogroup", logger });
    const c = { group: "g", name: "c" };
    try {
      await queue.init("g");
      await queue.add([task(1)]);
      const [d] = await queue.receive(c, { count: 1, block: 0 });
      await client.sendCommand(["DEL", queue.keys.stream]);
      // The in-flight delivery is gone: its ack is refused, its heartbeat reports it lost.
      assert.deepEqual(await queue.heartbeat(c, [d]), [d.deliveryId]);
      assert.deepEqual(await queue.ack(c, [d]), [false]);
      assert.deepEqual(await queue.reclaim(c, 10), { deliveries: [], lost: [] });
      // A blocked reader survives the deletion too.
      const blocked = queue.receive(c, { count: 1, block: 3_000 });
      await new Promise((r) => setTimeout(r, 100));
      await queue.add([task(2)]);
      const got = await blocked;
      const again = got.length ? got : await queue.receive(c, { count: 1, block: 2_000 });
      assert.equal(again[0]?.id, "task-2");
      assert.ok(logger.lines.some(([level, m]) => level === "error" && m.includes("consumer group missing")));
    } finally {
      await queue.close();
      await client.close();
    }
  });

  it("after a full batch, a receive that finds nothing waiting still blocks for new tasks", async () => {
    const client = await connected();
    const queue = new RedisStreamQueue(client, { prefix: freshPrefix(), queue: "backlog" });
    const c = { group: "g", name: "c" };
    try {
      await queue.init("g");
      await queue.add([task(1), task(2), task(3)]);
      assert.deepEqual((await queue.receive(c, { count: 2, block: 0 })).map((d) => d.id), ["task-1", "task-2"]);
      // The rest of the batch comes at once.
      assert.deepEqual((await queue.receive(c, { count: 2, block: 2_000 })).map((d) => d.id), ["task-3"]);
      await queue.add([task(4), task(5)]);
      assert.equal((await queue.receive(c, { count: 2, block: 0 })).length, 2);
      // A full batch again, but nothing waits now: the receive blocks until a task comes.
      const started = Date.now();
      const blocked = queue.receive(c, { count: 2, block: 2_000 });
      await new Promise((r) => setTimeout(r, 150));
      await queue.add([task(6)]);
      assert.deepEqual((await blocked).map((d) => d.id), ["task-6"]);
      assert.ok(Date.now() - started >= 100);
      // Nothing at all: an empty answer once the block ends.
      assert.deepEqual(await queue.receive(c, { count: 1, block: 0 }), []);
    } finally {
      await queue.close();
      await client.close();
    }
  });

  it("after a full batch, a read that gets no answer within the command timeout fails instead of hanging", async () => {
    const client = await connected();
    const queue = new RedisStreamQueue(client, { prefix: freshPrefix(), queue: "backlogstall", commandTimeout: 200 });
    const c = { group: "g", name: "c" };
    try {
      await queue.init("g");
      await queue.add([task(1), task(2)]);
      assert.equal((await queue.receive(c, { count: 1, block: 1_000 })).length, 1);
      // Reads are writes: paused, the next read (without BLOCK, after a full batch) gets no answer.
      await client.sendCommand(["CLIENT", "PAUSE", "1500", "WRITE"]);
      const started = Date.now();
      await assert.rejects(queue.receive(c, { count: 1, block: 1_000 }), /did not answer/);
      assert.ok(Date.now() - started < 1_200);
      await client.sendCommand(["CLIENT", "UNPAUSE"]);
      // The connection was dropped: the next receive opens a new one.
      assert.ok(Array.isArray(await queue.receive(c, { count: 1, block: 300 })));
    } finally {
      await client.sendCommand(["CLIENT", "UNPAUSE"]).catch(() => {});
      await queue.close();
      await client.close();
    }
  });

  it("a blocked receive interrupted by DEL of the stream recreates the group and keeps waiting", async () => {
    const client = await connected();
    const logger = recordingLogger();
    const queue = new RedisStreamQueue(client, { prefix: freshPrefix(), queue: "unblocked", logger });
    const c = { group: "g", name: "c" };
    try {
      await queue.init("g");
      const blocked = queue.receive(c, { count: 1, block: 2_000 });
      await new Promise((r) => setTimeout(r, 200));
      await client.sendCommand(["DEL", queue.keys.stream]);
      await new Promise((r) => setTimeout(r, 200));
      await queue.add([task(7)]);
      const got = await blocked;
      assert.equal(got[0]?.id, "task-7");
      assert.ok(logger.lines.some(([level]) => level === "error"));
    } finally {
      await queue.close();
      await client.close();
    }
  });

  it("warns when maxmemory-policy is not noeviction, and not when it is", async () => {
    const client = await connected();
    const logger = recordingLogger();
    try {
      await client.sendCommand(["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
      const q1 = new RedisStreamQueue(client, { prefix: freshPrefix(), logger });
      await q1.init("g");
      await q1.close();
      assert.ok(logger.lines.some(([level, m]) => level === "warn" && m.includes("allkeys-lru")));
      logger.lines.length = 0;
      await client.sendCommand(["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
      const q2 = new RedisStreamQueue(client, { prefix: freshPrefix(), logger });
      await q2.init("g");
      await q2.close();
      assert.deepEqual(logger.lines.filter(([level]) => level === "warn"), []);
    } finally {
      await client.sendCommand(["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
      await client.close();
    }
  });

  it("refuses a server older than 7.0 with a clear error", async () => {
    const client = await connected();
    // A client whose INFO reports an old server, everything else real.
    const old = Object.create(client) as Client;
    (old as unknown as { sendCommand: unknown }).sendCommand = (args: string[], opts?: unknown) =>
      args[0] === "INFO" && args[1] === "server"
        ? Promise.resolve("# Server\r\nredis_version:6.2.14\r\n")
        : client.sendCommand(args, opts as never);
    const queue = new RedisStreamQueue(old as unknown as RedisClientLike, { prefix: freshPrefix() });
    try {
      await assert.rejects(queue.init("g"), /needs Redis >= 7\.0.*6\.2/);
    } finally {
      await queue.close();
      await client.close();
    }
  });

  it("heartbeat with XCLAIM JUSTID keeps the delivery count and resets idle time", async () => {
    const client = await connected();
    const queue = new RedisStreamQueue(client, { prefix: freshPrefix() });
    const c = { group: "g", name: "c" };
    try {
      await queue.init("g");
      await queue.add([task(1, { reservationTimeout: 300 })]);
      const [d] = await queue.receive(c, { count: 1, block: 0 });
      await new Promise((r) => setTimeout(r, 150));
      assert.deepEqual(await queue.heartbeat(c, [d]), []);
      const [[, owner, idle, count]] = (await client.sendCommand([
        "XPENDING", queue.keys.stream, "g", "-", "+", "10",
      ])) as Array<[string, string, number, number]>;
      assert.equal(owner, "c");
      assert.equal(Number(count), 1);
      assert.ok(Number(idle) < 100, `idle ${idle} ms after heartbeat`);
      assert.deepEqual(await queue.ack(c, [d]), [true]);
    } finally {
      await queue.close();
      await client.close();
    }
  });

  it("runs over a unix socket", async () => {
    const unix = await startRedis({ unixSocket: true });
    const client = createClient({ socket: { path: unix.socket!, tls: false } });
    client.on("error", () => {});
    await client.connect();
    const queue = new RedisStreamQueue(client, { prefix: freshPrefix() });
    const c = { group: "g", name: "c" };
    try {
      await queue.init("g");
      await queue.add([task(1)]);
      const [d] = await queue.receive(c, { count: 1, block: 1_000 });
      assert.equal(d?.id, "task-1");
      assert.deepEqual(await queue.ack(c, [d]), [true]);
    } finally {
      await queue.close();
      await client.close();
      await unix.stop();
    }
  });

  it("works as an ACL user limited to the queue's keys, without dangerous commands", async () => {
    const prefix = freshPrefix();
    // The documented minimal ACL: the queue's keys and channel, no @dangerous
    // commands except INFO (startup checks) and CLIENT ID/UNBLOCK (prompt stop).
    await admin.sendCommand([
      "ACL", "SETUSER", "runner", "reset", "on", ">s3cret-acl", `~{${prefix}:*`, `&{${prefix}:*`,
      "+@all", "-@dangerous", "+info", "+client|id", "+client|unblock",
    ]);
    const url = server.url.replace("redis://", "redis://runner:s3cret-acl@");
    const queue = await RedisStreamQueue.connect(url, { prefix });
    const outsider = newClient(url);
    outsider.on("error", () => {});
    await outsider.connect();
    const c = { group: "g", name: "c" };
    try {
      await queue.init("g");
      const seen: number[] = [];
      queue.onDelayedAdded((due) => seen.push(due));
      const added = await queue.add([
        task(1, { unique: { key: "u", token: "t", holdFor: 0, ttl: 10_000 } }),
        task(2, { delay: 50 }),
      ]);
      assert.ok(added.every((r) => r.ok));
      await new Promise((r) => setTimeout(r, 80));
      assert.equal((await queue.promote()).promoted, 1);
      const got = await queue.receive(c, { count: 10, block: 500 });
      assert.equal(got.length, 2);
      assert.deepEqual(await queue.heartbeat(c, got), []);
      assert.equal(await queue.retry(c, got[0], 0), true);
      assert.equal(typeof await queue.deadLetter(c, got[1], "max-retries", { name: "Error", message: "x" }), "string");
      const [again] = await queue.receive(c, { count: 1, block: 500 });
      assert.deepEqual(await queue.ack(c, [again]), [true]);
      assert.equal((await queue.reclaim(c, 10)).deliveries.length, 0);
      await queue.recordStats({ tasks: {} });
      await queue.registerInstance({ id: "i", host: "h", pid: 1, workers: 1, busy: 0, startedAt: 0 }, 1_000);
      assert.equal((await queue.instances()).length, 1);
      assert.equal(await queue.claimOnce("k", 1_000), true);
      await queue.setPaused(false);
      assert.equal((await queue.counts("g")).dead, 1);
      assert.equal(seen.length, 1);
      // A blocked read is ended by CLIENT UNBLOCK, which this user may send.
      const stop = new AbortController();
      const started = Date.now();
      const blocked = queue.receive(c, { count: 1, block: 5_000, signal: stop.signal });
      setTimeout(() => stop.abort(), 100);
      assert.deepEqual(await blocked, []);
      assert.ok(Date.now() - started < 1_000, `abort took ${Date.now() - started} ms`);
      // Keys outside the queue's tag stay out of reach.
      await assert.rejects(
        new RedisStreamQueue(outsider, { prefix: "other" }).add([task(3)]),
        /NOPERM/,
      );
    } finally {
      await queue.close();
      await outsider.close();
    }
  });

  it("reclaim passes delete consumers idle past consumerIdleTimeout that own nothing, and only those", async () => {
    const client = await connected();
    const queue = new RedisStreamQueue(client, { prefix: freshPrefix(), consumerIdleTimeout: 200 });
    try {
      await queue.init("g");
      await queue.add([task(1, { reservationTimeout: 60_000 })]);
      const held = await queue.receive({ group: "g", name: "crashed-holding" }, { count: 1, block: 0 });
      assert.equal(held.length, 1);
      await client.sendCommand(["XGROUP", "CREATECONSUMER", queue.keys.stream, "g", "crashed-empty"]);
      await new Promise((r) => setTimeout(r, 250));
      await client.sendCommand(["XGROUP", "CREATECONSUMER", queue.keys.stream, "g", "recent-empty"]);
      const names = async () =>
        ((await client.sendCommand(["XINFO", "CONSUMERS", queue.keys.stream, "g"])) as Array<Record<string, unknown>>)
          .map((c) => String(c.name ?? (c as unknown as unknown[])[1])).sort();
      assert.deepEqual(await names(), ["crashed-empty", "crashed-holding", "recent-empty"]);
      assert.deepEqual(await queue.reclaim({ group: "g", name: "me" }, 10), { deliveries: [], lost: [] });
      assert.deepEqual(await names(), ["crashed-holding", "recent-empty"]);
    } finally {
      await queue.close();
      await client.close();
    }
  });

  it("release closes the consumers' blocking connections and the subscription closes with its last listener", async () => {
    const client = await connected();
    const queue = new RedisStreamQueue(client as unknown as RedisClientLike, { prefix: freshPrefix() });
    const connections = async (): Promise<number> =>
      String(await admin.sendCommand(["CLIENT", "LIST"])).trim().split("\n").length;
    const until = async (want: number, message?: string): Promise<void> => {
      const deadline = Date.now() + 5_000;
      while (await connections() !== want) {
        if (Date.now() > deadline) assert.equal(await connections(), want, message);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      await queue.init("g");
      const base = await connections();
      const c1 = { group: "g", name: "c1" };
      const c2 = { group: "g", name: "c2" };
      await queue.receive(c1, { count: 1, block: 10 });
      await queue.receive(c2, { count: 1, block: 10 });
      const first = queue.onDelayedAdded(() => {});
      const second = queue.onDelayedAdded(() => {});
      await until(base + 3);
      // Redis drops a closed connection from CLIENT LIST once it reads the
      // socket's end, a moment after the client side has closed it.
      await queue.release([c1]);
      await until(base + 2, "c1's blocking connection is closed");
      first();
      await queue.release([]);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await connections(), base + 2, "the subscription stays while a listener is left");
      second();
      await queue.release([c2]);
      await until(base, "nothing of the queue's stays open");
      await queue.release([c1, c2]);
      await queue.add([task(0, { id: "after-release" })]);
      const [d] = await queue.receive(c1, { count: 1, block: 1_000 });
      assert.equal(d.id, "after-release");
      assert.equal(await connections(), base + 1, "a receive after release opens its connection again");
    } finally {
      await queue.close();
      await client.close();
    }
  });

  it("a subscription still connecting when its last listener leaves is dropped, not left to connect later", async () => {
    const own = await startRedis();
    const client = newClient(own.url);
    client.on("error", () => {});
    await client.connect();
    const queue = new RedisStreamQueue(client as unknown as RedisClientLike, { prefix: freshPrefix() });
    const clients = (): number => redisCli(own, "CLIENT", "LIST").split("\n").length; // includes redis-cli's own
    try {
      assert.equal(clients(), 2);
      own.kill("SIGSTOP"); // the subscription's connection is accepted but never answered
      const off = queue.onDelayedAdded(() => {});
      off();
      await queue.release([]);
      own.kill("SIGCONT");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(clients(), 2, "the abandoned subscription connected after all");
    } finally {
      own.kill("SIGCONT");
      await queue.close();
      await client.close();
      await own.stop();
    }
  });

  it("processInfo names this host and process", () => {
    const queue = new RedisStreamQueue(admin as unknown as RedisClientLike);
    const info = queue.processInfo();
    assert.equal(info.pid, process.pid);
    assert.ok(info.host.length > 0);
  });

  it("never shows the Redis password in a connection error", async () => {
    const url = "redis://user:s3cret-pw@127.0.0.1:1/0";
    assert.equal(redactRedisUrl(url), "redis://user:***@127.0.0.1:1/0");
    await assert.rejects(RedisStreamQueue.connect(url), (error: Error) => {
      assert.ok(!error.message.includes("s3cret-pw"), error.message);
      assert.match(error.message, /user:\*\*\*@127\.0\.0\.1:1/);
      return true;
    });
  });

  it("rejects a prefix or queue name that would break the hash tag", () => {
    assert.throws(() => new RedisStreamQueue(admin as unknown as RedisClientLike, { queue: "a}b" }), /'queue'.*"a}b"/);
    assert.throws(() => new RedisStreamQueue(admin as unknown as RedisClientLike, { prefix: "" }), /'prefix'/);
  });

  it("gives entries without a reservation defaultReservationTimeout, or its deprecated alias reclaimDelay", async () => {
    const client = await connected();
    try {
      for (const options of [{ defaultReservationTimeout: 12_345 }, { reclaimDelay: 12_345 }]) {
        const queue = new RedisStreamQueue(client, { prefix: freshPrefix(), ...options });
        await queue.init("g");
        await client.sendCommand(["XADD", queue.keys.stream, "*", "foo", "bar"]);
        const [d] = await queue.receive({ group: "g", name: "c" }, { count: 1, block: 0 });
        assert.ok(d?.malformed, JSON.stringify(options));
        assert.equal(d.reservationTimeout, 12_345, JSON.stringify(options));
        await queue.close();
      }
    } finally {
      await client.close();
    }
  });

  it("rejects defaultReservationTimeout given together with reclaimDelay, and checks each by its own name", () => {
    const c = admin as unknown as RedisClientLike;
    assert.throws(
      () => new RedisStreamQueue(c, { defaultReservationTimeout: 1_000, reclaimDelay: 1_000 }),
      (error: Error) => error.name === "ConfigError" && /'reclaimDelay'.*'defaultReservationTimeout'/.test(error.message),
    );
    assert.throws(() => new RedisStreamQueue(c, { reclaimDelay: 0 }), /Cannot create RedisStreamQueue: 'reclaimDelay'.*got 0/);
    assert.throws(
      () => new RedisStreamQueue(c, { defaultReservationTimeout: -1 }),
      /Cannot create RedisStreamQueue: 'defaultReservationTimeout'.*got -1/,
    );
    assert.throws(() => new RedisStreamQueue(c, { batchLimit: Number.NaN }), /'batchLimit' must be a positive number, got NaN/);
  });
});
