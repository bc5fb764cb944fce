/**
 * Delayed-task announcements: the due time of each newly delayed task is
 * published on the queue's channel by the add and retry scripts; this part
 * subscribes on a connection duplicated from the queue's, for as long as
 * someone listens. The subscription opens with the first listener and
 * closes with the last one, so a stopped runner leaves nothing open.
 *
 * @module
 */
import type { Logger } from "../../src/logger.ts";
import { Connection, type RedisClientLike } from "./_connection.ts";
import { shutConnection } from "./_reader.ts";
import { ABORT_GRACE, withDeadline } from "./_util.ts";

/** Who is told of a newly delayed task's due time (epoch ms, server clock). */
export type DelayedListener = (dueAt: number) => void;

/** The delayed-task subscription of one queue. */
export class Announcements {
  #main: Connection;
  #channel: string;
  #delayedKey: string;
  #name: string;
  #logger: Logger;
  #listeners = new Set<DelayedListener>();
  /** The subscription being opened or open; null when nobody listens. */
  #subscriber: Subscriber | null = null;
  /** Subscriptions being shut (the last listener left, or close). */
  #shutting = new Set<Promise<void>>();
  #closed = false;
  /** Bumped by every open and shut, so a failed open drops only itself. */
  #generation = 0;

  /**
   * @param main The queue's connection (duplicated for the subscription; reads the delayed set).
   * @param channel The delayed-added channel.
   * @param delayedKey The delayed set (its earliest member is announced once subscribed).
   * @param name The queue's name, for messages.
   * @param logger Where connection errors go.
   */
  constructor(main: Connection, channel: string, delayedKey: string, name: string, logger: Logger) {
    this.#main = main;
    this.#channel = channel;
    this.#delayedKey = delayedKey;
    this.#name = name;
    this.#logger = logger;
  }

  /**
   * Add a listener, subscribing if it is the first.
   *
   * @param listener Called with each announced due time.
   * @returns Removes the listener; the last removal closes the subscription.
   */
  listen(listener: DelayedListener): () => void {
    this.#listeners.add(listener);
    if (!this.#closed && !this.#subscriber) {
      const client = this.#main.client.duplicate() as RedisClientLike;
      this.#subscriber = { client, ready: this.#open(client, ++this.#generation) };
    }
    return () => {
      if (this.#listeners.delete(listener) && this.#listeners.size === 0) this.#shut();
    };
  }

  /**
   * The subscription while one is open or opening, else null. An add of a
   * delayed task awaits it first, so listeners registered before the add
   * hear of the task.
   */
  get opening(): Promise<unknown> | null {
    return this.#subscriber?.ready ?? null;
  }

  /** Resolves once every subscription being shut is closed. */
  async settled(): Promise<void> {
    await Promise.all([...this.#shutting]);
  }

  /** Drop every listener and close the subscription. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    this.#shut();
    await this.settled();
  }

  #fanOut(due: number): void {
    for (const listener of this.#listeners) {
      try {
        listener(due);
      } catch (error) {
        this.#logger.error("delayed-task listener threw", { queue: this.#name, error: String(error) });
      }
    }
  }

  #shut(): void {
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    this.#generation++;
    if (!subscriber) return;
    // One that does not connect in time is destroyed, so it never connects later.
    const shutting: Promise<void> = withDeadline(subscriber.ready, ABORT_GRACE, "the subscriber")
      .then((conn) => conn ? shutConnection(conn) : undefined, () => destroy(subscriber.client))
      .finally(() => this.#shutting.delete(shutting));
    this.#shutting.add(shutting);
  }

  async #open(client: RedisClientLike, generation: number): Promise<Connection | null> {
    client.on("error", (error: Error) => {
      if (!this.#closed) this.#logger.warn("redis subscriber connection error", { queue: this.#name, error: error.message });
    });
    try {
      await client.connect();
      await client.subscribe(this.#channel, (message: string) => {
        const due = Number(message);
        if (Number.isFinite(due)) this.#fanOut(due);
      });
    } catch (error) {
      destroy(client);
      if (this.#generation !== generation) return null; // shut while connecting: nobody to warn
      this.#logger.warn("cannot subscribe to delayed-task announcements; promoters fall back to their own timers", {
        queue: this.#name,
        error: error instanceof Error ? error.message : String(error),
      });
      // Only this attempt is dropped: the next listener (or add) tries again.
      this.#subscriber = null;
      return null;
    }
    const conn = new Connection(client);
    // Delayed tasks added before the subscription took effect were not
    // announced: announce the earliest one now, so promoters see it in time.
    try {
      const reply = await this.#main.send(this.#delayedKey, ["ZRANGE", this.#delayedKey, "0", "0", "WITHSCORES"]);
      const flat = Array.isArray(reply) ? reply.flat() : [];
      const due = flat.length >= 2 ? Number(flat[1]) : NaN;
      if (Number.isFinite(due)) this.#fanOut(due);
    } catch {
      // The promoter's own timer still covers it.
    }
    return conn;
  }
}

/** A subscription connection and its opening. */
interface Subscriber {
  client: RedisClientLike;
  ready: Promise<Connection | null>;
}

function destroy(client: RedisClientLike): void {
  try {
    client.destroy();
  } catch { /* already closed */ }
}
