/**
 * Carries out what `retry_policy.ts` decides for a run that failed, or a
 * delivery that cannot run: a retry after its backoff, or a dead letter and
 * the `failedTaskHandler` call. A transport failure on the way leaves the
 * delivery for reclaim.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { EngineContext } from "./_context.ts";
import { decodePayload } from "./codec.ts";
import type { ResolvedRunnerConfig } from "./config.ts";
import { TaskRunnerError, UnknownTaskError } from "./errors.ts";
import type { Emitter, RunnerEvents } from "./events.ts";
import type { Execution } from "./_execution.ts";
import type { Logger } from "./logger.ts";
import type { DelayedPromoter } from "./_promoter.ts";
import type { Consumer, DeadLetter, DeadLetterReason, MessageQueue } from "./queue.ts";
import { failureOf, type Reporter } from "./_report.ts";
import type { Reservations } from "./_reservations.ts";
import { nextStep } from "./retry_policy.ts";
import { handlerCompletionDelay, handlerLease } from "./_timing.ts";
import type { StatsCollector } from "./stats.ts";
import type { FailedTask, ResolvedTask } from "./task.ts";

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
  #registry: Map<string, ResolvedTask>;
  #finalize: (execution: Execution) => void;

  /**
   * Create the failure path.
   *
   * @param ctx The runner (its registry gives the leases of handler calls taken over).
   * @param reservations The held deliveries (refusals mean lost reservations).
   * @param promoter Woken when a retry is scheduled.
   * @param finalize Called when the runner is done with a delivery (settled, or given up for reclaim).
   */
  constructor(
    ctx: EngineContext,
    reservations: Reservations,
    promoter: DelayedPromoter,
    finalize: (execution: Execution) => void,
  ) {
    this.#queue = ctx.queue;
    this.#config = ctx.config;
    this.#clock = ctx.clock;
    this.#logger = ctx.logger;
    this.#reporter = ctx.reporter;
    this.#emitter = ctx.reporter.emitter;
    this.#collector = ctx.collector;
    this.#reservations = reservations;
    this.#promoter = promoter;
    this.#registry = ctx.registry;
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
    const step = nextStep(d, spec, error, this.#config, (backoffError) => {
      this.#reporter.report(new TaskRunnerError(`Backoff of task '${d.name}' threw; using the default`, { cause: backoffError }));
    });
    if (step.kind === "dead") return await this.deadLetter(execution, step.reason, error, payload);
    await this.#retry(execution, step.delay, error);
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
    const step = nextStep(d, undefined, error, this.#config);
    if (step.kind === "dead") return await this.deadLetter(execution, step.reason, error, undefined);
    this.#logger.warn("Received a task whose name is not registered here; retrying later", {
      id: d.id,
      name: d.name,
      attempt: d.attempt,
    });
    await this.#retry(execution, step.delay, error);
  }

  async #retry(execution: Execution, delay: number, error: unknown): Promise<void> {
    const d = execution.delivery;
    let ok: boolean;
    try {
      ok = await this.#queue.retry(execution.consumer, d, delay);
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
   * runner whose dead-letter call the transport accepted). With a handler,
   * the dead letter carries a pending handler call leased to this runner,
   * completed once the handler has run: if this runner dies first, another
   * one takes the call over (see {@linkcode Failures.takeOverHandlers}).
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
    const handler = this.#config.failedTaskHandler;
    const lease = handler === undefined ? 0 : handlerLease(d.reservationTimeout);
    /** The new dead letter's id; false when refused. */
    let deadLetterId: string | false;
    try {
      deadLetterId = await this.#queue.deadLetter(execution.consumer, d, reason, failure, { handlerLease: lease });
    } catch (transportError) {
      this.#reporter.transport("deadLetter", transportError);
      return this.#finalize(execution);
    }
    if (!deadLetterId) {
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
    if (handler === undefined) return;
    const task: FailedTask = { id: d.id, name: d.name, payload, body: d.body, attempt, reason, failure };
    await this.#callHandler(deadLetterId, lease, task, error);
  }

  /**
   * Take over failed-task handler calls whose runner died before completing
   * them (their lease expired), and run them like this runner's own. Calls
   * run concurrently, at most `max(numWorkers, batchSize)` at a time on this
   * runner, counting its own.
   *
   * @param consumer The consumer the calls are leased to.
   * @returns Resolves once the calls are claimed and started.
   */
  async takeOverHandlers(consumer: Consumer): Promise<void> {
    if (this.#config.failedTaskHandler === undefined) return;
    const room = Math.max(this.#config.numWorkers, this.#config.batchSize) - this.handlerCalls.size;
    if (room <= 0) return;
    let letters: DeadLetter[];
    try {
      letters = await this.#queue.claimFailedHandlers(consumer, {
        lease: handlerLease(this.#config.reservationTimeout),
        count: Math.min(room, this.#config.batchSize),
      });
    } catch (transportError) {
      this.#reporter.transport("claimFailedHandlers", transportError);
      return;
    }
    for (const letter of letters) {
      const lease = handlerLease(this.#registry.get(letter.name)?.reservationTimeout ?? this.#config.reservationTimeout);
      this.#logger.warn("Calling the failed-task handler of a dead letter whose runner stopped before calling it", {
        id: letter.id,
        name: letter.name,
        deadLetterId: letter.deadLetterId,
      });
      const decoded = letter.reason === "malformed" || letter.reason === "invalid-payload"
        ? undefined
        : decodePayload(letter.body, this.#config.maxPayloadBytes);
      const task: FailedTask = {
        id: letter.id,
        name: letter.name,
        payload: decoded?.ok ? decoded.value : undefined,
        body: letter.body,
        attempt: letter.attempt,
        reason: letter.reason,
        failure: letter.error,
      };
      void this.#callHandler(letter.deadLetterId, lease, task, errorOf(letter));
    }
  }

  /**
   * Call the handler, then complete its pending call. A handler still
   * running at half the lease has its call completed then, so no runner
   * starts it a second time while this one lives; only a call cut short by
   * the death of this runner within that half is made again elsewhere.
   */
  async #callHandler(deadLetterId: string, lease: number, task: FailedTask, error: unknown): Promise<void> {
    const handler = this.#config.failedTaskHandler!;
    let completing: Promise<void> | null = null;
    const complete = (): Promise<void> => {
      completing ??= this.#queue.completeFailedHandler(deadLetterId).catch((transportError) => {
        this.#reporter.transport("completeFailedHandler", transportError);
      });
      return completing;
    };
    const call = (async () => {
      const timer = this.#clock.setTimeout(() => void complete(), handlerCompletionDelay(lease));
      try {
        await handler(task, error);
      } catch (handlerError) {
        this.#reporter.threw(
          "failedTaskHandler threw",
          { id: task.id, name: task.name },
          handlerError,
          `failedTaskHandler threw for task ${task.id}`,
        );
      } finally {
        this.#clock.clearTimeout(timer);
      }
      await complete();
    })();
    this.handlerCalls.add(call);
    await call;
    this.handlerCalls.delete(call);
  }
}

/** The error given to a handler taken over: rebuilt from the recorded failure. */
function errorOf(letter: DeadLetter): Error {
  const error = new Error(letter.error.message);
  error.name = letter.error.name;
  if (letter.error.stack !== undefined) error.stack = letter.error.stack;
  return error;
}
