/**
 * One delivery being run by a runner, which is also the `ctx` its action
 * receives, and the fetch loop record it was received through. A leaf: it
 * imports only contract types.
 *
 * @module
 */

import type { Consumer, Delivery } from "./queue.ts";
import type { TaskContext } from "./task.ts";

/** A fetch loop's consumer and its pending acks. */
export interface Fetcher {
  /** The consumer it receives, acks and heartbeats as. */
  consumer: Consumer;
  /** Completed runs waiting for the next ack call. */
  acks: Execution[];
  /** An ack call is in flight. */
  ackInFlight: boolean;
  /** When the ack call in flight was sent (runner clock). */
  ackSentAt: number;
  /** Ack calls failed in a row. */
  ackFailures: number;
}

/**
 * A fetcher with nothing to ack.
 *
 * @param consumer Its consumer.
 * @returns The fetcher.
 */
export function newFetcher(consumer: Consumer): Fetcher {
  return { consumer, acks: [], ackInFlight: false, ackSentAt: 0, ackFailures: 0 };
}

/** One delivery being run: also the `ctx` its action receives. */
export class Execution implements TaskContext {
  readonly id: string;
  readonly name: string;
  readonly attempt: number;
  /** The delivery this runner holds; replaced when it reclaims the same one from itself. */
  delivery: Delivery;
  readonly fetcher: Fetcher;
  /** Extends this delivery's reservation now (`ctx.heartbeat()`). */
  readonly #heartbeat: (execution: Execution) => Promise<void>;
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
   * @param heartbeat Extends an execution's reservation now (for `ctx.heartbeat()`).
   * @param fetcher The fetch loop that took it.
   * @param delivery The delivery.
   * @param epoch The runner's current start().
   */
  constructor(heartbeat: (execution: Execution) => Promise<void>, fetcher: Fetcher, delivery: Delivery, epoch: number) {
    this.#heartbeat = heartbeat;
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
    return this.#heartbeat(this);
  }
}
