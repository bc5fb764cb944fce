/**
 * One delivery being run by a runner, which is also the `ctx` its action
 * receives.
 *
 * @module
 */

import type { Fetcher } from "./_acks.ts";
import type { Reservations } from "./_reservations.ts";
import type { Delivery } from "./queue.ts";
import type { TaskContext } from "./task.ts";

/** One delivery being run: also the `ctx` its action receives. */
export class Execution implements TaskContext {
  readonly id: string;
  readonly name: string;
  readonly attempt: number;
  /** The delivery this runner holds; replaced when it reclaims the same one from itself. */
  delivery: Delivery;
  readonly fetcher: Fetcher;
  readonly reservations: Reservations;
  /** The start() it belongs to: work of an earlier run never touches the counters of a later one. */
  readonly epoch: number;
  controller: AbortController | null = null;
  aborted = false;
  abortReason: unknown = undefined;
  /** Another consumer owns the delivery now: never ack it. */
  lost = false;
  /** Left for reclaim at shutdown: never ack it. */
  abandoned = false;
  slotHeld = true;
  finalized = false;
  /** Waiting in its fetcher's ack list. */
  ackQueued = false;
  runTime = 0;
  waitTime = 0;

  /**
   * Create the execution of a delivery just received.
   *
   * @param reservations The runner's held deliveries (for `ctx.heartbeat()`).
   * @param fetcher The fetch loop that took it.
   * @param delivery The delivery.
   * @param epoch The runner's current start().
   */
  constructor(reservations: Reservations, fetcher: Fetcher, delivery: Delivery, epoch: number) {
    this.reservations = reservations;
    this.epoch = epoch;
    this.fetcher = fetcher;
    this.delivery = delivery;
    this.id = delivery.id;
    this.name = delivery.name;
    this.attempt = delivery.attempt;
  }

  /** Aborted on timeout, lost reservation or shutdown. */
  get signal(): AbortSignal {
    // Created on first use: most actions never look at it.
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /**
   * Abort the run's signal (once).
   *
   * @param reason The abort reason.
   */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  /**
   * Extend the reservation now.
   *
   * @returns Resolves once extended.
   * @throws {ReservationLostError} When another consumer owns the delivery now.
   */
  heartbeat(): Promise<void> {
    return this.reservations.heartbeatOne(this);
  }
}
