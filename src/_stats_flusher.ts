/**
 * A runner's share of the fleet statistics: counts its outcomes in memory,
 * flushes them to the transport every `statsInterval`, builds the fleet-wide
 * snapshot of `runner.stats()`, and calls the long-queue hook.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { ResolvedRunnerConfig } from "./config.ts";
import type { EngineContext } from "./_context.ts";
import type { Logger } from "./logger.ts";
import type { MessageQueue, StatsDelta } from "./queue.ts";
import type { Reporter } from "./_report.ts";
import { buildRunnerStats, type RunnerStats, type StatsCollector, type StatsSample } from "./stats.ts";

/** Collects, flushes and reads the statistics of one runner. */
export class StatsFlusher {
  /** Outcomes counted since the last flush (the runner's collector). */
  readonly collector: StatsCollector;
  #queue: MessageQueue;
  #config: ResolvedRunnerConfig;
  #clock: Clock;
  #logger: Logger;
  #reporter: Reporter;
  #ctx: EngineContext;
  /** The sample the next snapshot's throughput is measured against. */
  #previous: StatsSample | null = null;
  /**
   * Flushes and reads of the stored totals, one at a time: a delta being
   * written is then either still in {@linkcode collector} or already in the
   * store when the totals are read, never both and never neither.
   */
  #serial: Promise<unknown> = Promise.resolve();

  /**
   * Create a flusher of the runner's collector (the long-queue hook is
   * checked only while the runner is running).
   *
   * @param ctx The runner.
   */
  constructor(ctx: EngineContext) {
    this.#ctx = ctx;
    this.#queue = ctx.queue;
    this.#config = ctx.config;
    this.#clock = ctx.clock;
    this.#logger = ctx.logger;
    this.#reporter = ctx.reporter;
    this.collector = ctx.collector;
  }

  /** Forget the throughput sample (on start). */
  reset(): void {
    this.#previous = null;
  }

  /** Run `work` after every flush or totals read before it. */
  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#serial.then(work);
    this.#serial = result.catch(() => {});
    return result;
  }

  /**
   * Fleet-wide totals from the transport plus this runner's counts not
   * flushed yet (read-your-writes for this process).
   */
  #totals(): Promise<StatsDelta> {
    return this.#inTurn(async () => {
      const totals = await this.#queue.readStats();
      this.collector.addTo(totals);
      return totals;
    });
  }

  /**
   * Fleet-wide statistics read from the transport, including what this
   * runner counted since its last flush.
   *
   * @returns A {@linkcode RunnerStats} snapshot.
   * @throws Whatever the transport throws.
   */
  async read(): Promise<RunnerStats> {
    const [counts, totals, instances, paused] = await Promise.all([
      this.#queue.counts(this.#config.consumerGroup),
      this.#totals(),
      this.#queue.instances(),
      this.#queue.isPaused(),
    ]);
    const at = this.#clock.now();
    const previous = this.#previous;
    const { stats, sample } = buildRunnerStats({
      at,
      queue: this.#queue.name,
      group: this.#config.consumerGroup,
      counts,
      totals,
      instances,
      paused,
      numWorkers: this.#config.numWorkers,
      replicationFactor: this.#config.replicationFactor,
      longQueueThreshold: this.#config.longQueueThreshold,
      previous,
    });
    if (previous === null || at - previous.at >= this.#config.statsInterval) this.#previous = sample;
    return stats;
  }

  /**
   * The periodic work: flush, then, while running, call the long-queue hook
   * if the queue is long and no runner of the group called it within
   * `longQueueThreshold`. Failures are reported, never thrown.
   *
   * @returns Resolves when done.
   */
  async tick(): Promise<void> {
    await this.flush();
    const hook = this.#config.longQueueHook;
    if (hook === undefined || !this.#ctx.isRunning()) return;
    let stats: RunnerStats;
    try {
      stats = await this.read();
    } catch (error) {
      this.#reporter.transport("stats", error);
      return;
    }
    if (!stats.longQueue) return;
    let first: boolean;
    try {
      first = await this.#queue.claimOnce(`long-queue:${this.#config.consumerGroup}`, this.#config.longQueueThreshold);
    } catch (error) {
      this.#reporter.transport("claimOnce", error);
      return;
    }
    if (!first) return;
    this.#logger.warn("Queue is long", {
      estimatedDrainTime: stats.estimatedDrainTime,
      longQueueThreshold: stats.longQueueThreshold,
    });
    try {
      await hook(stats);
    } catch (error) {
      this.#reporter.threw("longQueueHook threw", {}, error, "longQueueHook threw");
    }
  }

  /**
   * Send what was counted since the last flush; on failure keep it for the next.
   *
   * @returns Resolves when done (never rejects).
   */
  flush(): Promise<void> {
    if (this.collector.isEmpty) return Promise.resolve();
    return this.#inTurn(async () => {
      if (this.collector.isEmpty) return;
      const delta = this.collector.take();
      try {
        await this.#queue.recordStats(delta);
      } catch (error) {
        this.collector.restore(delta);
        this.#reporter.transport("recordStats", error);
      }
    });
  }
}
