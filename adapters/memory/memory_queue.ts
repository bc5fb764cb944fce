/**
 * {@linkcode MemoryQueue}: the whole `MessageQueue` contract in one process.
 * It mirrors the Redis transport structure by structure: the stream with
 * its consumer groups and pending lists (`_stream.ts`), the delayed tasks
 * by due time (`_due_heap.ts`), the unique locks (`_unique_locks.ts`) and
 * the dead letters with their pending handler calls (`_dead_letters.ts`).
 * This file composes them into the contract's methods, each one synchronous
 * underneath and so atomic.
 *
 * @module
 */

import { type Clock, systemClock } from "../../src/clock.ts";
import { TransportError } from "../../src/errors.ts";
import { addTaskDelta, copyTaskDelta } from "../../src/stats.ts";
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
  TaskStatsDelta,
} from "../../src/queue.ts";
import { copyDeadLetter, DeadLetters } from "./_dead_letters.ts";
import { DueHeap } from "./_due_heap.ts";
import { type Group, type Pending, type StoredTask, TaskStream } from "./_stream.ts";
import { UniqueLocks } from "./_unique_locks.ts";

/** Options for {@linkcode MemoryQueue}. */
export interface MemoryQueueOptions {
  /**
   * Time source for every deadline (reservations, delays, lock and instance
   * TTLs) and for the wait of a blocking `receive`.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Queue name, shown in logs and the monitor as `memory:<name>`.
   * @default "default"
   */
  name?: string;
}

/**
 * Reservation timeout, in milliseconds, given to malformed entries, which
 * carry none of their own.
 */
const MALFORMED_RESERVATION_TIMEOUT = 30_000;

interface Waiter {
  notify: () => void;
}

/**
 * An in-process {@linkcode MessageQueue} with the same semantics as the
 * Redis transport: consumer groups with their own cursor and pending list,
 * ownership and delivery-count fencing, reclaim of idle deliveries, unique
 * locks taken atomically with the add, delayed tasks promoted exactly once,
 * dead letters, fleet-wide stats and an instance registry. Every instant
 * comes from the injected clock, so tests can drive time by hand.
 *
 * It holds everything in memory of one process: use it for tests, examples
 * and single-process deployments that can lose queued work on exit.
 * Every operation is synchronous underneath (O(1) amortised for add,
 * receive, ack, heartbeat; O(log n) for delayed tasks), which also makes it
 * the engine's ceiling in benchmarks without Redis.
 *
 * Once the queue is closed, every method except `onDelayedAdded` and
 * `close` rejects with a {@linkcode TransportError} (a `receive` waiting
 * when the queue closes returns with nothing).
 *
 * `injectMalformed` and `deleteEntry` are test hooks, not part of the
 * contract: they let a conformance fixture store an undecodable entry and
 * delete one behind the queue's back.
 *
 * @example Run a runner on the in-memory queue
 * ```ts
 * import { MemoryQueue } from "@taskrunner/core/memory";
 * import { TaskRunner } from "@taskrunner/core";
 *
 * const runner = new TaskRunner(new MemoryQueue(), { consumerGroup: "example" });
 * ```
 */
export class MemoryQueue implements MessageQueue {
  /** `memory:<name>`. */
  readonly name: string;

  #clock: Clock;
  #closed = false;

  #stream = new TaskStream();
  #delayed = new DueHeap<StoredTask>();
  #delayedListeners = new Set<(dueAt: number) => void>();
  #waiters = new Set<Waiter>();

  #locks = new UniqueLocks();
  #dead = new DeadLetters();

  #stats = new Map<string, TaskStatsDelta>();
  #instances = new Map<string, { info: InstanceInfo; expiresAt: number }>();
  #once = new Map<string, number>();
  #paused = false;

  /**
   * Create an empty queue.
   *
   * @param options Clock and name; see {@linkcode MemoryQueueOptions}.
   */
  constructor(options: MemoryQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.name = `memory:${options.name ?? "default"}`;
  }

  /**
   * Create the consumer group if missing. A new group starts at the
   * beginning of the queue, so it receives every task still outstanding.
   */
  init(group: string): Promise<void> {
    return this.#run(() => {
      this.#stream.group(group);
    });
  }

  /**
   * Add tasks, each with its unique lock when it has one; a task whose lock
   * is held yields `{ ok: false, reason: "duplicate", existingId }`.
   *
   * @returns One result per task, in input order.
   */
  add(tasks: readonly NewTask[]): Promise<AddResult[]> {
    return this.#run(() => {
      const now = this.#clock.now();
      const results: AddResult[] = [];
      let ready = false;
      for (const task of tasks) {
        if (task.unique) {
          const held = this.#locks.holder(task.unique.key, now);
          if (held) {
            results.push({ ok: false, reason: "duplicate", existingId: held.taskId });
            continue;
          }
          this.#locks.take(task.unique, task.id, now);
        }
        const stored: StoredTask = {
          id: task.id,
          name: task.name,
          body: task.body,
          attempt: task.attempt,
          reservationTimeout: task.reservationTimeout,
          dispatchedAt: task.dispatchedAt ?? now,
        };
        if (task.unique) stored.unique = { key: task.unique.key, token: task.unique.token };
        if (task.delay !== undefined && task.delay > 0) {
          this.#schedule(stored, now + task.delay);
        } else {
          this.#stream.append(stored, now);
          ready = true;
        }
        results.push({ ok: true, id: task.id });
      }
      if (ready) this.#wake();
      return results;
    });
  }

  /**
   * Deliver up to `count` tasks never delivered to the consumer's group,
   * waiting up to `block` ms on the clock when none is ready. Returns early
   * when work arrives, when `signal` aborts, or with nothing when the queue
   * is closed meanwhile.
   */
  async receive(consumer: Consumer, options: ReceiveOptions): Promise<Delivery[]> {
    this.#assertOpen();
    const group = this.#stream.group(consumer.group);
    this.#stream.owned(group, consumer.name);
    const first = this.#stream.deliver(group, consumer.name, options.count, this.#clock.now());
    if (first.length > 0 || options.block <= 0 || options.signal?.aborted) return first;

    const waiter: Waiter = { notify: () => {} };
    const signal = options.signal;
    let timedOut = false;
    const onAbort = (): void => waiter.notify();
    const timer = this.#clock.setTimeout(() => {
      timedOut = true;
      waiter.notify();
    }, options.block);
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#waiters.add(waiter);
    try {
      for (;;) {
        await new Promise<void>((resolve) => {
          waiter.notify = resolve;
        });
        if (this.#closed) return [];
        const got = this.#stream.deliver(group, consumer.name, options.count, this.#clock.now());
        if (got.length > 0 || timedOut || signal?.aborted) return got;
      }
    } finally {
      this.#waiters.delete(waiter);
      this.#clock.clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Complete deliveries still owned by `consumer` with the same
   * `deliveryCount`: remove their entries and release their unique locks
   * by token (shortened to the rest of `holdFor` when that has not passed).
   *
   * @returns Per delivery, in input order, whether it was completed.
   */
  ack(
    consumer: Consumer,
    deliveries: readonly (DeliveryRef & Pick<Delivery, "unique">)[],
  ): Promise<boolean[]> {
    return this.#run(() => {
      const now = this.#clock.now();
      return deliveries.map((ref) => {
        const owned = this.#owned(consumer, ref);
        if (!owned) return false;
        this.#stream.complete(owned.group, owned.pending);
        if (owned.unique) this.#locks.release(owned.unique.key, owned.unique.token, now);
        return true;
      });
    });
  }

  /**
   * Complete `delivery` and schedule its task again with `attempt` + 1
   * after `delay` ms (0: ready at once), keeping its id, `dispatchedAt` and
   * unique lock.
   *
   * @returns false (nothing changed) unless `consumer` still owns it.
   */
  retry(consumer: Consumer, delivery: Delivery, delay: number): Promise<boolean> {
    return this.#run(() => {
      const now = this.#clock.now();
      const owned = this.#owned(consumer, delivery);
      if (!owned) return false;
      this.#stream.complete(owned.group, owned.pending);
      const stored: StoredTask = {
        id: delivery.id,
        name: delivery.name,
        body: delivery.body,
        attempt: delivery.attempt + 1,
        reservationTimeout: delivery.reservationTimeout,
        dispatchedAt: delivery.dispatchedAt,
      };
      if (owned.unique) stored.unique = { key: owned.unique.key, token: owned.unique.token };
      if (delivery.malformed !== undefined) stored.malformed = delivery.malformed;
      if (delay > 0) {
        this.#schedule(stored, now + delay);
      } else {
        this.#stream.append(stored, now);
        this.#wake();
      }
      return true;
    });
  }

  /**
   * Complete `delivery`, release its unique lock and record it as a dead
   * letter with `reason` and `error`; its `attempt` counts the failed run
   * that ended here. With `options.handlerLease` > 0, a failed-handler call
   * is marked pending, leased for that many ms.
   *
   * @returns The new dead letter's id to exactly one caller per delivery;
   *   false unless `consumer` still owns it.
   */
  deadLetter(
    consumer: Consumer,
    delivery: Delivery,
    reason: DeadLetterReason,
    error: FailureRecord,
    options: DeadLetterOptions = {},
  ): Promise<string | false> {
    return this.#run(() => {
      const now = this.#clock.now();
      const owned = this.#owned(consumer, delivery);
      if (!owned) return false;
      this.#stream.complete(owned.group, owned.pending);
      if (owned.unique) this.#locks.release(owned.unique.key, owned.unique.token, now);
      const failure: FailureRecord = { name: error.name, message: error.message };
      if (error.stack !== undefined) failure.stack = error.stack;
      const deadLetterId = this.#dead.add({
        id: delivery.id,
        name: delivery.name,
        body: delivery.body,
        attempt: delivery.attempt + 1,
        reason,
        error: failure,
        dispatchedAt: delivery.dispatchedAt,
        failedAt: now,
      }, {
        reservationTimeout: delivery.reservationTimeout,
        ...(delivery.malformed !== undefined ? { malformed: delivery.malformed } : {}),
      });
      const lease = options.handlerLease ?? 0;
      if (lease > 0) this.#dead.leaseHandler(deadLetterId, now + lease);
      return deadLetterId;
    });
  }

  /**
   * Lease up to `count` pending failed-handler calls whose lease expired
   * (earliest expiry first) to the caller for `lease` ms.
   *
   * @returns Their dead letters.
   */
  claimFailedHandlers(_consumer: Consumer, options: ClaimFailedHandlersOptions): Promise<DeadLetter[]> {
    return this.#run(() => this.#dead.claimHandlers(this.#clock.now(), options.lease, options.count));
  }

  /**
   * Drop the pending failed-handler call of a dead letter. Idempotent.
   */
  completeFailedHandler(deadLetterId: string): Promise<void> {
    return this.#run(() => {
      this.#dead.completeHandler(deadLetterId);
    });
  }

  /**
   * Reset the idle time of the deliveries `consumer` still owns and extend
   * their unique locks' backstop TTL.
   *
   * @returns The `deliveryId`s it no longer owns (reclaimed or gone).
   */
  heartbeat(consumer: Consumer, deliveries: readonly DeliveryRef[]): Promise<string[]> {
    return this.#run(() => {
      const now = this.#clock.now();
      const lost: string[] = [];
      for (const ref of deliveries) {
        const owned = this.#owned(consumer, ref);
        if (!owned) {
          lost.push(ref.deliveryId);
          continue;
        }
        if (owned.pending.gone) {
          this.#stream.drop(owned.group, owned.pending);
          lost.push(ref.deliveryId);
          continue;
        }
        owned.pending.lastSeen = now;
        const unique = owned.pending.entry.task.unique;
        if (unique) this.#locks.extend(unique.key, unique.token, now);
      }
      return lost;
    });
  }

  /**
   * Take over up to `count` deliveries of the group idle for at least their
   * own reservation timeout, incrementing their `deliveryCount`. The scan
   * resumes where the previous one stopped, so every pending delivery gets
   * its turn. Pending deliveries whose entry was removed are dropped and
   * reported in `lost`.
   */
  reclaim(consumer: Consumer, count: number): Promise<ReclaimResult> {
    return this.#run(() => {
      const group = this.#stream.group(consumer.group);
      return this.#stream.reclaim(group, consumer.name, count, this.#clock.now());
    });
  }

  /**
   * Move every delayed task due at or before the clock's now into the ready
   * queue (each exactly once) and wake blocked receivers.
   */
  promote(): Promise<PromoteResult> {
    return this.#run(() => {
      const now = this.#clock.now();
      let promoted = 0;
      for (let next = this.#delayed.peek(); next && next.dueAt <= now; next = this.#delayed.peek()) {
        this.#delayed.pop();
        this.#stream.append(next.value, next.dueAt);
        promoted++;
      }
      if (promoted > 0) this.#wake();
      return { promoted, nextDueAt: this.#delayed.peek()?.dueAt ?? null, now };
    });
  }

  /**
   * Call `listener` with the due time of every delayed task added from now
   * on (by `add` with a delay or by `retry` with a delay).
   *
   * @returns A function that unsubscribes `listener`.
   */
  onDelayedAdded(listener: (dueAt: number) => void): () => void {
    const own = (dueAt: number): void => listener(dueAt);
    this.#delayedListeners.add(own);
    return () => {
      this.#delayedListeners.delete(own);
    };
  }

  /**
   * Counts for `group`; a group not created yet has every ready task
   * waiting and no consumer.
   */
  counts(group: string): Promise<QueueCounts> {
    return this.#run(() => {
      const g = this.#stream.findGroup(group);
      return {
        waiting: this.#stream.waiting(g),
        inFlight: g?.pending.size ?? 0,
        delayed: this.#delayed.size,
        dead: this.#dead.size,
        consumers: g?.consumers.size ?? 0,
      };
    });
  }

  /**
   * Remove a consumer from its group unless it owns a delivery.
   *
   * @returns false when it still owns one; true otherwise (also when it was
   *   not registered).
   */
  removeConsumer(consumer: Consumer): Promise<boolean> {
    return this.#run(() => {
      const group = this.#stream.findGroup(consumer.group);
      const owned = group?.consumers.get(consumer.name);
      if (!group || !owned) return true;
      if (owned.size > 0) return false;
      group.consumers.delete(consumer.name);
      return true;
    });
  }

  /**
   * Dead letters, oldest first, after `cursor` (exclusive), at most `limit`.
   * A cursor this queue never issued yields an empty page.
   */
  listDeadLetters(options: { cursor?: string | null; limit: number }): Promise<DeadLetterPage> {
    return this.#run(() => {
      return this.#dead.page(options.cursor, options.limit);
    });
  }

  /**
   * Fetch one dead letter.
   *
   * @returns The dead letter, or null when there is no such id.
   */
  getDeadLetter(deadLetterId: string): Promise<DeadLetter | null> {
    return this.#run(() => {
      const record = this.#dead.get(deadLetterId);
      return record ? copyDeadLetter(record.letter) : null;
    });
  }

  /**
   * Remove a dead letter (and its pending handler call) and add its task
   * again: attempt 0, ready at once, same task id, no unique lock.
   *
   * @returns false when there is no such id.
   */
  replayDeadLetter(deadLetterId: string): Promise<boolean> {
    return this.#run(() => {
      const record = this.#dead.get(deadLetterId);
      if (!record) return false;
      this.#dead.delete(deadLetterId);
      const { letter } = record;
      const stored: StoredTask = {
        id: letter.id,
        name: letter.name,
        body: letter.body,
        attempt: 0,
        reservationTimeout: record.reservationTimeout,
        dispatchedAt: letter.dispatchedAt,
      };
      if (record.malformed !== undefined) stored.malformed = record.malformed;
      this.#stream.append(stored, this.#clock.now());
      this.#wake();
      return true;
    });
  }

  /**
   * Remove a dead letter and its pending handler call.
   *
   * @returns false when there is no such id.
   */
  deleteDeadLetter(deadLetterId: string): Promise<boolean> {
    return this.#run(() => {
      return this.#dead.delete(deadLetterId);
    });
  }

  /**
   * Add a batch of statistics to the totals (counters and sums added,
   * histogram buckets added index by index).
   */
  recordStats(delta: StatsDelta): Promise<void> {
    return this.#run(() => {
      for (const [name, part] of Object.entries(delta.tasks)) {
        const total = this.#stats.get(name);
        if (total) addTaskDelta(total, part);
        else this.#stats.set(name, copyTaskDelta(part));
      }
    });
  }

  /**
   * Totals since the queue was created.
   */
  readStats(): Promise<StatsDelta> {
    return this.#run(() => {
      const tasks: Record<string, TaskStatsDelta> = {};
      for (const [name, total] of this.#stats) tasks[name] = copyTaskDelta(total);
      return { tasks };
    });
  }

  /**
   * Register or refresh an instance; it is listed until `ttl` ms pass
   * without a refresh. `lastSeen` is set to the clock's now.
   */
  registerInstance(info: InstanceInfo, ttl: number): Promise<void> {
    return this.#run(() => {
      const now = this.#clock.now();
      this.#instances.set(info.id, { info: { ...info, lastSeen: now }, expiresAt: now + ttl });
    });
  }

  /**
   * Remove an instance from the registry.
   */
  unregisterInstance(id: string): Promise<void> {
    return this.#run(() => {
      this.#instances.delete(id);
    });
  }

  /**
   * Live instances, in registration order.
   */
  instances(): Promise<InstanceInfo[]> {
    return this.#run(() => {
      const now = this.#clock.now();
      const live: InstanceInfo[] = [];
      for (const [id, item] of this.#instances) {
        if (item.expiresAt <= now) this.#instances.delete(id);
        else live.push({ ...item.info });
      }
      return live;
    });
  }

  /**
   * Take a one-shot token for `key`.
   *
   * @returns true to exactly one caller per `key` until `ttl` ms have passed.
   */
  claimOnce(key: string, ttl: number): Promise<boolean> {
    return this.#run(() => {
      const now = this.#clock.now();
      const expiresAt = this.#once.get(key);
      if (expiresAt !== undefined && expiresAt > now) return false;
      this.#once.set(key, now + ttl);
      return true;
    });
  }

  /**
   * Set the paused flag (the runner stops fetching while it is set).
   */
  setPaused(paused: boolean): Promise<void> {
    return this.#run(() => {
      this.#paused = paused;
    });
  }

  /**
   * Whether the paused flag is set.
   */
  isPaused(): Promise<boolean> {
    return this.#run(() => this.#paused);
  }

  /**
   * Close the queue: blocked `receive` calls return what they have (nothing)
   * and every later call rejects with a {@linkcode TransportError}.
   * Idempotent. The queued tasks are dropped with the object.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const waiter of this.#waiters) waiter.notify();
      this.#waiters.clear();
      this.#delayedListeners.clear();
    }
    return Promise.resolve();
  }

  /**
   * Test hook (not part of the contract), for the conformance suite's
   * fixture: add an entry that cannot be decoded, as a
   * foreign writer or corrupt data would. It is delivered with `malformed`
   * set to `reason`, empty `name` and `body`, and its delivery id as `id`.
   *
   * @param reason What is wrong with the entry.
   * @returns The delivery id of the entry.
   */
  injectMalformed(reason: string = "entry has no task fields"): Promise<string> {
    return this.#run(() => {
      const now = this.#clock.now();
      const entry = this.#stream.append({
        id: "",
        name: "",
        body: "",
        attempt: 0,
        reservationTimeout: MALFORMED_RESERVATION_TIMEOUT,
        dispatchedAt: now,
        malformed: reason,
      }, now);
      entry.task.id = entry.deliveryId;
      this.#wake();
      return entry.deliveryId;
    });
  }

  /**
   * Test hook (not part of the contract), for the conformance suite's
   * fixture: delete a stored entry behind the queue's back,
   * as an outside `XDEL` or trim would. Deliveries of it still pending are
   * then reported as lost by `reclaim` and `heartbeat`.
   *
   * @param deliveryId The entry's delivery id.
   * @returns false when there was no such entry.
   */
  deleteEntry(deliveryId: string): Promise<boolean> {
    return this.#run(() => {
      const entry = this.#stream.find(deliveryId);
      if (!entry) return false;
      this.#stream.remove(entry);
      return true;
    });
  }

  // ---------------------------------------------------------------- internals

  /**
   * The check every fenced step (ack, retry, dead-letter, heartbeat) starts
   * with: the pending delivery `ref` names, when `consumer` still owns it
   * with the same delivery count, with the unique lock it holds (the one the
   * caller names, else the one stored with the task).
   */
  #owned(
    consumer: Consumer,
    ref: DeliveryRef & Pick<Delivery, "unique">,
  ): { group: Group; pending: Pending; unique: { key: string; token: string } | undefined } | null {
    const group = this.#stream.findGroup(consumer.group);
    const pending = group && this.#stream.owner(group, consumer.name, ref);
    if (!group || !pending) return null;
    return { group, pending, unique: ref.unique ?? pending.entry.task.unique };
  }

  #run<T>(fn: () => T): Promise<T> {
    try {
      this.#assertOpen();
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new TransportError(`Queue ${this.name} is closed: create a new MemoryQueue to use it again`);
    }
  }

  #schedule(task: StoredTask, dueAt: number): void {
    this.#delayed.push(dueAt, task);
    for (const listener of this.#delayedListeners) {
      try {
        listener(dueAt);
      } catch {
        // A listener's failure is its own; the add has happened.
      }
    }
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter.notify();
  }
}
