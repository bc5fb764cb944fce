/**
 * Row 28 (lifecycle abuse), run as a child process so that "no leaked
 * handles" can be checked the only honest way: the process must exit on its
 * own once everything is stopped and closed. Writes one JSON line per step.
 *
 * Steps: start a runner while Redis is down and let Redis appear; run tasks
 * with an event listener that throws; stop twice at once and once more;
 * start again and stop while Redis is down; close everything.
 *
 * @module
 */
import { writeSync } from "node:fs";
import { createClient } from "@redis/client";
import { TaskRunner } from "../../mod.ts";
import { RedisStreamQueue } from "../../adapters/redis/mod.ts";
import { freePort, startRedis } from "../_redis.ts";

function emit(record: Record<string, unknown>): void {
  writeSync(1, JSON.stringify(record) + "\n");
}

const uncaught: string[] = [];
process.on("uncaughtException", (e) => uncaught.push(`uncaughtException ${String(e)}`));
process.on("unhandledRejection", (e) => uncaught.push(`unhandledRejection ${String(e)}`));

const GRACE = 1_000;
const port = await freePort();
const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: () => 50 } });
client.on("error", () => {/* refused until Redis appears */});
const connecting = client.connect();
const queue = new RedisStreamQueue(client as never, { prefix: "lifecycle", queue: "q" });
const runner = new TaskRunner(queue, { consumerGroup: "g", numWorkers: 2, shutdownTimeout: GRACE });
const done = new Set<number>();
const task = runner.registerTask({
  name: "work",
  reservationTimeout: 400,
  maxRetry: 0,
  action: (payload: { i: number }) => {
    done.add(payload.i);
  },
});
const errors: string[] = [];
runner.on("error", (e) => errors.push(e.message));
runner.on("completed", () => {
  throw new Error("a listener that throws");
});

// 1. start() while Redis is down; Redis appears 500 ms later.
const starting = runner.start();
let startSettled = false;
starting.then(() => (startSettled = true), () => (startSettled = true));
await new Promise((r) => setTimeout(r, 500));
const startedEarly = startSettled;
const redis = await startRedis({ port });
const appeared = Date.now();
let startError = "";
await starting.catch((e) => (startError = String(e)));
emit({ step: "start-while-down", resolvedBeforeRedis: startedEarly, startMs: Date.now() - appeared, startError });
await connecting.catch(() => {});

// 2. Tasks run although a listener throws.
for (let i = 0; i < 20; i++) await task.dispatch({ i });
const deadline = Date.now() + 10_000;
while (done.size < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
emit({ step: "listener-throws", completed: done.size, listenerErrors: errors.filter((m) => /listener/i.test(m)).length });

// 3. stop() twice at once, then once more.
let t = Date.now();
await Promise.all([runner.stop(), runner.stop()]);
await runner.stop();
emit({ step: "stop-twice", ms: Date.now() - t, state: runner.state });

// 4. Start again, then stop while Redis is down.
if (runner.state === "idle") {
  await runner.start();
  await redis.kill("SIGKILL");
  t = Date.now();
  await runner.stop();
  emit({ step: "stop-while-down", ms: Date.now() - t, grace: GRACE });
}

// 5. Close what we opened; the process must now exit by itself.
t = Date.now();
await queue.close();
emit({ step: "queue-closed-while-down", ms: Date.now() - t });
client.destroy();
await redis.stop();
emit({ step: "closed", uncaught });
