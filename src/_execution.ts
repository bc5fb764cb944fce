/**
 * One delivery being run by a runner, which is also the `ctx` its action
 * receives: its state and the transitions between states. A leaf: it
 * imports only contract types.
 *
 * @module
 */

import type { Consumer, Delivery } from "./queue.ts";
import type { TaskContext } from "./task.ts";

/**
 * One delivery being run: also the `ctx` its action receives. Its state
 * changes only through its methods; the rest of the runner reads it.
 */
export class Execution implements TaskContext {
  readonly id: string;
  readonly name: string;
  readonly attempt: number;
  /** The consumer it was received or reclaimed as (it is acked and heartbeated as that one). */
  readonly consumer: Consumer;
  /** The start() it belongs to: work of an earlier run never touches the counters of a later one. */
  readonly epoch: number;
  /** Extends this delivery's reservation now (`ctx.heartbeat()`). */
  readonly #heartbeat: (execution: Execution) => Promise<void>;
  #delivery: Delivery;
  /** Created on first use of `signal`. */
  #controller: AbortController | null = null;
  #aborted = false;
  #abortReason: unknown = undefined;
  #lost = false;
  #abandoned = false;
  #slotHeld = true;
  #finished = false;
  #ackQueued = false;
  #runTime = 0;
  #waitTime = 0;

  /**
   * Create the execution of a delivery just received. It holds a worker slot.
   *
   * @param heartbeat Extends an execution's reservation now (for `ctx.heartbeat()`).
   * @param consumer The consumer that took it.
   * @param delivery The delivery.
   * @param epoch The runner's current start().
   */
  constructor(heartbeat: (execution: Execution) => Promise<void>, consumer: Consumer, delivery: Delivery, epoch: number) {
    this.#heartbeat = heartbeat;
    this.epoch = epoch;
    this.consumer = consumer;
    this.#delivery = delivery;
    this.id = delivery.id;
    this.name = delivery.name;
    this.attempt = delivery.attempt;
  }

  /** The delivery this runner holds; replaced when it reclaims the same one from itself. */
  get delivery(): Delivery {
    return this.#delivery;
  }

  /** Another consumer owns the delivery now: never ack it. */
  get lost(): boolean {
    return this.#lost;
  }

  /** Left for reclaim at shutdown: never ack it. */
  get abandoned(): boolean {
    return this.#abandoned;
  }

  /** It still holds its worker slot. */
  get slotHeld(): boolean {
    return this.#slotHeld;
  }

  /** The runner is done with it (acked, retried, dead-lettered or given up). */
  get finished(): boolean {
    return this.#finished;
  }

  /** Waiting for its ack to be accepted or refused. */
  get ackQueued(): boolean {
    return this.#ackQueued;
  }

  /** How long the action ran, in ms (once it succeeded). */
  get runTime(): number {
    return this.#runTime;
  }

  /** How long the task waited between ready and started, in ms (once it succeeded). */
  get waitTime(): number {
    return this.#waitTime;
  }

  /** Aborted on timeout, lost reservation or shutdown. */
  get signal(): AbortSignal {
    // Created on first use: most actions never look at it.
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /**
   * Abort the run's signal (once).
   *
   * @param reason The abort reason.
   */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
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

  /**
   * Carry on with a fresh delivery of the same task (reclaimed by this
   * runner from itself while the run went on or waited for its ack).
   *
   * @param delivery The fresh delivery.
   */
  renew(delivery: Delivery): void {
    this.#delivery = delivery;
  }

  /**
   * Give the worker slot back (once).
   *
   * @returns True if it held one until now.
   */
  freeSlot(): boolean {
    if (!this.#slotHeld) return false;
    this.#slotHeld = false;
    return true;
  }

  /**
   * The action succeeded: record its timings.
   *
   * @param runTime How long it ran, in ms.
   * @param waitTime How long the task waited to start, in ms.
   */
  succeeded(runTime: number, waitTime: number): void {
    this.#runTime = runTime;
    this.#waitTime = waitTime;
  }

  /** Waiting in its consumer's ack list from now on. */
  queueForAck(): void {
    this.#ackQueued = true;
  }

  /** Its ack was accepted or refused. */
  ackSettled(): void {
    this.#ackQueued = false;
  }

  /**
   * Another consumer owns the delivery now: mark it lost and abort the run (once).
   *
   * @param reason The abort reason.
   * @returns True the first time, false if it was lost already.
   */
  lose(reason: unknown): boolean {
    if (this.#lost) return false;
    this.#lost = true;
    this.abort(reason);
    return true;
  }

  /**
   * Left for reclaim at shutdown: never acked, its run aborted.
   *
   * @param reason The abort reason.
   */
  abandon(reason: unknown): void {
    this.#abandoned = true;
    this.abort(reason);
  }

  /**
   * The runner is done with it (once).
   *
   * @returns True the first time, false if it was finished already.
   */
  finish(): boolean {
    if (this.#finished) return false;
    this.#finished = true;
    return true;
  }
}
