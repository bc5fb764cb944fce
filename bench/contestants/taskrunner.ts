/**
 * TaskRunner on `RedisStreamQueue`, with the user's own `@redis/client`
 * client created with default options.
 *
 * Configuration: `numWorkers` = the scenario's concurrency and `batchSize`
 * = the same (one receive may fill every free slot, as the raw loop's
 * `COUNT C` does); everything else is the default.
 *
 * @module
 */
import { createClient } from "@redis/client";
import { TaskRunner } from "../../mod.ts";
import { RedisStreamQueue } from "../../adapters/redis/mod.ts";
import type { Contestant, Payload, Producer, Target, Worker, WorkerOptions } from "./types.ts";

const GROUP = "bench";
const TASK = "noop";

type Client = ReturnType<typeof createClient<{}, {}, {}, 3, {}>>;

async function connect(url: string): Promise<Client> {
  const client: Client = createClient({ url });
  client.on("error", (err: unknown) => console.error("taskrunner client error", err));
  await client.connect();
  return client;
}

function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string }; process?: { version: string } };
  if (g.Deno) return `Deno ${g.Deno.version.deno}`;
  if (g.Bun) return `Bun ${g.Bun.version}`;
  return `Node ${g.process?.version ?? "?"}`;
}

/** The TaskRunner contestant. */
export const taskrunner: Contestant = {
  version(): string {
    return `TaskRunner (RedisStreamQueue) on ${runtimeName()}`;
  },

  async producer(target: Target): Promise<Producer> {
    const client = await connect(target.url);
    const queue = new RedisStreamQueue(client, { prefix: "bench", queue: target.queue });
    const runner = new TaskRunner(queue, { consumerGroup: GROUP });
    const task = runner.registerTask({ name: TASK, action: (_p: Payload) => {} });
    await queue.init(GROUP);
    return {
      async addBulk(payloads: readonly Payload[], delay?: number): Promise<void> {
        await task.dispatchBulk(payloads.map((payload) => (delay ? { payload, options: { delay } } : { payload })));
      },
      async add(payload: Payload, delay?: number): Promise<void> {
        await task.dispatch(payload, delay ? { delay } : undefined);
      },
      async close(): Promise<void> {
        await runner.stop();
        await queue.close();
        await client.close();
      },
    };
  },

  async worker(options: WorkerOptions): Promise<Worker> {
    const client = await connect(options.url);
    const queue = new RedisStreamQueue(client, { prefix: "bench", queue: options.queue });
    const runner = new TaskRunner(queue, {
      consumerGroup: GROUP,
      numWorkers: options.concurrency,
      batchSize: options.concurrency,
    });
    runner.registerTask({
      name: TASK,
      action: (payload: Payload, ctx) => {
        options.handler(payload, ctx.id);
        if (options.fail) throw new Error("fails");
      },
      // A failed run goes straight to the dead-letter store.
      ...(options.fail ? { maxRetry: 0 } : {}),
    });
    runner.on("completed", (e) => options.onCompleted(e.id));
    if (options.fail) runner.on("dead", (e) => options.onCompleted(e.id));
    await queue.init(GROUP);
    return {
      async start(): Promise<void> {
        await runner.start();
      },
      async close(): Promise<void> {
        await runner.stop();
        await queue.close();
        await client.close();
      },
    };
  },
};
