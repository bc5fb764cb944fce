/**
 * The live stream's fan-out. One timer and one set of runner listeners serve
 * every connected client; both exist only while at least one client is
 * connected, and are removed when the last one leaves.
 *
 * @module
 */

import type { MonitorTaskEvent, MonitorTaskEventBatch } from "./types.ts";

/** Task events the stream forwards. */
export const STREAMED_EVENTS: readonly MonitorTaskEvent["type"][] = ["completed", "failed", "dead", "reclaimed"];

/** Most task events one push carries; the rest are counted as dropped. */
export const MAX_EVENTS_PER_PUSH = 200;

/** Subscribes to one runner event; returns the unsubscribe function. */
export type Subscribe = (event: MonitorTaskEvent["type"], listener: (payload: unknown) => void) => () => void;

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
  readonly #subscribe: Subscribe;
  readonly #interval: number;
  readonly #clients: Map<StreamClient, ClientState> = new Map();
  #unsubscribe: (() => void)[] = [];
  #timer: ReturnType<typeof setInterval> | null = null;

  /**
   * @param subscribe Adds a listener to the runner.
   * @param interval Push interval in milliseconds.
   */
  constructor(subscribe: Subscribe, interval: number) {
    this.#subscribe = subscribe;
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
    for (const type of STREAMED_EVENTS) {
      this.#unsubscribe.push(this.#subscribe(type, (payload) => this.#record(toTaskEvent(type, payload))));
    }
    this.#timer = setInterval(() => this.#tick(), this.#interval);
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

function field(payload: unknown, key: string): unknown {
  return typeof payload === "object" && payload !== null ? (payload as Record<string, unknown>)[key] : undefined;
}

function str(value: unknown, max: number): string {
  const s = typeof value === "string" ? value : value === undefined || value === null ? "" : String(value);
  return s.length > max ? s.slice(0, max) + "…" : s;
}

function finite(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * Reduce a runner event to what the stream shows: ids, name, attempt,
 * duration and the error's name and message; never the payload or a stack.
 *
 * @param type Event type.
 * @param payload The runner's event payload.
 * @returns The stream's event.
 */
export function toTaskEvent(type: MonitorTaskEvent["type"], payload: unknown): MonitorTaskEvent {
  const task = field(payload, "task") ?? field(payload, "delivery") ?? payload;
  const pick = (key: string): unknown => field(payload, key) ?? field(task, key);
  const error = field(payload, "error");
  return {
    type,
    id: str(pick("id"), 128),
    name: str(pick("name"), 200),
    attempt: finite(pick("attempt")),
    duration: finite(pick("duration") ?? pick("runTime")),
    error: error === undefined || error === null ? null : {
      name: str(field(error, "name") ?? "Error", 200),
      message: str(field(error, "message") ?? error, 1000),
    },
    at: Date.now(),
  };
}
