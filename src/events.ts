/**
 * The runner's events and their payloads, and a small typed event emitter.
 * Listeners that throw never break the caller: their errors are handed to a
 * report function instead.
 *
 * @module
 */

import type { DeadLetterReason, FailureRecord } from "./queue.ts";

/** Emitted when a run succeeded and its acknowledgement was accepted. */
export interface CompletedEvent {
  /** Task id. */
  id: string;
  /** Task name. */
  name: string;
  /** Failed runs before this one. */
  attempt: number;
  /** Run time, in milliseconds. */
  runTime: number;
  /** Time from ready to start, in milliseconds. */
  waitTime: number;
}

/** Emitted for every failed run (before it is retried or dead-lettered). */
export interface FailedEvent {
  /** Task id. */
  id: string;
  /** Task name. */
  name: string;
  /** Failed runs before this one. */
  attempt: number;
  /** What the action threw (any value), or a `TaskTimeoutError`. */
  error: unknown;
}

/** Emitted when a task is scheduled to run again. */
export interface RetryingEvent {
  /** Task id. */
  id: string;
  /** Task name. */
  name: string;
  /** The attempt number the next run will see as `ctx.attempt`. */
  attempt: number;
  /** Delay before the next run, in milliseconds. */
  delay: number;
  /** Why: what the failed run threw, or an `UnknownTaskError`. */
  error: unknown;
}

/** Emitted when a task went to the dead-letter store (by this runner). */
export interface DeadEvent {
  /** Task id. */
  id: string;
  /** Task name. */
  name: string;
  /** Failed runs counted, including the last one. */
  attempt: number;
  /** Why it was dead-lettered. */
  reason: DeadLetterReason;
  /** The last real error (any value). */
  error: unknown;
  /** The error as recorded in the dead-letter store. */
  failure: FailureRecord;
}

/** Emitted when this runner took over a delivery whose consumer stopped heartbeating. */
export interface ReclaimedEvent {
  /** Task id. */
  id: string;
  /** Task name. */
  name: string;
  /** Transport id of the delivery. */
  deliveryId: string;
  /** How many times the task has been delivered, this time included. */
  deliveryCount: number;
}

/** Emitted when this runner lost a delivery it held. */
export interface LostEvent {
  /** Transport id of the delivery. */
  deliveryId: string;
  /** Task id, when known. */
  id: string | null;
  /** Task name, when known. */
  name: string | null;
  /**
   * `reservation-lost`: a heartbeat found another consumer owns it now;
   * `refused`: an ack, retry or dead-letter was refused for the same reason;
   * `entry-missing`: a reclaim found its stored entry deleted outside the library.
   */
  reason: "reservation-lost" | "refused" | "entry-missing";
}

/** Events of a {@linkcode TaskRunner} and their payloads. */
export interface RunnerEvents {
  /** A run succeeded and was acknowledged. */
  completed: CompletedEvent;
  /** A run failed (it may be retried). */
  failed: FailedEvent;
  /** A task was scheduled to run again. */
  retrying: RetryingEvent;
  /** A task went to the dead-letter store. */
  dead: DeadEvent;
  /** A delivery of a stalled consumer was taken over. */
  reclaimed: ReclaimedEvent;
  /** A delivery this runner held now belongs to another consumer. */
  lost: LostEvent;
  /** Internal errors (transport failures, throwing hooks or listeners); never task failures. */
  error: Error;
}


/** A listener of one event. */
export type Listener<T> = (event: T) => void;

/**
 * Typed emitter over an event map `{ eventName: payloadType }`.
 *
 * @example Listen and unsubscribe
 * ```ts
 * const emitter = new Emitter<{ tick: number }>(() => {});
 * const off = emitter.on("tick", (n) => console.log(n));
 * emitter.emit("tick", 1);
 * off();
 * ```
 */
export class Emitter<Events extends object> {
  #listeners: Map<keyof Events, Listener<never>[]> = new Map();
  #onListenerError: (error: unknown, event: keyof Events) => void;

  /**
   * Create an emitter with no listeners.
   *
   * @param onListenerError Called when a listener throws, with the thrown
   * value and the event name; it must not throw itself.
   */
  constructor(onListenerError: (error: unknown, event: keyof Events) => void) {
    this.#onListenerError = onListenerError;
  }

  /**
   * Add a listener.
   *
   * @param event Event name.
   * @param listener Called with the event's payload.
   * @returns A function that removes this listener (idempotent).
   */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const current = (this.#listeners.get(event) ?? []) as Listener<Events[K]>[];
    // Copy on write, so emitting while a listener unsubscribes is safe.
    this.#listeners.set(event, [...current, listener] as Listener<never>[]);
    return () => {
      const list = this.#listeners.get(event) as Listener<Events[K]>[] | undefined;
      if (!list) return;
      const next = list.filter((l) => l !== listener);
      if (next.length === 0) this.#listeners.delete(event);
      else this.#listeners.set(event, next as Listener<never>[]);
    };
  }

  /**
   * Whether anything listens to `event` (lets callers skip building payloads).
   *
   * @param event Event name.
   * @returns True when at least one listener is registered.
   */
  has(event: keyof Events): boolean {
    return this.#listeners.has(event);
  }

  /**
   * Call every listener of `event` with `payload`. A throwing listener is
   * reported and the others still run.
   *
   * @param event Event name.
   * @param payload The event's payload.
   */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const list = this.#listeners.get(event) as Listener<Events[K]>[] | undefined;
    if (!list) return;
    for (const listener of list) {
      try {
        listener(payload);
      } catch (error) {
        this.#onListenerError(error, event);
      }
    }
  }

  /** Remove every listener. */
  clear(): void {
    this.#listeners.clear();
  }
}
