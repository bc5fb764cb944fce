/**
 * A small typed event emitter. Listeners that throw never break the caller:
 * their errors are handed to a report function instead.
 *
 * @module
 */

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
