/**
 * BullMQ with its default driver (ioredis), jobs removed on completion and
 * on failure, as its documentation recommends for throughput.
 *
 * @module
 */
import { Queue, Worker as BullWorker } from "bullmq";
import { createRequire } from "node:module";
import type { Contestant, Payload, Producer, Target, Worker, WorkerOptions } from "./types.ts";

function connection(url: string): { host: string; port: number; maxRetriesPerRequest: null } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null };
}

const JOB_OPTS = { removeOnComplete: true, removeOnFail: true };

/** The BullMQ contestant. */
export const bullmq: Contestant = {
  version(): string {
    const require = createRequire(import.meta.url);
    const v = (require("bullmq/package.json") as { version: string }).version;
    const io = (require("ioredis/package.json") as { version: string }).version;
    return `BullMQ ${v} (ioredis ${io})`;
  },

  async producer(target: Target): Promise<Producer> {
    const queue = new Queue(target.queue, {
      connection: connection(target.url),
      // Failed jobs kept in the failed set when the scenario counts them.
      defaultJobOptions: target.fail ? { ...JOB_OPTS, removeOnFail: false } : JOB_OPTS,
    });
    await queue.waitUntilReady();
    return {
      async addBulk(payloads: readonly Payload[], delay?: number): Promise<void> {
        await queue.addBulk(payloads.map((data) => ({ name: "noop", data, opts: delay ? { delay } : undefined })));
      },
      async add(payload: Payload, delay?: number): Promise<void> {
        await queue.add("noop", payload, delay ? { delay } : undefined);
      },
      async close(): Promise<void> {
        await queue.close();
      },
    };
  },

  async worker(options: WorkerOptions): Promise<Worker> {
    const worker = new BullWorker(
      options.queue,
      async (job) => {
        options.handler(job.data as Payload, job.id as string);
        if (options.fail) throw new Error("fails");
      },
      {
        connection: connection(options.url),
        concurrency: options.concurrency,
        autorun: false,
        removeOnComplete: { count: 0 },
        ...(options.fail ? {} : { removeOnFail: { count: 0 } }),
      },
    );
    worker.on("completed", (job) => options.onCompleted(job.id as string));
    // Attempts default to 1: a failed job goes to the failed set at once.
    if (options.fail) worker.on("failed", (job) => options.onCompleted(job?.id as string));
    worker.on("error", (err) => console.error("bullmq worker error", err));
    await worker.waitUntilReady();
    let running: Promise<void> = Promise.resolve();
    return {
      start(): Promise<void> {
        running = worker.run();
        return Promise.resolve();
      },
      async close(): Promise<void> {
        await worker.close(true);
        await running.catch(() => {});
      },
    };
  },
};
