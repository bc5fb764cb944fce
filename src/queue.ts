/**
 * The transport contract: what the task engine needs from a queue.
 *
 * The engine owns task semantics (registry, retry policy, timeouts, stats
 * aggregation); a transport owns storage and delivery, and does atomically
 * what must be atomic. Every behaviour described here is pinned by the
 * conformance suite exported from `@taskrunner/core/testing`; a transport
 * proves itself by passing it. `MemoryQueue` (`./memory`) and
 * `RedisStreamQueue` (`./redis`) both do.
 *
 * Vocabulary:
 * - a **task** is one unit of work with a stable `id` that survives retries;
 * - a **delivery** is one hand-over of a task to a consumer; it has its own
 *   `deliveryId` (a stream entry id on Redis) and a `deliveryCount` that the
 *   transport increments each time the same delivery is handed out again
 *   (after a reclaim). `deliveryCount` is the fencing value: ack, retry,
 *   dead-letter and heartbeat are refused unless the caller is still the
 *   owner AND the count it holds matches;
 * - a **consumer** is `{ group, name }`; within a group a delivery is owned
 *   by exactly one consumer name at a time. The queue is a work queue: ack
 *   removes the task, so a task runs once in the whole fleet even when
 *   several groups read the same queue (a group that has not received a task
 *   before another group acked it never sees it). The runners of one
 *   application share one group; for fan-out, use one queue per consumer;
 * - a **reservation** is how long a delivery may stay idle (no heartbeat)
 *   before another consumer may reclaim it. It is per task
 *   (`NewTask.reservationTimeout`) and is measured on the transport's clock.
 *
 * The contract is composed of named roles, in the order the conformance
 * suite tests them: {@linkcode DeliveryTransport} (add, receive, ack, retry,
 * dead-letter, heartbeat, reclaim, promote), {@linkcode FailedHandlerLeases},
 * {@linkcode DeadLetterStore}, {@linkcode StatsStore} and
 * {@linkcode FleetRegistry}. {@linkcode MessageQueue} is all five plus a
 * name, an optional process identity and `close`; code that needs one role
 * (the monitor reading dead letters) can ask for that role only.
 *
 * All durations are milliseconds; all instants are Unix epoch milliseconds on
 * the transport's clock (Redis `TIME` for Redis), never the caller's.
 *
 * @module
 */

/** A unique-lock request taken in the same atomic step as the add. */
export interface UniqueLock {
  /** Lock key, already namespaced by the engine (task name + unique key). */
  key: string;
  /** Random token identifying this holder; release is by token only. */
  token: string;
  /**
   * Minimum time the lock is kept after it was taken, in milliseconds
   * (`uniqueFor`): a release before then shortens the lock to the rest of
   * this period instead of deleting it. 0 means "release on completion".
   */
  holdFor: number;
  /**
   * Backstop time-to-live, in milliseconds, so a crashed producer or a lost
   * task cannot hold the lock forever. Always >= `holdFor`.
   */
  ttl: number;
}

/** A task to add to the queue. */
export interface NewTask {
  /** Task id, chosen by the engine; stable across retries. */
  id: string;
  /** Registered task name. */
  name: string;
  /** Encoded payload (the engine's codec output, JSON text). */
  body: string;
  /** Number of failed runs so far: 0 on dispatch, +1 on each retry. */
  attempt: number;
  /** Reservation timeout for deliveries of this task, in milliseconds. */
  reservationTimeout: number;
  /** Epoch ms at which the task was first dispatched (kept across retries). */
  dispatchedAt?: number;
  /**
   * Make the task visible only after this many milliseconds (0 or absent:
   * at once). Measured on the transport's clock.
   */
  delay?: number;
  /** Take this unique lock atomically with the add; refuse the add if held. */
  unique?: UniqueLock;
}

/** Outcome of adding one task. */
export type AddResult =
  | { readonly ok: true; readonly id: string }
  | {
    readonly ok: false;
    /** The unique lock is held: the task was not added. */
    readonly reason: "duplicate";
    /** Id of the task holding the lock, when the transport knows it. */
    readonly existingId: string | null;
  };

/** Identifies a consumer: a group and a member name within it. */
export interface Consumer {
  /** Consumer group (the runners of one application share one). */
  group: string;
  /** Member name, unique per fetch loop (prefix + host + pid + n). */
  name: string;
}

/** What a consumer needs to prove ownership of a delivery. */
export interface DeliveryRef {
  /** Transport id of the delivery (stream entry id on Redis). */
  deliveryId: string;
  /** Delivery count seen when the consumer received or reclaimed it. */
  deliveryCount: number;
}

/** One task handed to a consumer. */
export interface Delivery extends DeliveryRef {
  /** Task id (stable across retries). */
  id: string;
  /** Task name; "" when the entry was malformed (see `malformed`). */
  name: string;
  /** Encoded payload; "" when malformed. */
  body: string;
  /** Number of failed runs before this one. */
  attempt: number;
  /** Reservation timeout of this delivery, in milliseconds. */
  reservationTimeout: number;
  /** Epoch ms when the task was first dispatched. */
  dispatchedAt: number;
  /** Epoch ms when the task became ready to run (after any delay). */
  readyAt: number;
  /** Unique lock held by this task, released on ack or dead-letter. */
  unique?: { key: string; token: string };
  /**
   * Set when the stored entry could not be decoded (foreign writer, missing
   * fields, corrupt data). The engine dead-letters such deliveries with this
   * reason instead of running them; the transport must still hand them out.
   */
  malformed?: string;
}

/** Options for {@linkcode DeliveryTransport.receive}. */
export interface ReceiveOptions {
  /** Maximum number of deliveries to return (>= 1). */
  count: number;
  /**
   * How long to wait for work when none is ready, in milliseconds. 0 means
   * return at once. Transports bound this themselves (short windows), so a
   * call returns within `block` plus a small margin.
   */
  block: number;
  /** Aborting returns promptly with whatever was received (possibly none). */
  signal?: AbortSignal;
}

/** Result of a reclaim pass. */
export interface ReclaimResult {
  /** Deliveries whose reservation lapsed, now owned by the caller. */
  deliveries: Delivery[];
  /**
   * Ids of deliveries that were pending but whose stored entry no longer
   * exists (deleted or trimmed outside the library). They are dropped from
   * the pending list and reported so the loss is never silent.
   */
  lost: string[];
}

/**
 * Every reason a task may go to the dead-letter store, so a transport that
 * reads reasons back from storage can check them:
 * - `"max-retries"`: every allowed attempt failed;
 * - `"unrecoverable"`: the action threw an `UnrecoverableError`;
 * - `"unknown-task"`: no task of this name is registered on the instances
 *   that saw it;
 * - `"invalid-payload"`: the payload failed its schema or could not be decoded;
 * - `"malformed"`: the stored entry itself was malformed;
 * - `"poison"`: delivered too many times without completing (crash loop).
 */
export const DEAD_LETTER_REASONS: readonly [
  "max-retries",
  "unrecoverable",
  "unknown-task",
  "invalid-payload",
  "malformed",
  "poison",
] = Object.freeze(["max-retries", "unrecoverable", "unknown-task", "invalid-payload", "malformed", "poison"] as const);

/** Why a task went to the dead-letter store; see {@linkcode DEAD_LETTER_REASONS}. */
export type DeadLetterReason = typeof DEAD_LETTER_REASONS[number];

/** The error recorded with a dead letter. */
export interface FailureRecord {
  /** Error class name ("TypeError"; "NonErrorThrown" for `throw 42`). */
  name: string;
  /** Error message (for non-Errors, a rendering of the thrown value). */
  message: string;
  /** Stack trace, when the thrown value had one. */
  stack?: string;
}

/** A task in the dead-letter store. */
export interface DeadLetter {
  /** Id of the dead letter itself (used to replay or delete it). */
  deadLetterId: string;
  /** Task id. */
  id: string;
  /** Task name ("" for a malformed entry). */
  name: string;
  /** Encoded payload, as dispatched. */
  body: string;
  /** Failed runs counted, including the last one. */
  attempt: number;
  /** Why the task was dead-lettered. */
  reason: DeadLetterReason;
  /** The last real error. */
  error: FailureRecord;
  /** Epoch ms when the task was first dispatched. */
  dispatchedAt: number;
  /** Epoch ms when it was dead-lettered. */
  failedAt: number;
}

/** Options for {@linkcode DeliveryTransport.deadLetter}. */
export interface DeadLetterOptions {
  /**
   * Record, in the same atomic step, a pending failed-task-handler call for
   * the new dead letter, leased to the calling consumer for this many
   * milliseconds (measured on the transport's clock). The engine calls the
   * handler and then {@linkcode FailedHandlerLeases.completeFailedHandler}; if the
   * caller dies in between, another consumer takes the call over with
   * {@linkcode FailedHandlerLeases.claimFailedHandlers} once the lease has expired.
   * 0 or absent: no handler call is pending (runners without a
   * `failedTaskHandler`).
   * @default 0
   */
  handlerLease?: number;
}

/** Options for {@linkcode FailedHandlerLeases.claimFailedHandlers}. */
export interface ClaimFailedHandlersOptions {
  /**
   * Lease given to each claimed handler call, in milliseconds (transport
   * clock): nobody else may claim it before the lease expires.
   */
  lease: number;
  /** Maximum number of handler calls to claim (>= 1). */
  count: number;
}

/** A page of dead letters, oldest first. */
export interface DeadLetterPage {
  /** Dead letters of this page, oldest first. */
  items: DeadLetter[];
  /** Pass back as `cursor` for the next page; null when there is none. */
  nextCursor: string | null;
}

/** Outcome of promoting due delayed tasks. */
export interface PromoteResult {
  /** How many delayed tasks were made ready by this call. */
  promoted: number;
  /** Epoch ms of the earliest remaining delayed task; null when none. */
  nextDueAt: number | null;
  /** The transport's current time, epoch ms, to compute sleeps against. */
  now: number;
}

/** Counts describing the queue right now. */
export interface QueueCounts {
  /** Ready tasks not yet delivered to the given group. */
  waiting: number;
  /** Delivered to the group and not yet acked (running or prefetched). */
  inFlight: number;
  /** Scheduled for later (delays and retry backoffs). */
  delayed: number;
  /** In the dead-letter store. */
  dead: number;
  /** Consumers registered in the group. */
  consumers: number;
}

/** A runner instance's entry in the live-instance registry. */
export interface InstanceInfo {
  /** Unique instance id. */
  id: string;
  /** Host name of the machine the instance runs on. */
  host: string;
  /** Process id of the instance (0 when unknown). */
  pid: number;
  /** Worker slots of this instance (`numWorkers`). */
  workers: number;
  /** Tasks running on this instance at the last heartbeat. */
  busy: number;
  /** Epoch ms when the instance started. */
  startedAt: number;
  /** Epoch ms of the last heartbeat (set by the transport). */
  lastSeen?: number;
}

/**
 * A batch of statistics, added to the fleet-wide totals. Histograms are
 * counts per bucket of {@linkcode HISTOGRAM_BUCKETS} (plus one overflow
 * bucket), so instances merge by adding.
 */
export interface StatsDelta {
  /** Statistics per task name. */
  tasks: Record<string, TaskStatsDelta>;
}

/** Per task-name part of {@linkcode StatsDelta}. */
export interface TaskStatsDelta {
  /** Runs that succeeded. */
  completed: number;
  /** Runs that failed (retried or not). */
  failed: number;
  /** Failed runs scheduled to run again. */
  retried: number;
  /** Tasks moved to the dead-letter store. */
  dead: number;
  /** Sum of run times of completed runs, in milliseconds. */
  runTimeSum: number;
  /** Bucket counts of run time (ms), length HISTOGRAM_BUCKETS.length + 1. */
  runTime: number[];
  /** Sum of wait times (ready → start), in milliseconds. */
  waitTimeSum: number;
  /** Bucket counts of wait time (ms), length HISTOGRAM_BUCKETS.length + 1. */
  waitTime: number[];
}

/**
 * Upper bounds, in milliseconds, of the histogram buckets used for run and
 * wait times. The last implicit bucket is +Inf.
 *
 * The bounds are part of the {@linkcode StatsStore} contract, not of the
 * engine's arithmetic: transports store bucket arrays of this length + 1,
 * the monitor labels Prometheus buckets with them, and instances merge by
 * adding index by index, so changing them changes the stored format.
 */
export const HISTOGRAM_BUCKETS: readonly number[] = Object.freeze([
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000,
  60_000, 300_000,
]);

/**
 * The delivery role: adding tasks, handing them to consumers, and the
 * fenced steps that end or extend a delivery (ack, retry, dead-letter,
 * heartbeat), with reclaim of what crashed consumers held and promotion of
 * due delayed tasks. Methods taking a `Consumer` act for that member of its
 * group.
 */
export interface DeliveryTransport {
  /**
   * Create the consumer group if missing, check the backend, start what the
   * transport needs. Idempotent. Called by the runner on start.
   */
  init(group: string): Promise<void>;

  /**
   * Add tasks, each atomically with its unique lock when it has one. A task
   * whose lock is held is not added and yields `{ ok: false, reason:
   * "duplicate" }`; the others are added. Results are in input order.
   */
  add(tasks: readonly NewTask[]): Promise<AddResult[]>;

  /**
   * Deliver up to `count` ready tasks never delivered to this group, owned
   * by `consumer` from now on, with `deliveryCount` 1. Waits up to `block`
   * ms when none is ready. Deliveries of unreadable entries are returned
   * with `malformed` set, never dropped or thrown.
   */
  receive(consumer: Consumer, options: ReceiveOptions): Promise<Delivery[]>;

  /**
   * Complete deliveries: remove them from the queue and release their unique
   * locks (by token, honouring `holdFor`). Only deliveries still owned by
   * `consumer` with the same `deliveryCount` are completed. Returns, in
   * input order, whether each was completed (`false`: ownership was lost,
   * the ack was refused and the task stays with its new owner).
   */
  ack(
    consumer: Consumer,
    deliveries: readonly (DeliveryRef & Pick<Delivery, "unique">)[],
  ): Promise<boolean[]>;

  /**
   * In one atomic step, complete `delivery` and schedule its task again
   * with `attempt` + 1 after `delay` ms (0: ready at once), keeping its id,
   * `dispatchedAt` and unique lock. Refused (returns false, nothing
   * changes) unless `consumer` still owns the delivery.
   */
  retry(consumer: Consumer, delivery: Delivery, delay: number): Promise<boolean>;

  /**
   * In one atomic step, complete `delivery`, release its unique lock and
   * record it in the dead-letter store with `reason` and `error` (and, with
   * `options.handlerLease`, a pending failed-task-handler call leased to
   * `consumer`). Refused (false) unless `consumer` still owns it; the new
   * dead letter's id (a non-empty string) is returned to exactly one caller
   * per delivery, so the engine calls the failed-task handler once.
   */
  deadLetter(
    consumer: Consumer,
    delivery: Delivery,
    reason: DeadLetterReason,
    error: FailureRecord,
    options?: DeadLetterOptions,
  ): Promise<string | false>;

  /**
   * Extend the reservations of everything `consumer` holds in `deliveries`
   * (reset their idle time; extend their unique locks' backstop TTL) in one
   * call. Returns the `deliveryId`s it no longer owns (reclaimed by another
   * consumer or gone); the engine aborts those tasks and never acks them.
   * The engine passes the deliveries it holds; a transport may use their
   * `reservationTimeout` to bound how long the call may take.
   */
  heartbeat(
    consumer: Consumer,
    deliveries: readonly (DeliveryRef & Pick<Delivery, "reservationTimeout">)[],
  ): Promise<string[]>;

  /**
   * Take over up to `count` deliveries of the group idle longer than their
   * own reservation timeout (their consumer crashed or stalled). Each
   * reclaimed delivery's `deliveryCount` is incremented and returned. Keeps
   * a cursor so repeated calls scan the whole pending list fairly.
   */
  reclaim(consumer: Consumer, count: number): Promise<ReclaimResult>;

  /**
   * Move every delayed task that is due (due time <= transport now) into the
   * ready queue, atomically: concurrent callers never promote one task
   * twice, and no leader is needed.
   */
  promote(): Promise<PromoteResult>;

  /**
   * Optional: call `listener` with a task's due time whenever a delayed
   * task is added (by any producer of this queue), so promoters can sleep
   * until the next due time yet wake early. Returns an unsubscribe function.
   */
  onDelayedAdded?(listener: (dueAt: number) => void): () => void;

  /** Remove a consumer from its group, only if it owns no delivery. */
  removeConsumer(consumer: Consumer): Promise<boolean>;

  /**
   * Optional: release what the transport opened to serve these consumers
   * (a blocking connection per consumer, a subscription nobody listens to
   * any more), so a stopped runner leaves nothing open that keeps the
   * process alive. The runner calls it once at the end of `stop()`, after
   * its fetch loops ended and its promoter unsubscribed. Idempotent; a later
   * `receive` for the same consumer opens what it needs again.
   *
   * Fallback when absent: whatever the transport opened per consumer stays
   * open until `close()`. A transport that opens nothing per consumer (the
   * memory queue) needs no `release`.
   */
  release?(consumers: readonly Consumer[]): Promise<void>;
}

/**
 * The failed-handler lease role: pending `failedTaskHandler` calls, recorded
 * with the dead letter (see {@linkcode DeadLetterOptions.handlerLease}) and
 * taken over when the runner that owed them died.
 */
export interface FailedHandlerLeases {
  /**
   * Take over up to `count` pending failed-task-handler calls whose lease
   * has expired (their consumer died before completing them), leasing each
   * to `consumer` for `options.lease` ms from now. Concurrent callers never
   * claim one call within the same lease. Returns the dead letters whose
   * handler the caller must now run, then complete.
   */
  claimFailedHandlers(consumer: Consumer, options: ClaimFailedHandlersOptions): Promise<DeadLetter[]>;

  /**
   * Mark the failed-task-handler call of a dead letter done: it is never
   * claimed again. Idempotent (no pending call, or no such id, is fine).
   */
  completeFailedHandler(deadLetterId: string): Promise<void>;
}

/** The dead-letter store role: listing, reading, replaying and deleting dead letters. */
export interface DeadLetterStore {
  /** Dead letters, oldest first, from `cursor` (exclusive), at most `limit`. */
  listDeadLetters(
    options: { cursor?: string | null; limit: number },
  ): Promise<DeadLetterPage>;
  /** Fetch one dead letter; null if there is no such id. */
  getDeadLetter(deadLetterId: string): Promise<DeadLetter | null>;
  /**
   * Atomically remove a dead letter (and its pending handler call) and add
   * its task again (attempt 0, ready at once, same task id). Returns false
   * if there was no such id.
   */
  replayDeadLetter(deadLetterId: string): Promise<boolean>;
  /**
   * Remove a dead letter and its pending handler call. Returns false if
   * there was no such id.
   */
  deleteDeadLetter(deadLetterId: string): Promise<boolean>;
}

/**
 * The stats role: fleet-wide counters and histograms kept in the transport
 * so every instance (and the monitor) sees the whole queue, and the counts
 * of the queue right now.
 */
export interface StatsStore {
  /** Add a batch of statistics to the fleet-wide totals. */
  recordStats(delta: StatsDelta): Promise<void>;
  /** Fleet-wide totals since the queue was created (or stats reset). */
  readStats(): Promise<StatsDelta>;

  /** Counts for `group` at this moment. */
  counts(group: string): Promise<QueueCounts>;
}

/**
 * The fleet registry role: live runner instances, fleet-wide one-shot
 * tokens, and the fleet-wide pause flag.
 */
export interface FleetRegistry {
  /**
   * Register or refresh a live runner instance; it disappears from
   * `instances()` when not refreshed within `ttl` ms.
   */
  registerInstance(info: InstanceInfo, ttl: number): Promise<void>;
  /** Remove an instance from the registry (clean shutdown). */
  unregisterInstance(id: string): Promise<void>;
  /** Live instances. */
  instances(): Promise<InstanceInfo[]>;

  /**
   * Take a fleet-wide one-shot token: returns true to exactly one caller per
   * `key` until `ttl` ms have passed. Used so the long-queue hook fires once
   * across the fleet.
   */
  claimOnce(key: string, ttl: number): Promise<boolean>;

  /** Pause or resume consuming for the whole fleet. */
  setPaused(paused: boolean): Promise<void>;
  /** Whether consuming is paused. */
  isPaused(): Promise<boolean>;
}

/**
 * The pluggable transport: the five roles, plus its name, an optional
 * process identity and `close`. Every method may reject on transport
 * failure (connection lost); the engine retries with backoff and never
 * loses a task to it.
 */
export interface MessageQueue
  extends DeliveryTransport, FailedHandlerLeases, DeadLetterStore, StatsStore, FleetRegistry {
  /** Human-readable identity for logs and the monitor ("redis:{tr:emails}"). */
  readonly name: string;

  /**
   * Optional: the host name and process id of this process, used to name
   * consumers and instances. Transports that may use runtime APIs provide
   * it; the engine falls back to a random id.
   */
  processInfo?(): { host: string; pid: number };

  /**
   * Release what the transport opened (connections it duplicated, timers).
   * Never closes a client the user passed in. Idempotent.
   */
  close(): Promise<void>;
}
