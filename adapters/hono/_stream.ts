/**
 * The live stream's fan-out. One timer and one set of runner listeners serve
 * every connected client; both exist only while at least one client is
 * connected, and are removed when the last one leaves.
 *
 * @module
 */

import { toFailure } from "../../src/errors.ts";
import type { RunnerEvents } from "../../src/events.ts";
import type { FailureRecord } from "../../src/queue.ts";
import { shorten } from "./_views.ts";
import type { MonitoredEvent, MonitoredRunner } from "./options.ts";
import type { MonitorTaskEvent, MonitorTaskEventBatch } from "./types.ts";

/** Task events the stream forwards. */
export const STREAMED_EVENTS: readonly MonitoredEvent[] = ["completed", "failed", "dead", "reclaimed"];

/** Most task events one push carries; the rest are counted as dropped. */
export const MAX_EVENTS_PER_PUSH = 200;

/** One connected client, as the hub sees it. */
export interface StreamClient {
  /** Called on every tick with the task events since the previous tick. */
  tick(events: MonitorTaskEventBatch): void;
}

interface ClientState {
  events: MonitorTaskEvent[];
  dropped: number;
}

/** Shared timer and listeners for all live-stream clients of one monitor. */
export class StreamHub {
  readonly #runner: Pick<MonitoredRunner, "on">;
  readonly #interval: number;
  readonly #clients: Map<StreamClient, ClientState> = new Map();
  #unsubscribe: (() => void)[] = [];
  #timer: ReturnType<typeof setInterval> | null = null;

  /**
   * @param runner The runner whose events are streamed.
   * @param interval Push interval in milliseconds.
   */
  constructor(runner: Pick<MonitoredRunner, "on">, interval: number) {
    this.#runner = runner;
    this.#interval = interval;
  }

  /** Connected clients. */
  get size(): number {
    return this.#clients.size;
  }

  /** Whether the hub currently holds runner listeners or a timer. */
  get active(): boolean {
    return this.#timer !== null || this.#unsubscribe.length > 0;
  }

  /**
   * Add a client; starts the timer and listeners for the first one.
   *
   * @returns A function removing the client (idempotent).
   */
  add(client: StreamClient): () => void {
    this.#clients.set(client, { events: [], dropped: 0 });
    if (this.#clients.size === 1) this.#start();
    return () => {
      if (!this.#clients.delete(client)) return;
      if (this.#clients.size === 0) this.#stop();
    };
  }

  #start(): void {
    for (const type of STREAMED_EVENTS) this.#unsubscribe.push(this.#listen(type));
    this.#timer = setInterval(() => this.#tick(), this.#interval);
  }

  #listen<K extends MonitoredEvent>(type: K): () => void {
    return this.#runner.on(type, (payload) => this.#record(toTaskEvent(type, payload)));
  }

  #stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = [];
    for (const off of unsubscribe) off();
  }

  #record(event: MonitorTaskEvent): void {
    for (const state of this.#clients.values()) {
      if (state.events.length < MAX_EVENTS_PER_PUSH) state.events.push(event);
      else state.dropped++;
    }
  }

  #tick(): void {
    for (const [client, state] of this.#clients) {
      const batch: MonitorTaskEventBatch = { events: state.events, dropped: state.dropped };
      state.events = [];
      state.dropped = 0;
      client.tick(batch);
    }
  }
}

function errorOf(error: unknown, recorded?: FailureRecord): { name: string; message: string } {
  const f = recorded ?? toFailure(error);
  return { name: shorten(String(f.name), 200), message: shorten(String(f.message), 1000) };
}

/** What each forwarded event adds to the id and name: attempt, duration and error. */
const DETAILS: {
  [K in MonitoredEvent]: (payload: RunnerEvents[K]) => Pick<MonitorTaskEvent, "attempt" | "duration" | "error">;
} = {
  completed: (p) => ({ attempt: p.attempt, duration: p.runTime, error: null }),
  failed: (p) => ({ attempt: p.attempt, duration: null, error: errorOf(p.error) }),
  dead: (p) => ({ attempt: p.attempt, duration: null, error: errorOf(p.error, p.failure) }),
  reclaimed: () => ({ attempt: null, duration: null, error: null }),
};

/**
 * Reduce a runner event to what the stream shows: ids, name, attempt,
 * duration and the error's name and message; never the payload or a stack.
 *
 * @param type The runner event.
 * @param payload Its payload.
 * @returns The stream's event.
 */
export function toTaskEvent<K extends MonitoredEvent>(type: K, payload: RunnerEvents[K]): MonitorTaskEvent {
  const base = { type, id: shorten(payload.id, 128), name: shorten(payload.name, 200), at: Date.now() };
  return { ...base, ...DETAILS[type](payload) };
}
