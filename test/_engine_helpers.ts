import { afterEach } from "node:test";
import { MemoryQueue } from "../adapters/memory/mod.ts";
import { type RunnerConfig, TaskRunner } from "../mod.ts";
import type { MessageQueue } from "../src/queue.ts";
import { ManualClock } from "../testing/manual_clock.ts";

/** A runner on a fresh MemoryQueue, both on one ManualClock. */
export interface EngineFixture {
  clock: ManualClock;
  queue: MemoryQueue;
  runner: TaskRunner;
  /** The transport the runner sees (a spy around `queue` when asked for). */
  transport: MessageQueue;
  calls: CallLog;
}

/** Calls made to a spied transport: method name → list of first arguments' sizes or args. */
export type CallLog = Record<string, unknown[][]>;

/**
 * Wrap a transport so every call is recorded (method → argument lists) and
 * selected methods can be replaced.
 */
export function spy(
  queue: MessageQueue,
  overrides: Partial<Record<keyof MessageQueue, (...args: never[]) => unknown>> = {},
): { transport: MessageQueue; calls: CallLog } {
  const calls: CallLog = {};
  const transport = new Proxy(queue, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      const override = typeof key === "string"
        ? overrides[key as keyof MessageQueue] as ((...args: unknown[]) => unknown) | undefined
        : undefined;
      if ((typeof value !== "function" && !override) || typeof key !== "string") return value;
      return (...args: unknown[]) => {
        (calls[key] ??= []).push(args);
        if (override) return override(...args);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { transport, calls };
}

/** Build a runner on a MemoryQueue with a ManualClock (and a spy when overrides are given). */
export function engine(
  config: RunnerConfig = {},
  overrides: Partial<Record<keyof MessageQueue, (...args: never[]) => unknown>> = {},
  shared?: { clock: ManualClock; queue: MemoryQueue },
): EngineFixture {
  const clock = shared?.clock ?? new ManualClock();
  const queue = shared?.queue ?? new MemoryQueue({ clock });
  const { transport, calls } = spy(queue, overrides);
  const runner = new TaskRunner(transport, { clock, consumerGroup: "test", shutdownTimeout: 1_000, ...config });
  return { clock, queue, runner, transport, calls };
}

/** Let promise callbacks and zero-delay timers run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Wait (in real time, a few ms at most) until `condition` holds. */
export async function until(condition: () => boolean, what: string, rounds = 400): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (condition()) return;
    await tick();
  }
  throw new Error(`Timed out waiting for: ${what}`);
}

/** A promise with its resolve function exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A promise that never settles. */
export function forever(): Promise<never> {
  return new Promise<never>(() => {});
}

/**
 * Stop runners whose clock is manual: keep time moving until each stop()
 * resolves (grace periods and final flushes wait on the runner clock).
 */
export async function stopAll(fixtures: readonly EngineFixture[]): Promise<void> {
  await Promise.all(fixtures.map(async (f) => {
    let done = false;
    const stopping = f.runner.stop().then(() => (done = true));
    for (let i = 0; i < 100 && !done; i++) {
      await tick();
      if (!done) await f.clock.advance(500);
    }
    await stopping;
  }));
}

/**
 * A `setup` for one test file: each call builds an engine fixture, and every
 * fixture built during a test is stopped after it.
 */
export function engineSetup(): (...args: Parameters<typeof engine>) => EngineFixture {
  let running: EngineFixture[] = [];
  afterEach(async () => {
    await stopAll(running);
    running = [];
  });
  return (...args) => {
    const f = engine(...args);
    running.push(f);
    return f;
  };
}
