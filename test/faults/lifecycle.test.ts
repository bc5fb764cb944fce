/**
 * Fault matrix row 28: lifecycle abuse. The scenario runs in a child process
 * (`_lifecycle.ts`) so the test can check the process exits on its own once
 * everything is closed: no leaked handle keeps it alive.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { childCommand, figure } from "./_harness.ts";
import { ms } from "./_util.ts";

const here = dirname(fileURLToPath(import.meta.url));

describe("fault 28: lifecycle abuse", () => {
  it("start while Redis is down, a throwing listener, stop twice, stop while Redis is down: all resolve, nothing leaks", async () => {
    const ext = import.meta.url.endsWith(".js") ? ".js" : ".ts";
    const [cmd, args] = childCommand(join(here, `_lifecycle${ext}`));
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: join(here, "..", "..") });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    let closedAt = 0;
    let exitedAt = 0;
    child.stdout.on("data", () => {
      if (!closedAt && out.includes('"step":"closed"')) closedAt = Date.now();
    });
    const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.once("exit", (code, signal) => {
        exitedAt = Date.now();
        clearTimeout(timer);
        resolve({ code, signal });
      });
    });
    const steps = new Map<string, Record<string, unknown>>();
    for (const line of out.split("\n").filter((l) => l.startsWith("{"))) {
      const rec = JSON.parse(line) as Record<string, unknown>;
      steps.set(String(rec.step), rec);
    }
    const context = `\nstdout:\n${out}\nstderr:\n${err.slice(-2000)}`;
    const start = steps.get("start-while-down");
    const listener = steps.get("listener-throws");
    const twice = steps.get("stop-twice");
    const down = steps.get("stop-while-down");
    const closed = steps.get("closed");
    const exitAfterClose = closedAt ? exitedAt - closedAt : NaN;
    figure(
      28,
      `start-after-redis-appears=${ms(Number(start?.startMs))} stop-twice=${ms(Number(twice?.ms))} ` +
        `stop-while-redis-down=${ms(Number(down?.ms))} (grace ${down?.grace}ms) listener-errors-reported=${listener?.listenerErrors} ` +
        `exit-after-close=${exit.signal ? "never (killed)" : ms(exitAfterClose)}`,
    );
    assert.ok(start, `start step missing${context}`);
    assert.equal(start.resolvedBeforeRedis, false, "start() waits for Redis instead of resolving without it");
    assert.equal(start.startError, "", "start() succeeds once Redis appears");
    assert.equal(listener?.completed, 20, `tasks complete although a listener throws${context}`);
    assert.ok(Number(listener?.listenerErrors) >= 1, "a throwing listener is reported as an error event");
    assert.equal(twice?.state, "idle");
    assert.ok(down, `stop-while-down step missing${context}`);
    assert.ok(Number(down.ms) <= 1_000 + 6_000, `stop() while Redis is down took ${down.ms} ms`);
    assert.deepEqual(closed?.uncaught, [], "no uncaught exception or unhandled rejection");
    assert.equal(exit.signal, null, `the process did not exit by itself: a handle leaked${context}`);
    assert.equal(exit.code, 0);
  });
});
