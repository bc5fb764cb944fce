import type { Clock, TimerHandle } from "../src/clock.ts";

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to, for tests that must not wait in real
 * time. Timers fire in due order during {@linkcode ManualClock.advance}.
 *
 * @example Drive a runner's timers by hand
 * ```ts
 * const clock = new ManualClock(Date.UTC(2026, 0, 1));
 * const queue = new MemoryQueue({ clock });
 * await clock.advance(30_000); // 30 s pass at once
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #timers: Timer[] = [];
  #nextId = 1;

  /**
   * Create a clock stopped at `start`.
   *
   * @param start Initial time, epoch milliseconds. @default 1_767_225_600_000
   */
  constructor(start: number = 1_767_225_600_000) {
    this.#now = start;
  }

  /** Current manual time, epoch milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Schedule `fn` at now + `ms` of manual time. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn };
    this.#timers.push(timer);
    return timer.id;
  }

  /** Cancel a timer. */
  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }

  /** Number of timers not yet fired. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /**
   * Move time forward by `ms`, firing every timer due on the way in order,
   * and letting promise callbacks run between them (so code awaiting a timer
   * can schedule the next one before time moves on).
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flush();
    for (;;) {
      const due = this.#timers
        .filter((t) => t.at <= target)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
      await flush();
    }
    this.#now = target;
    await flush();
  }
}

/** Let pending promise callbacks and I/O-free macrotasks run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise<void>((resolve) => globalThis.setTimeout(resolve, 0));
  }
}
