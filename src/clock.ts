/**
 * Time source for the engine and the in-memory queue. Injectable so tests
 * can drive time by hand (see `ManualClock` in `@taskrunner/core/testing`)
 * instead of waiting or mocking globals.
 *
 * @module
 */

/** Opaque handle returned by {@linkcode Clock.setTimeout}. */
export type TimerHandle = unknown;

/** A source of time and timers. All durations are milliseconds. */
export interface Clock {
  /** Current time as Unix epoch milliseconds. */
  now(): number;
  /**
   * Call `fn` once after `ms` milliseconds. Timers created by the library
   * never keep the process alive on their own (unref'd where supported).
   */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancel a timer; a no-op for a timer that already ran. */
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: `Date.now()` and unref'd global timers. */
export const systemClock: Clock = {
  now: (): number => Date.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = globalThis.setTimeout(fn, ms) as unknown;
    unref(handle);
    return handle;
  },
  clearTimeout(handle: TimerHandle): void {
    globalThis.clearTimeout(handle as number);
  },
};

/**
 * Resolve after `ms` on `clock`, or reject with the signal's reason once
 * `signal` aborts.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Let a timer not keep the host process alive (Node, Bun; Deno via number ids). */
export function unref(handle: unknown): void {
  if (typeof handle === "object" && handle !== null && "unref" in handle) {
    (handle as { unref(): void }).unref();
  }
}
