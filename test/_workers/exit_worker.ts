/**
 * A worker process for `test/redis_exit.test.ts`, written as the README's
 * usage: a TaskRunner on RedisStreamQueue over the user's own client. It runs
 * tasks (some delayed, so the delayed-task subscription is in use), then
 * `runner.stop()` and `client.close()` and nothing else: it never calls
 * `queue.close()` or `process.exit()`, so it ends only if nothing keeps the
 * process alive.
 *
 * Progress goes to stdout as JSON lines: `ready` once the first tasks ran,
 * `closed` after `client.close()` resolved. With `restart`, it waits after
 * `ready` until the key `<prefix>:restarted` exists (the test sets it once
 * Redis came back), then runs a second round of tasks before stopping.
 *
 * Config comes as JSON in `TR_EXIT`: `{ url, prefix, restart }`.
 *
 * @module
 */
import process from "node:process";
import { createClient } from "@redis/client";
import { TaskRunner } from "../../mod.ts";
import { RedisStreamQueue } from "../../adapters/redis/mod.ts";

interface Config {
  url: string;
  prefix: string;
  restart: boolean;
}

const config = JSON.parse(process.env.TR_EXIT ?? "{}") as Config;
const emit = (ev: string, extra: Record<string, unknown> = {}): void => {
  console.log(JSON.stringify({ ev, ...extra }));
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const client = createClient({ url: config.url });
client.on("error", () => {/* reconnects on its own */});
await client.connect();
const queue = new RedisStreamQueue(client, { prefix: config.prefix, queue: "exit" });
const runner = new TaskRunner(queue, {
  consumerGroup: "exit",
  numWorkers: 4,
  numFetchers: 2,
  reservationTimeout: 1_000,
  shutdownTimeout: 1_000,
});
let done = 0;
runner.on("completed", () => void done++);
const work = runner.registerTask<{ n: number }>({ name: "work", action: async () => await sleep(2) });

/** Dispatch `n` tasks (every fourth delayed by 50 ms) and wait until `n` more completed. */
async function round(n: number): Promise<void> {
  const target = done + n;
  for (let i = 0; i < n; i++) {
    for (;;) {
      try {
        await work.dispatch({ n: i }, i % 4 === 0 ? { delay: 50 } : {});
        break;
      } catch {
        await sleep(50); // Redis may still be coming back
      }
    }
  }
  const deadline = Date.now() + 20_000;
  while (done < target) {
    if (Date.now() > deadline) throw new Error(`only ${done} of ${target} tasks completed`);
    await sleep(10);
  }
}

await runner.start();
await round(20);
emit("ready", { done });

if (config.restart) {
  for (;;) {
    try {
      if (Number(await client.exists(`${config.prefix}:restarted`)) === 1) break;
    } catch { /* Redis down */ }
    await sleep(50);
  }
  await round(20);
}

await runner.stop();
await client.close();
emit("closed", { done });
