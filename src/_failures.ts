/**
 * What becomes of a run that failed, or of a delivery that cannot run: a
 * retry after its backoff, or a dead letter and the `failedTaskHandler`
 * call. A transport failure on the way leaves the delivery for reclaim.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { ResolvedRunnerConfig, ResolvedTask } from "./config.ts";
import { TaskRunnerError, UnknownTaskError } from "./errors.ts";
import type { Emitter, RunnerEvents } from "./events.ts";
import type { Execution } from "./_execution.ts";
import type { Logger } from "./logger.ts";
import type { DelayedPromoter } from "./_promoter.ts";
import type { DeadLetterReason, MessageQueue } from "./queue.ts";
import { failureOf, isUnrecoverable, type Reporter } from "./_report.ts";
import type { Reservations } from "./_reservations.ts";
import { computeBackoff, DEFAULT_BACKOFF } from "./retry.ts";
import type { StatsCollector } from "./stats.ts";

/** Retries and dead letters of one runner. */
export class Failures {
  /** failedTaskHandler calls in progress (waited for within the grace period). */
  readonly handlerCalls: Set<Promise<void>> = new Set();
  #queue: MessageQueue;
  #config: ResolvedRunnerConfig;
  #clock: Clock;
  #logger: Logger;
  #reporter: Reporter;
  #emitter: Emitter<RunnerEvents>;
  #collector: StatsCollector;
  #reservations: Reservations;
  #promoter: DelayedPromoter;
  #finalize: (execution: Execution) => void;

  /**
   * Create the failure path.
   *
   * @param queue The transport.
   * @param config The runner's resolved options.
   * @param reporter Where failures and events go.
   * @param collector Counts failed, retried and dead tasks.
   * @param reservations The held deliveries (refusals mean lost reservations).
   * @param promoter Woken when a retry is scheduled.
   * @param finalize Called when the runner is done with a delivery (settled, or given up for reclaim).
   */
  constructor(
    queue: MessageQueue,
    config: ResolvedRunnerConfig,
    reporter: Reporter,
    collector: StatsCollector,
    reservations: Reservations,
    promoter: DelayedPromoter,
    finalize: (execution: Execution) => void,
  ) {
    this.#queue = queue;
    this.#config = config;
    this.#clock = config.clock;
    this.#logger = config.logger;
    this.#reporter = reporter;
    this.#emitter = reporter.emitter;
    this.#collector = collector;
    this.#reservations = reservations;
    this.#promoter = promoter;
    this.#finalize = finalize;
  }

  /**
   * A run failed: count it, emit `failed`, then retry it after its backoff,
   * or dead-letter it when it is unrecoverable or out of retries.
   *
   * @param execution The failed run.
   * @param spec Its task.
   * @param error What the action threw (or the timeout).
   * @param payload The decoded payload (for the failed-task handler).
   * @returns Resolves once the delivery is settled and any handler call is done.
   */
  async failed(execution: Execution, spec: ResolvedTask, error: unknown, payload: unknown): Promise<void> {
    const d = execution.delivery;
    this.#collector.failed(d.name);
    if (this.#emitter.has("failed")) {
      this.#emitter.emit("failed", { id: d.id, name: d.name, attempt: d.attempt, error });
    }
    if (isUnrecoverable(error)) {
      return await this.deadLetter(execution, "unrecoverable", error, payload);
    }
    if (d.attempt >= spec.maxRetry) {
      return await this.deadLetter(execution, "max-retries", error, payload);
    }
    let delay: number;
    try {
      delay = computeBackoff(spec.backoff, d.attempt + 1, error);
    } catch (backoffError) {
      this.#reporter.report(new TaskRunnerError(`Backoff of task '${d.name}' threw; using the default`, { cause: backoffError }));
      delay = computeBackoff(DEFAULT_BACKOFF, d.attempt + 1, error);
    }
    await this.#retry(execution, delay, error);
  }

  /**
   * A task whose name is not registered here: retry it with the runner's
   * backoff (another instance may know it), then dead-letter it.
   *
   * @param execution The delivery.
   * @returns Resolves once the delivery is settled.
   */
  async unknownTask(execution: Execution): Promise<void> {
    const d = execution.delivery;
    const error = new UnknownTaskError(d.name);
    if (d.attempt >= this.#config.unknownTaskMaxRetry) {
      return await this.deadLetter(execution, "unknown-task", error, undefined);
    }
    this.#logger.warn("Received a task whose name is not registered here; retrying later", {
      id: d.id,
      name: d.name,
      attempt: d.attempt,
    });
    await this.#retry(execution, computeBackoff(this.#config.backoff, d.attempt + 1, error), error);
  }

  async #retry(execution: Execution, delay: number, error: unknown): Promise<void> {
    const d = execution.delivery;
    let ok: boolean;
    try {
      ok = await this.#queue.retry(execution.fetcher.consumer, d, delay);
    } catch (transportError) {
      this.#reporter.transport("retry", transportError);
      return this.#finalize(execution);
    }
    if (ok) {
      this.#collector.retried(d.name);
      if (delay > 0) this.#promoter.wakeAt(this.#clock.now() + delay);
      if (this.#emitter.has("retrying")) {
        this.#emitter.emit("retrying", { id: d.id, name: d.name, attempt: d.attempt + 1, delay, error });
      }
    } else {
      this.#reservations.markLost(execution, "refused");
    }
    this.#finalize(execution);
  }

  /**
   * Dead-letter a delivery, then call the failed-task handler (once, by the
   * runner whose dead-letter call the transport accepted).
   *
   * @param execution The delivery.
   * @param reason Why.
   * @param error The last error.
   * @param payload The decoded payload, if any.
   * @returns Resolves once settled and the handler call is done.
   */
  async deadLetter(
    execution: Execution,
    reason: DeadLetterReason,
    error: unknown,
    payload: unknown,
  ): Promise<void> {
    const d = execution.delivery;
    const failure = failureOf(error);
    /** The new dead letter's id; false when refused. */
    let ok: string | false;
    try {
      ok = await this.#queue.deadLetter(execution.fetcher.consumer, d, reason, failure);
    } catch (transportError) {
      this.#reporter.transport("deadLetter", transportError);
      return this.#finalize(execution);
    }
    if (!ok) {
      this.#reservations.markLost(execution, "refused");
      return this.#finalize(execution);
    }
    this.#collector.dead(d.name === "" ? "(malformed)" : d.name);
    this.#logger.warn("Task dead-lettered", { id: d.id, name: d.name, reason, error: failure.message });
    const attempt = d.attempt + 1;
    if (this.#emitter.has("dead")) {
      this.#emitter.emit("dead", { id: d.id, name: d.name, attempt, reason, error, failure });
    }
    // The delivery is settled; the handler is user code, bounded by the shutdown grace period.
    this.#finalize(execution);
    const handler = this.#config.failedTaskHandler;
    if (handler === undefined) return;
    const call = (async () => {
      try {
        await handler({ id: d.id, name: d.name, payload, body: d.body, attempt, reason, failure }, error);
      } catch (handlerError) {
        this.#reporter.threw(
          "failedTaskHandler threw",
          { id: d.id, name: d.name },
          handlerError,
          `failedTaskHandler threw for task ${d.id}`,
        );
      }
    })();
    this.handlerCalls.add(call);
    await call;
    this.handlerCalls.delete(call);
  }
}
