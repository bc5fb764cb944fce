/**
 * `RedisStreamQueue`: the {@linkcode MessageQueue} transport on Redis
 * Streams consumer groups, through `@redis/client` v6 (standalone or
 * Cluster).
 *
 * @module
 */
import { hostname } from "node:os";
import process from "node:process";
import { createClient } from "@redis/client";
import { TransportError } from "../../src/errors.ts";
import { type Logger, silentLogger } from "../../src/logger.ts";
import { type RedisStreamQueueOptions, resolveRedisStreamQueueOptions } from "./options.ts";
import type {
  AddResult,
  ClaimFailedHandlersOptions,
  Consumer,
  DeadLetter,
  DeadLetterOptions,
  DeadLetterPage,
  DeadLetterReason,
  Delivery,
  DeliveryRef,
  FailureRecord,
  InstanceInfo,
  MessageQueue,
  NewTask,
  PromoteResult,
  QueueCounts,
  ReceiveOptions,
  ReclaimResult,
  StatsDelta,
} from "../../src/queue.ts";
import { Connection, isNoGroupError, type RedisClientLike } from "./_connection.ts";
import { decodeDeadLetter, rangeEntries, readGroupDeliveries, taskFields } from "./_codec.ts";
import { Announcements } from "./_announcements.ts";
import { Groups } from "./_groups.ts";
import { BlockingReaders, shutConnection } from "./_reader.ts";
import { parseStats } from "./_stats.ts";
import {
  chunks,
  MAX_STREAM_ID,
  redactRedisUrl,
  streamId,
  withDeadline,
} from "./_util.ts";
import { type QueueKeys, queueKeys } from "./keys.ts";
import {
  ack,
  add,
  claimFailedHandlers,
  counts,
  deadLetter,
  deleteDeadLetter,
  heartbeat,
  listInstances,
  type LockRef,
  promote,
  pruneConsumers,
  reclaim,
  recordStats,
  registerInstance,
  removeConsumer,
  replayDeadLetter,
  retry,
  unregisterInstance,
} from "./scripts/mod.ts";

export type { RedisStreamQueueOptions };

const ALL_SCRIPTS = [
  add.script,
  ack.script,
  heartbeat.script,
  reclaim.script,
  retry.script,
  deadLetter.script,
  promote.script,
  pruneConsumers.script,
  counts.script,
  claimFailedHandlers.script,
];

function isPlain(task: NewTask): boolean {
  return !task.unique && !((task.delay ?? 0) > 0);
}

/**
 * The production transport: one Redis stream per queue, consumer groups for
 * delivery, Lua scripts for every step that must be atomic, all deadlines on
 * the server clock. Works with a standalone client or a Cluster client
 * (every key of a queue shares one hash tag).
 *
 * The client you pass stays yours: the queue duplicates it for blocking
 * reads and for the delayed-task subscription, and closes only those.
 *
 * Requires Redis >= 7.0; run Redis with `maxmemory-policy noeviction` and
 * AOF persistence for the delivery guarantees to hold.
 *
 * @example Run tasks on Redis
 * ```ts
 * import { createClient } from "@redis/client";
 * import { TaskRunner } from "@taskrunner/core";
 * import { RedisStreamQueue } from "@taskrunner/core/redis";
 *
 * const client = await createClient({ url: "redis://127.0.0.1:6379" }).connect();
 * const queue = new RedisStreamQueue(client, { prefix: "app", queue: "emails" });
 * const runner = new TaskRunner(queue, { consumerGroup: "workers" });
 * ```
 */
export class RedisStreamQueue implements MessageQueue {
  /** Identity for logs: `redis:{prefix:queue}`. */
  readonly name: string;
  /** The key names of this queue. */
  readonly keys: QueueKeys;

  #conn: Connection;
  #ownsClient = false;
  #logger: Logger;
  #deleteOnAck: boolean;
  #defaultReservation: number;
  #blockWindow: number;
  #promoteBatch: number;
  #batchLimit: number;
  #commandTimeout: number;
  #consumerIdleTimeout: number;
  #nextPrune = new Map<string, number>();
  #closing = new AbortController();
  #closed = false;
  #groups: Groups;
  #cursors = new Map<string, string>();
  #held = new Map<string, LockRef>();
  /** Consumers whose last read filled its count: their next read first goes without BLOCK. */
  #backlog = new WeakSet<Consumer>();
  #minReservation = Infinity;
  #announcements: Announcements;
  #readers: BlockingReaders;

  /**
   * @param client A connected `@redis/client` client or cluster client.
   * @param options Names and tuning.
   * @throws ConfigError when an option is invalid.
   */
  constructor(client: RedisClientLike, options: RedisStreamQueueOptions = {}) {
    const o = resolveRedisStreamQueueOptions(options);
    this.keys = queueKeys(o.prefix, o.queue);
    this.name = `redis:${this.keys.tag}`;
    this.#conn = new Connection(client);
    this.#logger = o.logger;
    this.#deleteOnAck = o.deleteOnAck;
    this.#defaultReservation = o.defaultReservationTimeout;
    this.#blockWindow = o.blockWindow;
    this.#promoteBatch = o.promoteBatch;
    this.#commandTimeout = o.commandTimeout;
    this.#consumerIdleTimeout = o.consumerIdleTimeout;
    this.#batchLimit = o.batchLimit;
    this.#groups = new Groups(this.#conn, this.keys.stream, this.name, this.#logger);
    this.#readers = new BlockingReaders(
      this.#conn,
      this.keys.stream,
      this.name,
      this.#logger,
      this.#commandTimeout,
      this.#closing.signal,
    );
    this.#announcements = new Announcements(this.#conn, this.keys.delayedChannel, this.keys.delayed, this.name, this.#logger);
  }

  /**
   * Connect to a Redis URL and build a queue that owns (and closes) the
   * client. The URL's password never appears in errors or logs.
   *
   * @param url `redis://[user:password@]host:port[/db]`, `rediss://...` for TLS.
   * @param options Queue options.
   * @returns A queue whose `close()` also closes the client.
   * @throws TransportError when the server cannot be reached.
   */
  static async connect(url: string, options: RedisStreamQueueOptions = {}): Promise<RedisStreamQueue> {
    const logger = options.logger ?? silentLogger;
    const safe = redactRedisUrl(url);
    const client = createClient({
      url,
      socket: { connectTimeout: 5_000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000) },
    });
    let connecting = true;
    let failed: (error: Error) => void = () => {};
    const firstError = new Promise<never>((_, reject) => (failed = reject));
    client.on("error", (error: Error) => {
      if (connecting) failed(error);
      else logger.warn("redis connection error", { url: safe, error: error.message });
    });
    try {
      await Promise.race([client.connect(), firstError]);
      connecting = false;
    } catch (error) {
      connecting = false;
      try {
        client.destroy();
      } catch { /* never opened */ }
      throw new TransportError(
        `Cannot connect to Redis at ${safe}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const queue = new RedisStreamQueue(client as unknown as RedisClientLike, options);
    queue.#ownsClient = true;
    return queue;
  }

  /** Host name and process id, for consumer and instance names. */
  processInfo(): { host: string; pid: number } {
    return { host: hostname(), pid: process.pid };
  }

  /**
   * Check the server (Redis >= 7.0; warn unless `maxmemory-policy` is
   * `noeviction`) once, and create the consumer group if missing.
   *
   * @throws TransportError when Redis is older than 7.0.
   */
  async init(group: string): Promise<void> {
    await this.#groups.init(group);
    await this.#conn.preload(this.keys.stream, ALL_SCRIPTS);
  }

  /** Add tasks, each with its unique lock in the same script. */
  add(tasks: readonly NewTask[]): Promise<AddResult[]> {
    // One plain task (a single dispatch without lock or delay) is one XADD.
    if (tasks.length === 1 && isPlain(tasks[0])) return this.#addOne(tasks[0]);
    return this.#addMany(tasks);
  }

  async #addOne(task: NewTask): Promise<AddResult[]> {
    if (task.reservationTimeout < this.#minReservation) this.#minReservation = task.reservationTimeout;
    const stream = this.keys.stream;
    await this.#conn.send(stream, ["XADD", stream, "*", ...taskFields(task, undefined, task.dispatchedAt)]);
    return [{ ok: true, id: task.id }];
  }

  async #addMany(tasks: readonly NewTask[]): Promise<AddResult[]> {
    const results: AddResult[] = [];
    // Listeners registered before this add must hear of its delayed tasks.
    const subscribing = this.#announcements.opening;
    if (subscribing && tasks.some((t) => (t.delay ?? 0) > 0)) await subscribing;
    // Runs of plain tasks (no lock, no delay) are pipelined XADDs: the entry
    // id carries the server time they became ready. Tasks with a lock or a
    // delay go through the add script. Runs are sent one after another so
    // the stream keeps the order given.
    let i = 0;
    while (i < tasks.length) {
      const plain = isPlain(tasks[i]);
      let j = i + 1;
      while (j < tasks.length && j - i < this.#batchLimit && isPlain(tasks[j]) === plain) j++;
      const run = tasks.slice(i, j);
      for (const task of run) {
        if (task.reservationTimeout < this.#minReservation) this.#minReservation = task.reservationTimeout;
      }
      if (plain) await this.#addPlain(run, results);
      else await this.#addScripted(run, results);
      i = j;
    }
    return results;
  }

  async #addPlain(run: readonly NewTask[], results: AddResult[]): Promise<void> {
    const stream = this.keys.stream;
    const sent = run.map((task) => {
      const args = ["XADD", stream, "*"].concat(taskFields(task, undefined, task.dispatchedAt));
      return this.#conn.send(stream, args);
    });
    await Promise.all(sent);
    for (const task of run) results.push({ ok: true, id: task.id });
  }

  async #addScripted(batch: readonly NewTask[], results: AddResult[]): Promise<void> {
    const call = add.encode(this.keys, batch);
    add.decode(await this.#conn.eval(add.script, call), batch, results);
  }

  /** Deliver up to `count` new tasks, blocking in short windows up to `block` ms. */
  async receive(consumer: Consumer, options: ReceiveOptions): Promise<Delivery[]> {
    const { signal } = options;
    const count = Math.max(1, Math.floor(options.count));
    const block = Math.max(0, options.block);
    const deadline = Date.now() + block;
    let recoveries = 0;
    // After a full batch more is likely waiting: a read without BLOCK on the
    // consumer's connection answers at once, with none of a blocking read's
    // abort and unblock handling. An empty answer falls back to blocking reads.
    let eager = this.#backlog.has(consumer);
    for (;;) {
      if (signal?.aborted || this.#closed) return [];
      const remaining = deadline - Date.now();
      const window = Math.min(remaining, this.#blockWindow);
      const now = eager ? this.#readers.readNow(consumer, this.#readArgs(consumer, count, 0)) : undefined;
      let reply: unknown;
      try {
        reply = now !== undefined
          ? await now
          : window >= 1
          ? await this.#readers.read(consumer, this.#readArgs(consumer, count, Math.floor(window)), Math.floor(window), signal)
          : await this.#conn.send(this.keys.stream, this.#readArgs(consumer, count, 0));
      } catch (error) {
        if (isNoGroupError(error) && !this.#closed && recoveries++ < 3) {
          await this.#groups.recover(consumer.group, error);
          continue;
        }
        this.#backlog.delete(consumer);
        if (this.#closed || signal?.aborted) return [];
        throw error;
      }
      const deliveries = readGroupDeliveries(reply, this.#defaultReservation);
      if (deliveries.length > 0) {
        for (let i = 0; i < deliveries.length; i++) this.#track(deliveries[i]);
        if (deliveries.length >= count) this.#backlog.add(consumer);
        else this.#backlog.delete(consumer);
        return deliveries;
      }
      this.#backlog.delete(consumer);
      eager = false;
      if (now !== undefined) continue;
      if (window < 1 || deadline - Date.now() < 1) return [];
    }
  }

  #readArgs(consumer: Consumer, count: number, block: number): string[] {
    const args = ["XREADGROUP", "GROUP", consumer.group, consumer.name, "COUNT", String(count)];
    if (block > 0) args.push("BLOCK", String(block));
    args.push("STREAMS", this.keys.stream, ">");
    return args;
  }

  #track(delivery: Delivery): Delivery {
    if (delivery.unique) {
      this.#held.set(delivery.deliveryId, { key: this.keys.unique(delivery.unique.key), token: delivery.unique.token });
    }
    if (!delivery.malformed && delivery.reservationTimeout < this.#minReservation) {
      this.#minReservation = delivery.reservationTimeout;
    }
    return delivery;
  }

  /** Ack a batch in one script per chunk; refused entries yield false. */
  async ack(
    consumer: Consumer,
    deliveries: readonly (DeliveryRef & Pick<Delivery, "unique">)[],
  ): Promise<boolean[]> {
    const results: boolean[] = [];
    for (const batch of chunks(deliveries, this.#batchLimit)) {
      const call = ack.encode(this.keys, consumer, batch, this.#held, this.#deleteOnAck);
      ack.decode(await this.#conn.eval(ack.script, call), batch.length, results);
      for (const d of batch) this.#held.delete(d.deliveryId);
    }
    return results;
  }

  /** Complete and re-schedule (attempt + 1) in one owner-checked script. */
  async retry(consumer: Consumer, delivery: Delivery, delay: number): Promise<boolean> {
    const subscribing = this.#announcements.opening;
    if (subscribing && delay > 0) await subscribing;
    const call = retry.encode(this.keys, consumer, delivery, delay, this.#deleteOnAck);
    const done = retry.decode(await this.#conn.eval(retry.script, call));
    this.#held.delete(delivery.deliveryId);
    return done;
  }

  /**
   * Complete, release the lock and record a dead letter (and, with a
   * handler lease, its pending handler call), in one owner-checked script.
   */
  async deadLetter(
    consumer: Consumer,
    delivery: Delivery,
    reason: DeadLetterReason,
    error: FailureRecord,
    options: DeadLetterOptions = {},
  ): Promise<string | false> {
    const call = deadLetter.encode(
      this.keys,
      consumer,
      delivery,
      reason,
      error,
      options.handlerLease ?? 0,
      this.#deleteOnAck,
    );
    const id = deadLetter.decode(await this.#conn.eval(deadLetter.script, call));
    this.#held.delete(delivery.deliveryId);
    return id;
  }

  /** Lease expired pending handler calls to the caller, in one script (lease on Redis `TIME`). */
  async claimFailedHandlers(_consumer: Consumer, options: ClaimFailedHandlersOptions): Promise<DeadLetter[]> {
    const call = claimFailedHandlers.encode(this.keys, options.lease, options.count);
    return claimFailedHandlers.decode(await this.#conn.eval(claimFailedHandlers.script, call));
  }

  /** Drop the pending handler call of a dead letter (ZREM; idempotent). */
  async completeFailedHandler(deadLetterId: string): Promise<void> {
    const id = streamId(deadLetterId);
    if (id === null) return;
    await this.#conn.send(this.keys.handlers, ["ZREM", this.keys.handlers, id]);
  }

  /** Extend every reservation the consumer holds, in one script per chunk. */
  async heartbeat(
    consumer: Consumer,
    deliveries: readonly (DeliveryRef & Pick<Delivery, "reservationTimeout">)[],
  ): Promise<string[]> {
    const lost: string[] = [];
    for (const batch of chunks(deliveries, this.#batchLimit)) {
      const call = heartbeat.encode(this.keys, consumer, batch, this.#held);
      const reply = await withDeadline(
        this.#conn.eval(heartbeat.script, call),
        this.#heartbeatTimeout(batch),
        "a heartbeat",
      );
      for (const id of heartbeat.decode(reply)) {
        this.#held.delete(id);
        lost.push(id);
      }
    }
    return lost;
  }

  /**
   * Half the shortest positive reservation a heartbeat covers (none: the
   * shortest reservation seen), capped by `commandTimeout`, at least 50 ms:
   * a heartbeat slower than that cannot keep its tasks.
   */
  #heartbeatTimeout(deliveries: readonly Pick<Delivery, "reservationTimeout">[]): number {
    let shortest = Infinity;
    for (const d of deliveries) {
      const rt = d.reservationTimeout;
      if (rt > 0 && rt < shortest) shortest = rt;
    }
    if (!Number.isFinite(shortest)) shortest = Math.min(this.#minReservation, this.#defaultReservation);
    return Math.max(50, Math.min(this.#commandTimeout, Math.floor(shortest / 2)));
  }

  /** Take over deliveries idle past their own reservation; report vanished entries. */
  async reclaim(consumer: Consumer, count: number): Promise<ReclaimResult> {
    const want = Math.max(1, Math.floor(count));
    const cursor = this.#cursors.get(consumer.group) ?? "-";
    const call = reclaim.encode(this.keys, consumer, cursor, want, this.#minReservation, this.#defaultReservation);
    const reply = reclaim.decode(
      await withDeadline(this.#conn.eval(reclaim.script, call), this.#commandTimeout, "a reclaim"),
      this.#defaultReservation,
    );
    if (reply === null) {
      if (this.#groups.has(consumer.group)) await this.#groups.recover(consumer.group, "NOGROUP in reclaim");
      return { deliveries: [], lost: [] };
    }
    this.#cursors.set(consumer.group, reply.cursor);
    const { deliveries, lost } = reply;
    for (const d of deliveries) this.#track(d);
    for (const id of lost) this.#held.delete(id);
    await this.#pruneConsumers(consumer);
    return { deliveries, lost };
  }

  /** At most once per tenth of the idle timeout, delete abandoned consumers of the group. */
  async #pruneConsumers(consumer: Consumer): Promise<void> {
    const now = Date.now();
    if ((this.#nextPrune.get(consumer.group) ?? 0) > now) return;
    this.#nextPrune.set(consumer.group, now + this.#consumerIdleTimeout / 10);
    const call = pruneConsumers.encode(this.keys, consumer.group, this.#consumerIdleTimeout, consumer.name);
    const deleted = pruneConsumers.decode(await this.#conn.eval(pruneConsumers.script, call));
    if (deleted > 0) {
      this.#logger.info("removed idle consumers that owned nothing", { queue: this.name, group: consumer.group, deleted });
    }
  }

  /** Promote every due delayed task, in bounded script calls. */
  async promote(): Promise<PromoteResult> {
    let promoted = 0;
    const call = promote.encode(this.keys, this.#promoteBatch);
    for (;;) {
      const reply = promote.decode(
        await withDeadline(this.#conn.eval(promote.script, call), this.#commandTimeout, "a promote"),
      );
      promoted += reply.moved;
      if (reply.moved < this.#promoteBatch) return { promoted, nextDueAt: reply.nextDueAt, now: reply.now };
    }
  }

  /**
   * Call `listener` with the due time of each newly delayed task, from any
   * producer (Redis pub/sub on a connection opened with the first listener
   * and closed with the last).
   */
  onDelayedAdded(listener: (dueAt: number) => void): () => void {
    return this.#announcements.listen(listener);
  }

  /**
   * Close the blocking connections of these consumers and wait for a
   * subscription whose last listener left to close; a later receive opens
   * them again. The runner calls it at the end of `stop()`.
   */
  async release(consumers: readonly Consumer[]): Promise<void> {
    await Promise.all([this.#readers.release(consumers.map((c) => c.name)), this.#announcements.settled()]);
  }

  /** Counts for `group`: waiting (not yet delivered), in flight, delayed, dead, consumers. */
  async counts(group: string): Promise<QueueCounts> {
    const call = counts.encode(this.keys, group);
    return counts.decode(await this.#conn.eval(counts.script, call));
  }

  /** Delete the consumer from its group only if it owns nothing. */
  async removeConsumer(consumer: Consumer): Promise<boolean> {
    const call = removeConsumer.encode(this.keys, consumer);
    return removeConsumer.decode(await this.#conn.eval(removeConsumer.script, call));
  }

  /** Dead letters, oldest first, after `cursor` (exclusive). */
  async listDeadLetters(options: { cursor?: string | null; limit: number }): Promise<DeadLetterPage> {
    const limit = Math.max(1, Math.min(10_000, Math.floor(options.limit)));
    const cursor = options.cursor == null ? null : streamId(options.cursor);
    if (options.cursor != null && (cursor === null || cursor === MAX_STREAM_ID)) return { items: [], nextCursor: null };
    const start = cursor === null ? "-" : `(${cursor}`;
    const reply = await this.#conn.send(this.keys.dead, [
      "XRANGE",
      this.keys.dead,
      start,
      "+",
      "COUNT",
      String(limit + 1),
    ]);
    const entries = rangeEntries(reply);
    const items = entries.slice(0, limit).map(([id, f]) => decodeDeadLetter(id, f));
    return { items, nextCursor: entries.length > limit ? items[items.length - 1].deadLetterId : null };
  }

  /** One dead letter, or null (also for an id that is not a stream id). */
  async getDeadLetter(deadLetterId: string): Promise<DeadLetter | null> {
    const id = streamId(deadLetterId);
    if (id === null) return null;
    const reply = await this.#conn.send(this.keys.dead, ["XRANGE", this.keys.dead, id, id]);
    const [entry] = rangeEntries(reply);
    return entry ? decodeDeadLetter(entry[0], entry[1]) : null;
  }

  /** Move a dead letter back into the queue (attempt 0, same task id) and drop its handler call, atomically. */
  async replayDeadLetter(deadLetterId: string): Promise<boolean> {
    const id = streamId(deadLetterId);
    if (id === null) return false;
    const call = replayDeadLetter.encode(this.keys, id);
    return replayDeadLetter.decode(await this.#conn.eval(replayDeadLetter.script, call));
  }

  /** Remove a dead letter and its pending handler call, atomically. */
  async deleteDeadLetter(deadLetterId: string): Promise<boolean> {
    const id = streamId(deadLetterId);
    if (id === null) return false;
    const call = deleteDeadLetter.encode(this.keys, id);
    return deleteDeadLetter.decode(await this.#conn.eval(deleteDeadLetter.script, call));
  }

  /**
   * Add a batch of statistics to the stats hash in one script call.
   * Fields: `c:`/`f:`/`r:`/`d:` + name (completed, failed, retried, dead),
   * `rs:`/`ws:` + name (run/wait time sums, ms), `rt:<bucket>:`/`wt:<bucket>:`
   * + name (histogram buckets).
   */
  async recordStats(delta: StatsDelta): Promise<void> {
    for (const call of recordStats.encode(this.keys, delta)) {
      await this.#conn.eval(recordStats.script, call);
    }
  }

  /** Fleet-wide totals. */
  async readStats(): Promise<StatsDelta> {
    const reply = await this.#conn.send(this.keys.stats, ["HGETALL", this.keys.stats]);
    return parseStats(reply);
  }

  /** Register or refresh an instance; it expires `ttl` ms later (server clock). */
  async registerInstance(info: InstanceInfo, ttl: number): Promise<void> {
    const call = registerInstance.encode(this.keys, info, ttl);
    await this.#conn.eval(registerInstance.script, call);
  }

  /** Remove an instance from the registry. */
  async unregisterInstance(id: string): Promise<void> {
    const call = unregisterInstance.encode(this.keys, id);
    await this.#conn.eval(unregisterInstance.script, call);
  }

  /** Live instances (expired ones pruned). */
  async instances(): Promise<InstanceInfo[]> {
    const call = listInstances.encode(this.keys);
    return listInstances.decode(await this.#conn.eval(listInstances.script, call));
  }

  /** A fleet-wide one-shot token (SET NX PX). */
  async claimOnce(key: string, ttl: number): Promise<boolean> {
    const k = this.keys.once(key);
    const r = await this.#conn.send(k, ["SET", k, "1", "NX", "PX", String(Math.max(1, Math.round(ttl)))]);
    return r != null && String(r) === "OK";
  }

  /** Pause or resume consuming fleet-wide. */
  async setPaused(paused: boolean): Promise<void> {
    const k = this.keys.paused;
    await this.#conn.send(k, paused ? ["SET", k, "1"] : ["DEL", k]);
  }

  /** Whether consuming is paused. */
  async isPaused(): Promise<boolean> {
    const k = this.keys.paused;
    return Number(await this.#conn.send(k, ["EXISTS", k])) === 1;
  }

  /** Unblock readers and close the connections this queue opened. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    this.#held.clear();
    await Promise.all([this.#readers.close(), this.#announcements.close()]);
    if (this.#ownsClient) await shutConnection(this.#conn);
  }

  /** Same as {@linkcode RedisStreamQueue.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
