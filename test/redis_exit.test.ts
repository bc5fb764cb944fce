/**
 * A worker process written as the README's usage (`runner.stop()` then the
 * user's `client.close()`, never `queue.close()` nor `process.exit()`) exits
 * by itself: nothing the queue opened for consuming outlives the runner's
 * stop, also when Redis was killed and restarted while the runner ran.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { redisCli, type RedisServer, startRedis } from "./_redis.ts";
import { onLines } from "./_lines.ts";

const ext = import.meta.url.endsWith(".js") ? ".js" : ".ts";
const workerScript = fileURLToPath(new URL(`./_workers/exit_worker${ext}`, import.meta.url));
/** The runtime running this test runs the worker too. */
const runtimeArgs: string[] = (globalThis as { Deno?: unknown }).Deno ? ["run", "-A"] : [];

/** How long a worker may take to exit after its client closed, in ms. */
const EXIT_WITHIN = 5_000;

interface Run {
  child: ChildProcess;
  events: string[];
  /** Resolves with the event once the worker printed it. */
  seen(ev: string, timeout: number): Promise<void>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

function runWorker(config: { url: string; prefix: string; restart: boolean }): Run {
  const child = spawn(process.execPath, [...runtimeArgs, workerScript], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, TR_EXIT: JSON.stringify(config) },
  });
  const events: string[] = [];
  const waiters: (() => void)[] = [];
  onLines(child.stdout!, (line) => {
    if (line.startsWith("{")) events.push((JSON.parse(line) as { ev: string }).ev);
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const seen = (ev: string, timeout: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not report '${ev}' within ${timeout} ms`)), timeout);
      const check = (): void => {
        if (events.includes(ev)) {
          clearTimeout(timer);
          resolve();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`worker exited (${child.exitCode ?? child.signalCode}) before '${ev}'`));
        } else {
          waiters.push(check);
        }
      };
      exited.then(() => setTimeout(check, 0));
      check();
    });
  return { child, events, seen, exited };
}

/** Whether the worker exits within `ms`; it is SIGKILLed if not. */
async function exitsWithin(run: Run, ms: number): Promise<{ exited: boolean; code: number | null }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), ms)));
  const outcome = await Promise.race([run.exited, late]);
  clearTimeout(timer);
  if (outcome === "late") {
    run.child.kill("SIGKILL");
    await run.exited;
    return { exited: false, code: null };
  }
  return { exited: true, code: outcome };
}

describe("a Redis worker process after runner.stop() and client.close()", () => {
  let server: RedisServer;
  const runs: Run[] = [];

  before(async () => {
    server = await startRedis();
  });

  after(async () => {
    for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
    await Promise.all(runs.map((r) => r.exited));
    await server?.stop();
  });

  it("exits by itself", { timeout: 60_000 }, async () => {
    const run = runWorker({ url: server.url, prefix: `exit${process.pid}a`, restart: false });
    runs.push(run);
    await run.seen("closed", 40_000);
    const { exited, code } = await exitsWithin(run, EXIT_WITHIN);
    assert.ok(exited, `the worker was still alive ${EXIT_WITHIN} ms after closing its client`);
    assert.equal(code, 0);
  });

  it("exits by itself after Redis was killed and restarted while it ran", { timeout: 90_000 }, async () => {
    const prefix = `exit${process.pid}b`;
    const run = runWorker({ url: server.url, prefix, restart: true });
    runs.push(run);
    await run.seen("ready", 40_000);
    server.kill("SIGKILL");
    // Down long enough for every connection to see it and start reconnecting.
    await new Promise((r) => setTimeout(r, 500));
    await server.restart();
    redisCli(server, "SET", `${prefix}:restarted`, "1");
    await run.seen("closed", 60_000);
    const { exited, code } = await exitsWithin(run, EXIT_WITHIN);
    assert.ok(exited, `the worker was still alive ${EXIT_WITHIN} ms after closing its client`);
    assert.equal(code, 0);
  });
});
