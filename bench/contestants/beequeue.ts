/**
 * Bee-Queue with its own driver (`redis` 3), set up like the BullMQ
 * contestant: jobs removed on success and on failure, `saveAll` for bulk
 * dispatch, `delayUntil` for delayed jobs (the worker's queue activates
 * them), everything else default.
 *
 * Differences that cannot be mirrored exactly:
 * - the producer's queue is a producer-only queue (`isWorker: false`,
 *   `getEvents: false`, as Bee-Queue's documentation recommends), and the
 *   worker's queue does not subscribe to job events either (`getEvents:
 *   false`): BullMQ's producer and worker read no events unless asked;
 * - Bee-Queue groups delayed jobs due within `delayedDebounce` (default
 *   1,000 ms) and raises the group when its last job is due, so its
 *   lateness reflects that default;
 * - Bee-Queue checks for stalled jobs only when `checkStalledJobs` is
 *   called; the contestant does not call it (BullMQ checks every 30 s, once
 *   or never in a run).
 *
 * @module
 */
import BeeQueue from "bee-queue";
import { createRequire } from "node:module";
import type { Contestant, Payload, Producer, Target, Worker, WorkerOptions } from "./types.ts";

function redisOptions(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/** The Bee-Queue contestant. */
export const beequeue: Contestant = {
  version(): string {
    const require = createRequire(import.meta.url);
    const v = (require("bee-queue/package.json") as { version: string }).version;
    const beeRequire = createRequire(require.resolve("bee-queue"));
    const r = (beeRequire("redis/package.json") as { version: string }).version;
    return `Bee-Queue ${v} (redis ${r})`;
  },

  async producer(target: Target): Promise<Producer> {
    const queue = new BeeQueue<Payload>(target.queue, {
      redis: redisOptions(target.url),
      isWorker: false,
      getEvents: false,
    });
    await queue.ready();
    return {
      async addBulk(payloads: readonly Payload[], delay?: number): Promise<void> {
        const until = Date.now() + (delay ?? 0);
        const errors = await queue.saveAll(payloads.map((p) => delay ? queue.createJob(p).delayUntil(until) : queue.createJob(p)));
        if (errors.size) throw [...errors.values()][0];
      },
      async add(payload: Payload, delay?: number): Promise<void> {
        const job = queue.createJob(payload);
        if (delay) job.delayUntil(Date.now() + delay);
        await job.save();
      },
      async close(): Promise<void> {
        await queue.close();
      },
    };
  },

  async worker(options: WorkerOptions): Promise<Worker> {
    const queue = new BeeQueue<Payload>(options.queue, {
      redis: redisOptions(options.url),
      getEvents: false,
      activateDelayedJobs: true,
      removeOnSuccess: true,
      // Retries default to 0; failed jobs kept in the failed set when the scenario counts them.
      removeOnFailure: !options.fail,
    });
    // Emitted by the worker once the job's completion is written to Redis.
    queue.on("succeeded", (job) => options.onCompleted(job.id));
    if (options.fail) queue.on("failed", (job) => options.onCompleted(job.id));
    queue.on("error", (err) => console.error("bee-queue worker error", err));
    await queue.ready();
    return {
      start(): Promise<void> {
        queue.process(options.concurrency, async (job) => {
          options.handler(job.data, job.id);
          if (options.fail) throw new Error("fails");
        });
        return Promise.resolve();
      },
      async close(): Promise<void> {
        await queue.close();
      },
    };
  },
};
