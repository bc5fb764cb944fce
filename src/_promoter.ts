/**
 * The delayed-task promoter of a runner: moves due delayed tasks (delays and
 * retry backoffs) into the ready queue. Every runner runs one; the transport
 * makes promotion atomic, so no leader is needed.
 *
 * It sleeps until the next task is due, capped so tasks added by other
 * processes are seen within {@linkcode PROMOTE_MAX_SLEEP}, and wakes early
 * when the transport announces a delayed task or the runner dispatches one.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { EngineContext } from "./_context.ts";
import type { Reporter } from "./_report.ts";
import type { MessageQueue } from "./queue.ts";
import { transportBackoff } from "./backoff.ts";

/** Longest sleep of the promoter, in ms (covers tasks added by other processes). */
export const PROMOTE_MAX_SLEEP = 1_000;

/** Promotes due delayed tasks for one runner. */
export class DelayedPromoter {
  #queue: MessageQueue;
  #clock: Clock;
  #reporter: Reporter;
  #timer: unknown = null;
  #wake: (() => void) | null = null;
  #wakeAt = Infinity;
  /** Earliest wake-up asked for while not asleep (a promote call in flight), runner clock. */
  #pendingWake = Infinity;
  /** Transport clock minus runner clock, from the last promote call. */
  #offset = 0;
  #unsubscribe: (() => void) | null = null;

  /**
   * Create an idle promoter.
   *
   * @param ctx The runner (its transport failures are reported).
   */
  constructor(ctx: EngineContext) {
    this.#queue = ctx.queue;
    this.#clock = ctx.clock;
    this.#reporter = ctx.reporter;
  }

  /**
   * Promote until `signal` aborts (then call {@linkcode DelayedPromoter.stop}).
   *
   * @param signal Ends the loop.
   * @returns Resolves when the loop has ended.
   */
  async run(signal: AbortSignal): Promise<void> {
    this.#pendingWake = Infinity;
    if (this.#queue.onDelayedAdded) {
      this.#unsubscribe = this.#queue.onDelayedAdded((dueAt) => this.wakeAt(dueAt - this.#offset));
    }
    let failures = 0;
    while (!signal.aborted) {
      let wait = PROMOTE_MAX_SLEEP;
      try {
        const result = await this.#queue.promote();
        failures = 0;
        this.#offset = result.now - this.#clock.now();
        if (result.nextDueAt !== null) {
          wait = Math.min(Math.max(result.nextDueAt - result.now, 1), PROMOTE_MAX_SLEEP);
        }
      } catch (error) {
        if (signal.aborted) return;
        failures++;
        this.#reporter.transport("promote", error);
        wait = transportBackoff(failures);
      }
      if (signal.aborted) return;
      if (this.#pendingWake !== Infinity) {
        // The promote call may have read the schedule before this task was added.
        const early = this.#pendingWake - this.#clock.now();
        this.#pendingWake = Infinity;
        if (failures === 0 && early < wait) wait = early > 1 ? early : 1;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#wakeAt = this.#clock.now() + wait;
        this.#timer = this.#clock.setTimeout(resolve, wait);
      });
      this.#clearTimer();
      this.#wake = null;
      this.#wakeAt = Infinity;
    }
  }

  /**
   * Make the promoter run no later than `at`.
   *
   * @param at Epoch ms on the runner clock.
   */
  wakeAt(at: number): void {
    const wake = this.#wake;
    if (wake === null) {
      if (at < this.#pendingWake) this.#pendingWake = at;
      return;
    }
    if (at >= this.#wakeAt) return;
    this.#clearTimer();
    const wait = at - this.#clock.now();
    if (wait <= 0) {
      wake();
      return;
    }
    this.#wakeAt = at;
    this.#timer = this.#clock.setTimeout(wake, wait);
  }

  /** End the current sleep and stop listening for announcements (the loop ends once its signal is aborted). */
  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#clearTimer();
    this.#wake?.();
  }

  #clearTimer(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }
}
