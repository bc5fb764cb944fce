/**
 * The raw Redis Streams ceiling: the thinnest correct loop on
 * `@redis/client` with the per-command timeout off. XADD to produce;
 * XREADGROUP COUNT C; XACK + XDEL of each batch pipelined with the next read.
 *
 * @module
 */
import process from "node:process";
import { createClient } from "@redis/client";
import type { Contestant, Payload, Producer, Target, Worker, WorkerOptions } from "./types.ts";

const GROUP = "bench";

// deno-lint-ignore no-explicit-any
type Client = any;

async function connect(url: string): Promise<Client> {
  const client = createClient({ url, commandOptions: { timeout: 0 } });
  client.on("error", (err: unknown) => console.error("raw client error", err));
  await client.connect();
  return client;
}

/** The raw Streams contestant. */
export const raw: Contestant = {
  version(): string {
    return "raw Streams (@redis/client)";
  },

  async producer(target: Target): Promise<Producer> {
    const client = await connect(target.url);
    const key = target.queue;
    await client.xGroupCreate(key, GROUP, "0", { MKSTREAM: true }).catch(() => {});
    return {
      async addBulk(payloads: readonly Payload[]): Promise<void> {
        const m = client.multi();
        for (const p of payloads) m.xAdd(key, "*", { n: "noop", b: JSON.stringify(p) });
        await m.execAsPipeline();
      },
      async add(payload: Payload): Promise<void> {
        await client.xAdd(key, "*", { n: "noop", b: JSON.stringify(payload) });
      },
      async close(): Promise<void> {
        await client.close();
      },
    };
  },

  async worker(options: WorkerOptions): Promise<Worker> {
    const client = await connect(options.url);
    const key = options.queue;
    await client.xGroupCreate(key, GROUP, "0", { MKSTREAM: true }).catch(() => {});
    // One consumer per process, so several worker processes share the group.
    const consumer = `c${process.pid}`;
    let running = false;
    let loop: Promise<void> = Promise.resolve();
    const run = async (): Promise<void> => {
      let toAck: string[] = [];
      while (running) {
        const acked = toAck.length
          ? client.multi().xAck(key, GROUP, toAck).xDel(key, toAck).execAsPipeline()
          : null;
        const read = client.xReadGroup(GROUP, consumer, { key, id: ">" }, {
          COUNT: options.concurrency,
          BLOCK: 1000,
        });
        if (acked) {
          await acked;
          for (const id of toAck) options.onCompleted(id);
        }
        const reply = await read;
        toAck = [];
        if (!reply) continue;
        const messages = reply[0].messages;
        const runs: Promise<void>[] = [];
        for (const m of messages) {
          if (!m) continue;
          toAck.push(m.id);
          runs.push((async () => options.handler(JSON.parse(m.message.b), m.id))());
        }
        await Promise.all(runs);
      }
    };
    return {
      start(): Promise<void> {
        running = true;
        loop = run();
        return Promise.resolve();
      },
      async close(): Promise<void> {
        running = false;
        client.destroy();
        await loop.catch(() => {});
      },
    };
  },
};
