/**
 * The live stream's fan-out. One timer and one set of runner listeners serve
 * every connected client; both exist only while at least one client is
 * connected, and are removed when the last one leaves.
 *
 * @module
 */

import { toFailure } from "../../src/errors.ts";
import type { FailureRecord } from "../../src/queue.ts";
import type { RunnerEvents } from "../../mod.ts";
import type { MonitorTaskEvent, MonitorTaskEventBatch } from "./types.ts";

/** Task events the stream forwards. */
export const STREAMED_EVENTS: readonly MonitorTaskEvent["type"][] = ["completed", "failed", "dead", "reclaimed"];

/** Most task events one push carries; the rest are counted as dropped. */
export const MAX_EVENTS_PER_PUSH = 200;

/** Subscribes to one runner event; returns the unsubscribe function. */
export type Subscribe = (
  event: MonitorTaskEvent["type"],
  listener: (event: StreamedRunnerEvent) => void,
) => () => void;

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
      this.#unsubscribe.push(this.#subscribe(type, (event) => this.#record(toTaskEvent(event))));
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

function clip(s: string, max: number): string {
  return s.length > max ? s.slice(0, max) + "…" : s;
}

function errorOf(error: unknown, recorded?: FailureRecord): { name: string; message: string } {
  const f = recorded ?? toFailure(error);
  return { name: clip(String(f.name), 200), message: clip(String(f.message), 1000) };
}

/** A runner event the stream forwards, with its payload. */
export type StreamedRunnerEvent =
  | { type: "completed"; payload: RunnerEvents["completed"] }
  | { type: "failed"; payload: RunnerEvents["failed"] }
  | { type: "dead"; payload: RunnerEvents["dead"] }
  | { type: "reclaimed"; payload: RunnerEvents["reclaimed"] };

/**
 * Reduce a runner event to what the stream shows: ids, name, attempt,
 * duration and the error's name and message; never the payload or a stack.
 *
 * @param event The runner's event and its type.
 * @returns The stream's event.
 */
export function toTaskEvent(event: StreamedRunnerEvent): MonitorTaskEvent {
  const base = { type: event.type, id: clip(event.payload.id, 128), name: clip(event.payload.name, 200), at: Date.now() };
  switch (event.type) {
    case "completed":
      return { ...base, attempt: event.payload.attempt, duration: event.payload.runTime, error: null };
    case "failed":
      return { ...base, attempt: event.payload.attempt, duration: null, error: errorOf(event.payload.error) };
    case "dead":
      return {
        ...base,
        attempt: event.payload.attempt,
        duration: null,
        error: errorOf(event.payload.error, event.payload.failure),
      };
    case "reclaimed":
      return { ...base, attempt: null, duration: null, error: null };
  }
}
