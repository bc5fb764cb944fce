/**
 * Acknowledging completed runs: each fetch loop's consumer has at most one
 * ack call in flight, and the next call carries every run completed
 * meanwhile. A completion counts (stats, `completed` event) only once the
 * transport accepted its ack.
 *
 * @module
 */

import { type Clock, sleep } from "./clock.ts";
import type { Emitter, RunnerEvents } from "./events.ts";
import type { Execution, Fetcher } from "./_execution.ts";
import type { Reporter } from "./_report.ts";
import type { Reservations } from "./_reservations.ts";
import type { Delivery, MessageQueue } from "./queue.ts";
import { transportBackoff } from "./backoff.ts";
import type { StatsCollector } from "./stats.ts";

/** Batches the acks of one runner's completed runs. */
export class AckBatcher {
  #queue: MessageQueue;
  #clock: Clock;
  #reporter: Reporter;
  #emitter: Emitter<RunnerEvents>;
  #collector: StatsCollector;
  #reservations: Reservations;
  #isRunning: () => boolean;
  #finalize: (execution: Execution) => void;

  /**
   * Create a batcher.
   *
   * @param queue The transport.
   * @param clock The runner clock.
   * @param reporter Where failures and `completed` events go.
   * @param collector Counts the completions.
   * @param reservations The held deliveries (refused acks mean lost reservations).
   * @param isRunning Whether the runner is running (acks failing while stopping are given up).
   * @param finalize Called when the runner is done with an execution.
   */
  constructor(
    queue: MessageQueue,
    clock: Clock,
    reporter: Reporter,
    collector: StatsCollector,
    reservations: Reservations,
    isRunning: () => boolean,
    finalize: (execution: Execution) => void,
  ) {
    this.#queue = queue;
    this.#clock = clock;
    this.#reporter = reporter;
    this.#emitter = reporter.emitter;
    this.#collector = collector;
    this.#reservations = reservations;
    this.#isRunning = isRunning;
    this.#finalize = finalize;
  }

  /**
   * Ack a completed run with the next call of its consumer.
   *
   * @param execution The completed run (its `runTime` and `waitTime` set).
   */
  add(execution: Execution): void {
    const fetcher = execution.fetcher;
    execution.queueForAck();
    fetcher.acks.push(execution);
    if (!fetcher.ackInFlight) void this.#flush(fetcher);
  }

  /** One ack call in flight per consumer; the next carries everything completed meanwhile. */
  async #flush(fetcher: Fetcher): Promise<void> {
    fetcher.ackInFlight = true;
    try {
      while (fetcher.acks.length > 0) {
        const batch = fetcher.acks;
        fetcher.acks = [];
        const refs = new Array<Delivery>(batch.length);
        for (let i = 0; i < batch.length; i++) refs[i] = batch[i].delivery;
        let results: boolean[];
        fetcher.ackSentAt = this.#clock.now();
        try {
          results = await this.#queue.ack(fetcher.consumer, refs);
          fetcher.ackFailures = 0;
        } catch (error) {
          this.#reporter.transport("ack", error);
          if (!this.#isRunning()) {
            // Shutting down: give them up for reclaim (they run again elsewhere).
            for (const execution of batch) this.#finalize(execution);
            continue;
          }
          fetcher.acks = batch.concat(fetcher.acks);
          fetcher.ackFailures++;
          // Short waits: completed tasks must be acked before their reservations lapse.
          await sleep(this.#clock, transportBackoff(fetcher.ackFailures, this.#reservations.shortestHeldPeriod()));
          continue;
        }
        const listening = this.#emitter.has("completed");
        for (let i = 0; i < batch.length; i++) {
          const execution = batch[i];
          const d = execution.delivery;
          if (!results[i] && d !== refs[i] && !execution.lost) {
            // Refused for a delivery count this runner has since replaced by
            // reclaiming the task from itself: ack the fresh delivery.
            fetcher.acks.push(execution);
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
      fetcher.ackInFlight = false;
    }
  }
}
