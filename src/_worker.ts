/**
 * The worker slots of a runner and the run of one delivery: refusing what
 * cannot run (malformed, poison, invalid payload), the action with its
 * timeout, and its outcome: an ack, or the failure path (retry or dead
 * letter, in `_failures.ts`).
 *
 * Synchronous from the delivery to the action, so a synchronous action
 * completes without a promise.
 *
 * @module
 */

import type { AckBatcher } from "./_acks.ts";
import type { Clock } from "./clock.ts";
import { decodePayload } from "./codec.ts";
import type { ResolvedRunnerConfig } from "./config.ts";
import type { EngineContext } from "./_context.ts";
import {
  PayloadValidationError,
  type ShutdownError,
  TaskRunnerError,
  TaskTimeoutError,
} from "./errors.ts";
import { Execution } from "./_execution.ts";
import type { Failures } from "./_failures.ts";
import { type Gate, newGate, openGate } from "./_gate.ts";
import type { Consumer, DeadLetterReason, Delivery } from "./queue.ts";
import type { Reporter } from "./_report.ts";
import type { Reservations } from "./_reservations.ts";
import { refusal } from "./retry_policy.ts";
import { type ResolvedTask, validateWithSchema } from "./task.ts";

const NO_ERROR: unique symbol = Symbol("no error");
const TIMED_OUT: unique symbol = Symbol("timed out");

/** The worker slots of one runner, and the executions it runs. */
export class Workers {
  /** Worker slots taken by running actions. */
  #busy = 0;
  /** Slots set aside for receive calls in flight. */
  #reserved = 0;
  /** Actions in progress. */
  readonly running: Set<Execution> = new Set();
  /** Incremented by every start(): work of an earlier run never touches the counters of a later one. */
  #epoch = 0;

  #config: ResolvedRunnerConfig;
  #clock: Clock;
  #registry: Map<string, ResolvedTask>;
  #reporter: Reporter;
  #reservations: Reservations;
  /** `ctx.heartbeat()` of every execution (built once). */
  #heartbeat: (execution: Execution) => Promise<void>;
  #acks: AckBatcher;
  #failures: Failures;
  /** Resolved (and cleared) when a worker slot frees or on shutdown; shared by all fetch loops. */
  #slotGate: Gate | null = null;
  /** Executions not yet finished with (ack/retry/dead-letter pending). */
  #active = 0;
  #idleWaiter: (() => void) | null = null;

  /**
   * Create idle workers.
   *
   * @param ctx The runner.
   * @param reservations Holds and heartbeats what they run.
   * @param acks Acks what completes.
   * @param failures Retries or dead-letters what fails or cannot run.
   */
  constructor(ctx: EngineContext, reservations: Reservations, acks: AckBatcher, failures: Failures) {
    this.#config = ctx.config;
    this.#clock = ctx.clock;
    this.#registry = ctx.registry;
    this.#reporter = ctx.reporter;
    this.#reservations = reservations;
    this.#heartbeat = (execution) => reservations.heartbeatOne(execution);
    this.#acks = acks;
    this.#failures = failures;
  }

  /** Worker slots taken by running actions. */
  get busy(): number {
    return this.#busy;
  }

  /** Worker slots neither taken nor set aside for a receive call in flight. */
  get free(): number {
    return this.#config.numWorkers - this.#busy - this.#reserved;
  }

  /**
   * Set slots aside for a receive call about to go out.
   *
   * @param count The slots (at most {@linkcode Workers.free}).
   */
  reserve(count: number): void {
    this.#reserved += count;
  }

  /**
   * The receive call is back: its slots are free again, until `begin` takes them.
   *
   * @param count The slots set aside for it.
   */
  unreserve(count: number): void {
    this.#reserved -= count;
  }

  /** A new start(): work of earlier runs no longer touches the counters. */
  newEpoch(): void {
    this.#epoch++;
  }

  /**
   * Wait until a worker slot frees (or shutdown wakes the waiters).
   *
   * @returns Resolves then.
   */
  whenSlotFreed(): Promise<void> {
    return (this.#slotGate ??= newGate()).promise;
  }

  /** Forget all slots and executions (once stopped). */
  reset(): void {
    this.running.clear();
    this.#busy = 0;
    this.#reserved = 0;
    this.#active = 0;
  }

  /**
   * Take a delivery just received or reclaimed: hold it and run it.
   *
   * @param consumer The consumer that took it.
   * @param delivery The delivery.
   */
  begin(consumer: Consumer, delivery: Delivery): void {
    const previous = this.#reservations.get(delivery.deliveryId);
    if (previous !== undefined) {
      // Reclaimed from ourselves (heartbeats did not get through in time).
      // A run still going, or done and waiting for its ack, carries on with
      // the fresh delivery instead of running the task a second time.
      if (
        previous.consumer === consumer && !previous.lost && !previous.abandoned &&
        (this.running.has(previous) || previous.ackQueued)
      ) {
        previous.renew(delivery);
        this.#reservations.arm(delivery.reservationTimeout);
        return;
      }
      this.#reservations.markLost(previous, "reservation-lost");
    }
    const execution = new Execution(this.#heartbeat, consumer, delivery, this.#epoch);
    this.#reservations.hold(execution);
    this.#busy++;
    this.#active++;
    this.#reservations.arm(delivery.reservationTimeout);
    this.#execute(execution);
  }

  /**
   * Run one delivery. Synchronous up to the action, so a synchronous action
   * completes without a promise; everything after a failure is async.
   */
  #execute(execution: Execution): void {
    const d = execution.delivery;
    try {
      const refused = refusal(d, this.#config.maxDeliveries);
      if (refused === "malformed") {
        return this.#refuse(
          execution,
          "malformed",
          new TaskRunnerError(`Malformed delivery ${d.deliveryId}: ${d.malformed}`),
          undefined,
        );
      }
      if (refused === "poison") {
        return this.#refuse(
          execution,
          "poison",
          new TaskRunnerError(
            `Task ${d.id} ('${d.name}') was delivered ${d.deliveryCount} times without completing (maxDeliveries ${this.#config.maxDeliveries})`,
          ),
          undefined,
        );
      }
      const spec = this.#registry.get(d.name);
      if (spec === undefined) {
        this.#releaseSlot(execution);
        this.#guard(execution, this.#failures.unknownTask(execution));
        return;
      }
      const decoded = decodePayload(d.body, this.#config.maxPayloadBytes);
      if (!decoded.ok) {
        return this.#refuse(execution, "invalid-payload", new PayloadValidationError(d.name, decoded.issues), undefined);
      }
      if (spec.schema !== undefined) {
        this.#guard(execution, this.#validateThenInvoke(execution, spec, decoded.value));
        return;
      }
      this.#invoke(execution, spec, decoded.value);
    } catch (internal) {
      this.#internalError(execution, internal);
    }
  }

  async #validateThenInvoke(execution: Execution, spec: ResolvedTask, payload: unknown): Promise<void> {
    const checked = await validateWithSchema(spec.schema!, payload);
    if (!checked.ok) {
      this.#releaseSlot(execution);
      return await this.#failures.deadLetter(
        execution,
        "invalid-payload",
        new PayloadValidationError(execution.name, checked.issues),
        payload,
      );
    }
    this.#invoke(execution, spec, checked.value);
  }

  /** Dead-letter a delivery that cannot run at all. */
  #refuse(execution: Execution, reason: DeadLetterReason, error: unknown, payload: unknown): void {
    this.#releaseSlot(execution);
    this.#guard(execution, this.#failures.deadLetter(execution, reason, error, payload));
  }

  /** Call the action and route its outcome, without a promise when it returns synchronously. */
  #invoke(execution: Execution, spec: ResolvedTask, payload: unknown): void {
    this.running.add(execution);
    const started = this.#clock.now();
    let result: unknown;
    let thenable: boolean;
    try {
      result = spec.action(payload, execution);
      thenable = isThenable(result); // may throw for a hostile result (a revoked Proxy)
    } catch (thrown) {
      return this.#settle(execution, spec, payload, started, thrown);
    }
    if (spec.timeout !== undefined) {
      const timeout = spec.timeout;
      this.#withTimeout(result, execution, timeout).then(
        (value) =>
          this.#settle(
            execution,
            spec,
            payload,
            started,
            value === TIMED_OUT ? new TaskTimeoutError(execution.name, timeout) : NO_ERROR,
          ),
        (thrown) => this.#settle(execution, spec, payload, started, thrown),
      );
    } else if (thenable) {
      (result as PromiseLike<unknown>).then(
        () => this.#settle(execution, spec, payload, started, NO_ERROR),
        (thrown) => this.#settle(execution, spec, payload, started, thrown),
      );
    } else {
      this.#settle(execution, spec, payload, started, NO_ERROR);
    }
  }

  #settle(execution: Execution, spec: ResolvedTask, payload: unknown, started: number, error: unknown): void {
    try {
      this.running.delete(execution);
      this.#releaseSlot(execution);
      if (execution.lost || execution.abandoned) return this.finalize(execution);
      if (error === NO_ERROR) {
        const wait = started - execution.delivery.readyAt;
        execution.succeeded(this.#clock.now() - started, wait > 0 ? wait : 0);
        this.#acks.add(execution);
        return;
      }
      this.#guard(execution, this.#failures.failed(execution, spec, error, payload));
    } catch (internal) {
      this.#internalError(execution, internal);
    }
  }

  /** Route an unexpected rejection of post-run work to the error path. */
  #guard(execution: Execution, work: Promise<void>): void {
    work.catch((internal) => this.#internalError(execution, internal));
  }

  /** A bug or an unhandled failure: report it and leave the delivery for reclaim rather than lose it. */
  #internalError(execution: Execution, internal: unknown): void {
    this.running.delete(execution);
    this.#releaseSlot(execution);
    this.#reporter.report(new TaskRunnerError(`Internal error while running task ${execution.id}`, { cause: internal }));
    // Given up without completing it: another runner reclaims it later.
    this.finalize(execution);
  }

  #withTimeout(result: unknown, execution: Execution, timeout: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        execution.abort(new TaskTimeoutError(execution.name, timeout));
        resolve(TIMED_OUT);
      }, timeout);
      Promise.resolve(result).then(
        (value) => {
          this.#clock.clearTimeout(timer);
          resolve(value);
        },
        (error) => {
          this.#clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #releaseSlot(execution: Execution): void {
    if (!execution.freeSlot()) return;
    if (execution.epoch !== this.#epoch) return;
    this.#busy--;
    this.wakeSlotWaiter();
  }

  /** Wake the fetch loops waiting for a free slot. */
  wakeSlotWaiter(): void {
    const gate = this.#slotGate;
    this.#slotGate = null;
    openGate(gate);
  }

  /** Done with a delivery: stop heartbeating it and count it out. */
  finalize(execution: Execution): void {
    if (!execution.finish()) return;
    if (execution.epoch !== this.#epoch) return;
    this.#reservations.release(execution);
    this.#active--;
    if (this.#active === 0 && this.#idleWaiter !== null) {
      const wake = this.#idleWaiter;
      this.#idleWaiter = null;
      wake();
    }
  }

  /**
   * Shutdown grace period over: abort a running action and leave its
   * delivery for reclaim.
   *
   * @param execution The running execution.
   * @param reason The abort reason.
   */
  abandon(execution: Execution, reason: ShutdownError): void {
    execution.abandon(reason);
    this.running.delete(execution);
    this.#releaseSlot(execution);
    this.finalize(execution);
  }

  /**
   * Wait until every execution is finished with.
   *
   * @returns Resolves once none is active.
   */
  whenIdle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#idleWaiter;
      this.#idleWaiter = () => {
        previous?.();
        resolve();
      };
    });
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}
