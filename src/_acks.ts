/**
 * Acknowledging completed runs: each fetch loop's consumer has at most one
 * ack call in flight, and the next call carries every run completed
 * meanwhile. A completion counts (stats, `completed` event) only once the
 * transport accepted its ack.
 *
 * @module
 */

import { type Clock, sleep } from "./clock.ts";
import type { EngineContext } from "./_context.ts";
import type { Emitter, RunnerEvents } from "./events.ts";
import type { Execution } from "./_execution.ts";
import type { Reporter } from "./_report.ts";
import type { Reservations } from "./_reservations.ts";
import type { Consumer, Delivery, MessageQueue } from "./queue.ts";
import { transportBackoff } from "./backoff.ts";
import type { StatsCollector } from "./stats.ts";
import { MIN_STALL_PERIOD } from "./_timing.ts";

/** The acks of one consumer. */
interface ConsumerAcks {
  /** Completed runs waiting for the next ack call. */
  pending: Execution[];
  /** An ack call is in flight. */
  inFlight: boolean;
  /** When the ack call in flight was sent (runner clock). */
  sentAt: number;
  /** Ack calls failed in a row. */
  failures: number;
}

/** Batches the acks of one runner's completed runs, per consumer. */
export class AckBatcher {
  #queue: MessageQueue;
  #clock: Clock;
  #reporter: Reporter;
  #emitter: Emitter<RunnerEvents>;
  #collector: StatsCollector;
  #reservations: Reservations;
  #ctx: EngineContext;
  #finalize: (execution: Execution) => void;
  /** Each consumer's acks (created by its first ack). */
  #byConsumer: Map<Consumer, ConsumerAcks> = new Map();

  /**
   * Create a batcher.
   *
   * @param ctx The runner (acks failing while it is not running are given up).
   * @param reservations The held deliveries (refused acks mean lost reservations).
   * @param finalize Called when the runner is done with an execution.
   */
  constructor(ctx: EngineContext, reservations: Reservations, finalize: (execution: Execution) => void) {
    this.#ctx = ctx;
    this.#queue = ctx.queue;
    this.#clock = ctx.clock;
    this.#reporter = ctx.reporter;
    this.#emitter = ctx.reporter.emitter;
    this.#collector = ctx.collector;
    this.#reservations = reservations;
    this.#finalize = finalize;
  }

  /**
   * Ack a completed run with the next call of its consumer.
   *
   * @param execution The completed run (its `runTime` and `waitTime` set).
   */
  add(execution: Execution): void {
    let acks = this.#byConsumer.get(execution.consumer);
    if (acks === undefined) {
      acks = { pending: [], inFlight: false, sentAt: 0, failures: 0 };
      this.#byConsumer.set(execution.consumer, acks);
    }
    execution.queueForAck();
    acks.pending.push(execution);
    if (!acks.inFlight) void this.#flush(execution.consumer, acks);
  }

  /**
   * How long a fetch loop should hold off fetching because its consumer's
   * acks are failing, or stuck longer than the stall period.
   *
   * @param consumer The fetch loop's consumer.
   * @returns The wait in ms (0: healthy).
   */
  stalledFor(consumer: Consumer): number {
    const acks = this.#byConsumer.get(consumer);
    if (acks === undefined) return 0;
    if (acks.failures > 0) return this.#reservations.shortestHeldPeriod();
    if (!acks.inFlight) return 0;
    const age = this.#clock.now() - acks.sentAt;
    // The usual case, a call out for a few ms, costs no scan of the held set.
    if (age <= MIN_STALL_PERIOD) return 0;
    const period = this.#reservations.shortestHeldPeriod();
    return age > period ? period : 0;
  }

  /** Forget every consumer's acks (once the runner stopped). */
  clear(): void {
    this.#byConsumer.clear();
  }

  /** One ack call in flight per consumer; the next carries everything completed meanwhile. */
  async #flush(consumer: Consumer, acks: ConsumerAcks): Promise<void> {
    acks.inFlight = true;
    try {
      while (acks.pending.length > 0) {
        const batch = acks.pending;
        acks.pending = [];
        const refs = new Array<Delivery>(batch.length);
        for (let i = 0; i < batch.length; i++) refs[i] = batch[i].delivery;
        let results: boolean[];
        acks.sentAt = this.#clock.now();
        try {
          results = await this.#queue.ack(consumer, refs);
          acks.failures = 0;
        } catch (error) {
          this.#reporter.transport("ack", error);
          if (!this.#ctx.isRunning()) {
            // Shutting down: give them up for reclaim (they run again elsewhere).
            for (const execution of batch) this.#finalize(execution);
            continue;
          }
          acks.pending = batch.concat(acks.pending);
          acks.failures++;
          // Short waits: completed tasks must be acked before their reservations lapse.
          await sleep(this.#clock, transportBackoff(acks.failures, this.#reservations.shortestHeldPeriod()));
          continue;
        }
        const listening = this.#emitter.has("completed");
        for (let i = 0; i < batch.length; i++) {
          const execution = batch[i];
          const d = execution.delivery;
          if (!results[i] && d !== refs[i] && !execution.lost) {
            // Refused for a delivery count this runner has since replaced by
            // reclaiming the task from itself: ack the fresh delivery.
            acks.pending.push(execution);
            continue;
          }
          execution.ackSettled();
          if (results[i]) {
            this.#collector.completed(d.name, execution.runTime, execution.waitTime);
            if (listening) {
              this.#emitter.emit("completed", {
                id: d.id,
                name: d.name,
                attempt: d.attempt,
                runTime: execution.runTime,
                waitTime: execution.waitTime,
              });
            }
          } else if (!execution.lost) {
            this.#reservations.markLost(execution, "refused");
          }
          this.#finalize(execution);
        }
      }
    } finally {
      acks.inFlight = false;
    }
  }
}
