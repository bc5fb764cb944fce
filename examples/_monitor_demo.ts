/**
 * The runner behind the monitor examples: three kinds of task with
 * realistic run times and failures, and a small producer dispatching bursts
 * of work, so the dashboard has something to show.
 *
 * On the in-memory queue by default; on Redis when `REDIS_URL` is set (the
 * Redis adapter is loaded only then, so the memory demo needs no Redis
 * client).
 */
import { TaskRunner, UnrecoverableError } from "../mod.ts";
import type { MessageQueue } from "../mod.ts";
import { MemoryQueue } from "../adapters/memory/mod.ts";

/** A running demo: the runner to monitor, and how to stop everything. */
export interface Demo {
  runner: TaskRunner;
  /** Where the tasks live, for the start-up message. */
  where: string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const between = (min: number, max: number) => min + Math.random() * (max - min);

async function openQueue(): Promise<{ queue: MessageQueue; where: string }> {
  const url = globalThis.process?.env?.REDIS_URL;
  if (url) {
    const { RedisStreamQueue, redactRedisUrl } = await import("../adapters/redis/mod.ts");
    const queue = await RedisStreamQueue.connect(url, { prefix: "tr", queue: "monitor-demo" });
    return { queue, where: `Redis at ${redactRedisUrl(url)}` };
  }
  return { queue: new MemoryQueue({ name: "monitor-demo" }), where: "the in-memory queue" };
}

/** Start the demo runner and its producer. */
export async function startDemo(): Promise<Demo> {
  const { queue, where } = await openQueue();
  const runner = new TaskRunner(queue, {
    consumerGroup: "monitor-demo",
    numWorkers: 8,
    longQueueThreshold: 10_000,
    statsInterval: 500,
    instanceInterval: 2_000,
  });

  const sendEmail = runner.registerTask({
    name: "send-email",
    maxRetry: 3,
    backoff: { type: "fixed", delay: 1_000 },
    action: async (payload: { to: string }) => {
      await sleep(between(20, 250));
      if (Math.random() < 0.03) throw new Error(`SMTP 451: mailbox of ${payload.to} is busy, try later`);
    },
  });
  const resizeImage = runner.registerTask({
    name: "resize-image",
    maxRetry: 1,
    action: async (payload: { file: string; width: number }) => {
      await sleep(between(80, 900));
      if (payload.width > 4000) throw new RangeError(`width ${payload.width}px exceeds the 4000px limit`);
    },
  });
  const chargeCard = runner.registerTask({
    name: "charge-card",
    maxRetry: 2,
    backoff: { type: "fixed", delay: 500 },
    action: async (payload: { order: number; cents: number }) => {
      await sleep(between(40, 400));
      if (payload.cents % 97 === 0) throw new UnrecoverableError(`card declined for order #${payload.order}`);
      if (Math.random() < 0.08) throw new Error("payment gateway timed out");
    },
  });

  await runner.start();

  let stopped = false;
  let order = 1000;
  const producer = (async () => {
    while (!stopped) {
      const burst = Math.random() < 0.15 ? 60 : Math.round(between(3, 20));
      for (let i = 0; i < burst && !stopped; i++) {
        const pick = Math.random();
        if (pick < 0.5) await sendEmail.dispatch({ to: `user${Math.floor(between(1, 5000))}@example.com` });
        else if (pick < 0.8) {
          await resizeImage.dispatch(
            { file: `photo-${order}.jpg`, width: Math.random() < 0.02 ? 6000 : 1200 },
            Math.random() < 0.1 ? { delay: Math.round(between(2_000, 20_000)) } : undefined,
          );
        } else await chargeCard.dispatch({ order: order++, cents: Math.round(between(100, 20_000)) });
      }
      await sleep(between(300, 1_500));
    }
  })();

  return {
    runner,
    where,
    async stop() {
      stopped = true;
      await producer;
      await runner.stop();
      await queue.close();
    },
  };
}
