/**
 * The task runner: task registry, dispatch, fetch loops, worker slots,
 * heartbeats, retries, dead letters, delayed-task promotion, stats and
 * shutdown, on any {@linkcode MessageQueue}.
 *
 * @module
 */

import { type Clock, sleep } from "./clock.ts";
import { DelayedPromoter } from "./_promoter.ts";
import { AckBatcher, type Fetcher, newFetcher } from "./_acks.ts";
import { Execution } from "./_execution.ts";
import { type Gate, newGate } from "./_gate.ts";
import { InstanceRegistration } from "./_instance.ts";
import { failureOf, isUnrecoverable, Reporter } from "./_report.ts";
import { Reservations } from "./_reservations.ts";
import { StatsReporter } from "./_stats_reporter.ts";
import { decodePayload } from "./codec.ts";
import {
  parseRunnerConfig,
  parseTaskDefinition,
  type ResolvedRunnerConfig,
  type ResolvedTask,
  type RunnerConfig,
  describeValue,
} from "./config.ts";
import {
  DuplicateTaskError,
  PayloadValidationError,
  RunnerStateError,
  ShutdownError,
  TaskRunnerError,
  TaskTimeoutError,
  UnknownTaskError,
  ValidationError,
} from "./errors.ts";
import type { Emitter, RunnerEvents } from "./events.ts";
import type { Logger } from "./logger.ts";
import type {
  DeadLetterReason,
  Delivery,
  MessageQueue,
  NewTask,
} from "./queue.ts";
import { computeBackoff, DEFAULT_BACKOFF, transportBackoff } from "./retry.ts";
import type { StandardSchemaV1 } from "./schema.ts";
import type { RunnerStats, StatsCollector } from "./stats.ts";
import {
  type BulkDispatchItem,
  type DispatchOptions,
  type DispatchResult,
  type TaskDefinition,
  type TaskHandle,
  prepareTask,
  validateWithSchema,
} from "./task.ts";

export type {
  CompletedEvent,
  DeadEvent,
  FailedEvent,
  LostEvent,
  ReclaimedEvent,
  RetryingEvent,
  RunnerEvents,
} from "./events.ts";

/** Lifecycle state of a runner. */
export type RunnerState = "idle" | "starting" | "running" | "stopping";

/** Bound on the post-grace work of `stop()` (acks, stats, deregistration), in ms. */
const FINAL_FLUSH_TIMEOUT = 5_000;
const NO_ERROR: unique symbol = Symbol("no error");
const TIMED_OUT: unique symbol = Symbol("timed out");

/** Process-wide counter so consumer names of several runners in one process never collide. */
let consumerSerial = 0;

/**
 * Runs registered tasks from a {@linkcode MessageQueue}, and dispatches them.
 *
 * Delivery is at-least-once: a task is removed from the queue only after its
 * action succeeded or it went to the dead-letter store, so actions should be
 * idempotent. In short:
 * - `maxRetry: N` allows N + 1 runs; a failed run waits its backoff, an
 *   `UnrecoverableError` skips the retries left; then the task is
 *   dead-lettered with its last error and `failedTaskHandler` is called once,
 *   by the runner whose dead-letter call the transport accepted.
 * - `ctx.attempt` counts failed runs before this one (0 first); a run cut
 *   short by a crash or a lost reservation does not count, but each delivery
 *   does toward `maxDeliveries`, after which the task is dead-lettered as
 *   "poison".
 * - Tasks whose name this runner does not know are retried with the
 *   runner's backoff (another instance may know them), then dead-lettered as
 *   "unknown-task"; undecodable or schema-failing payloads are dead-lettered
 *   as "invalid-payload", never acked away.
 * - Running tasks are heartbeated together, every third of the shortest
 *   reservation held; a runner never fetches more than its free worker slots.
 * - `stop()` stops fetching at once, gives running tasks `shutdownTimeout`,
 *   then aborts their signals and leaves them for reclaim. A stopped runner
 *   can be started again.
 *
 * @example Register, dispatch and run a task
 * ```ts
 * import { TaskRunner } from "@taskrunner/core";
 * import { MemoryQueue } from "@taskrunner/core/memory";
 *
 * const runner = new TaskRunner(new MemoryQueue(), { consumerGroup: "example", numWorkers: 10 });
 * const hello = runner.registerTask({
 *   name: "hello",
 *   maxRetry: 3,
 *   action: async (name: string, ctx) => console.log(`hello ${name} (task ${ctx.id})`),
 * });
 * await runner.start();
 * await hello.dispatch("world", { delay: 200 });
 * await runner.stop();
 * ```
 */
export class TaskRunner implements AsyncDisposable {
  #queue: MessageQueue;
  #config: ResolvedRunnerConfig;
  #clock: Clock;
  #logger: Logger;
  #registry: Map<string, ResolvedTask> = new Map();
  #reporter: Reporter;
  #emitter: Emitter<RunnerEvents>;
  #statsReporter: StatsReporter;
  /** Outcome counters (the stats reporter's), kept at hand for the hot path. */
  #collector: StatsCollector;

  #state: RunnerState = "idle";
  #startPromise: Promise<void> | null = null;
  #stopPromise: Promise<void> | null = null;
  #run: AbortController = new AbortController();
  #fetchers: Fetcher[] = [];
  #loops: Promise<void>[] = [];
  #instance: InstanceRegistration;
  #detachSignal: (() => void) | null = null;

  /** Worker slots taken by running actions. */
  #busy = 0;
  /** Slots set aside for receive/reclaim calls in flight. */
  #reserved = 0;
  /** Resolved (and cleared) when a worker slot frees or on shutdown; shared by all fetch loops. */
  #slotGate: Gate | null = null;

  #reservations: Reservations;
  /** Deliveries this runner owns and heartbeats (running or awaiting ack): the reservations'. */
  #held: Map<string, Execution>;
  #acks: AckBatcher;
  /** Actions in progress. */
  #running: Set<Execution> = new Set();
  /** failedTaskHandler calls in progress (waited for within the grace period). */
  #handlerCalls: Set<Promise<void>> = new Set();
  /** Executions not yet finished with (ack/retry/dead-letter pending). */
  #active = 0;
  #idleWaiter: (() => void) | null = null;

  #promoter: DelayedPromoter;
  /** Incremented by every start(). */
  #epoch = 0;

  /**
   * Create a runner. Nothing runs until {@linkcode TaskRunner.start}.
   *
   * @param queue The transport (e.g. `MemoryQueue`, `RedisStreamQueue`).
   * @param config Options; see {@linkcode RunnerConfig}. All durations in ms.
   * @throws {ConfigError} When an option is invalid, naming it and the value
   * given: "Cannot create runner: 'numWorkers' must be a positive integer, got 0".
   */
  constructor(queue: MessageQueue, config: RunnerConfig = {}) {
    if (typeof queue !== "object" || queue === null || typeof queue.receive !== "function") {
      throw new TypeError(`Cannot create runner: queue must be a MessageQueue, got ${describeValue(queue)}`);
    }
    this.#queue = queue;
    this.#config = parseRunnerConfig(config);
    this.#clock = this.#config.clock;
    this.#logger = this.#config.logger;
    this.#reporter = new Reporter(this.#logger);
    this.#emitter = this.#reporter.emitter;
    this.#statsReporter = new StatsReporter(queue, this.#config, this.#reporter, () => this.#state === "running");
    this.#collector = this.#statsReporter.collector;
    this.#reservations = new Reservations(
      queue,
      this.#clock,
      this.#logger,
      this.#reporter,
      this.#config.reservationTimeout,
    );
    this.#held = this.#reservations.held;
    this.#acks = new AckBatcher(
      queue,
      this.#clock,
      this.#reporter,
      this.#collector,
      this.#reservations,
      () => this.#state === "running",
      (execution) => this.#finalize(execution),
    );
    this.#instance = new InstanceRegistration(
      queue,
      this.#config.instanceInterval,
      this.#reporter,
      () => this.#state === "stopping",
    );
    this.#promoter = new DelayedPromoter(queue, this.#clock, (operation, error) => {
      this.#reporter.transport(operation, error);
    });
  }

  /** The transport this runner uses. */
  get queue(): MessageQueue {
    return this.#queue;
  }

  /** The consumer group this runner consumes as. */
  get group(): string {
    return this.#config.consumerGroup;
  }

  /** The resolved options (defaults applied). */
  get config(): Readonly<ResolvedRunnerConfig> {
    return this.#config;
  }

  /** Lifecycle state. */
  get state(): RunnerState {
    return this.#state;
  }

  /** Names of the registered tasks. */
  get taskNames(): string[] {
    return [...this.#registry.keys()];
  }

  /** Id of this runner in the live-instance registry while started; null otherwise. */
  get instanceId(): string | null {
    return this.#instance.id;
  }

  /** Consumer names of this runner's fetch loops while started. */
  get consumers(): string[] {
    return this.#fetchers.map((f) => f.consumer.name);
  }

  /**
   * Register a task. The payload type comes from `schema` (its input for
   * dispatch, its output for the action) or from the action's parameter.
   * Tasks may be registered while the runner is running.
   *
   * @param definition Name, action and options; see {@linkcode TaskDefinition}.
   * @returns A handle whose `dispatch` is typed by the payload.
   * @throws {ConfigError} When a field is invalid or the name is taken.
   */
  registerTask<S extends StandardSchemaV1>(
    definition: TaskDefinition<StandardSchemaV1.InferOutput<S>> & { schema: S },
  ): TaskHandle<StandardSchemaV1.InferInput<S>>;
  /**
   * Register a task whose payload type is the action's parameter type.
   *
   * @param definition Name, action and options; see {@linkcode TaskDefinition}.
   * @returns A handle whose `dispatch` is typed by the payload.
   * @throws {ConfigError} When a field is invalid.
   * @throws {TaskRunnerError} When the name is taken.
   */
  registerTask<P>(definition: TaskDefinition<P>): TaskHandle<P>;
  registerTask(definition: TaskDefinition<unknown>): TaskHandle<unknown> {
    const spec = parseTaskDefinition(definition as unknown as TaskDefinition<never>, this.#config);
    if (this.#registry.has(spec.name)) {
      throw new TaskRunnerError(`Cannot register task '${spec.name}': a task of that name is already registered`);
    }
    this.#registry.set(spec.name, spec);
    const name = spec.name;
    return Object.freeze({
      name,
      dispatch: (payload: unknown, options?: DispatchOptions): Promise<string> =>
        this.dispatch(name, payload, options),
      dispatchBulk: (
        items: readonly { payload: unknown; options?: DispatchOptions }[],
      ): Promise<DispatchResult[]> =>
        this.dispatchBulk(items.map((item) => ({ name, payload: item.payload, options: item.options }))),
    });
  }

  /**
   * Add a task to the queue.
   *
   * @param name A registered task name.
   * @param payload The payload: JSON-encodable, checked against the task's schema.
   * @param options `{ delay }` in ms or `{ at }` (epoch ms or Date), millisecond precision.
   * @returns The task id.
   * @throws {UnknownTaskError} No task of that name is registered here.
   * @throws {PayloadValidationError} The payload fails the schema, cannot be
   * encoded as JSON (BigInt, function, cycle, undefined, ...) or is over `maxPayloadBytes`.
   * @throws {DuplicateTaskError} A unique task with the same key is queued,
   * running or within `uniqueFor`; `existingId` names it.
   * @throws {ValidationError} Invalid options.
   */
  async dispatch(name: string, payload: unknown, options?: DispatchOptions): Promise<string> {
    const spec = this.#spec(name);
    const prepared = await prepareTask(spec, payload, options, this.#clock.now(), this.#config.maxPayloadBytes);
    const [result] = await this.#queue.add([prepared.task]);
    if (!result.ok) throw new DuplicateTaskError(name, prepared.uniqueKey ?? "", result.existingId);
    if (prepared.task.delay) this.#promoter.wakeAt(this.#clock.now() + prepared.task.delay);
    return result.id;
  }

  /**
   * Add many tasks in one transport call (one pipeline on Redis).
   *
   * Every item is checked first: an unknown name, an invalid payload or bad
   * options rejects the whole call and nothing is added. Duplicates of
   * unique tasks are per item: `{ ok: false, error: DuplicateTaskError }`.
   *
   * @param items Name, payload and options of each task.
   * @returns One result per item, in input order.
   * @throws {UnknownTaskError} An item names an unregistered task.
   * @throws {PayloadValidationError} An item's payload is invalid.
   */
  async dispatchBulk(items: readonly BulkDispatchItem[]): Promise<DispatchResult[]> {
    if (!Array.isArray(items)) {
      throw new ValidationError(`dispatchBulk expects an array, got ${describeValue(items)}`, []);
    }
    if (items.length === 0) return [];
    const tasks: NewTask[] = new Array(items.length);
    const keys: (string | undefined)[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const prepared = await prepareTask(this.#spec(item.name), item.payload, item.options, this.#clock.now(), this.#config.maxPayloadBytes);
      tasks[i] = prepared.task;
      keys[i] = prepared.uniqueKey;
    }
    const results = await this.#queue.add(tasks);
    const out: DispatchResult[] = new Array(results.length);
    let earliestDelay = Infinity;
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      if (r.ok) {
        out[i] = { ok: true, id: r.id };
        const delay = tasks[i].delay;
        if (delay && delay < earliestDelay) earliestDelay = delay;
      } else {
        out[i] = { ok: false, error: new DuplicateTaskError(tasks[i].name, keys[i] ?? "", r.existingId) };
      }
    }
    if (earliestDelay !== Infinity) this.#promoter.wakeAt(this.#clock.now() + earliestDelay);
    return out;
  }

  /**
   * Listen to an event. Listeners that throw are logged and reported as an
   * `error` event; they never disturb the runner.
   *
   * @param event `completed`, `failed`, `retrying`, `dead`, `reclaimed`, `lost` or `error`.
   * @param listener Called with the event's payload.
   * @returns A function that removes the listener.
   */
  on<K extends keyof RunnerEvents>(event: K, listener: (payload: RunnerEvents[K]) => void): () => void {
    return this.#emitter.on(event, listener);
  }

  /**
   * Start consuming: initialise the group, register this instance, start the
   * fetch loops, heartbeats, reclaim passes, the delayed-task promoter and
   * the stats flush. Resolves once consuming.
   *
   * @param signal Aborting it stops the runner (as `stop()`); an already
   * aborted signal means the runner does not start.
   * @throws {RunnerStateError} When already started or starting.
   * @throws Whatever the transport's `init` or `registerInstance` throws; the
   * runner is then left stopped and can be started again.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#state === "stopping" && this.#stopPromise) await this.#stopPromise;
    if (this.#state !== "idle") {
      throw new RunnerStateError(`Cannot start runner: it is already ${this.#state}`);
    }
    if (signal?.aborted) return;
    this.#state = "starting";
    const promise = this.#start(signal);
    this.#startPromise = promise;
    try {
      await promise;
    } finally {
      this.#startPromise = null;
    }
  }

  async #start(signal: AbortSignal | undefined): Promise<void> {
    const config = this.#config;
    this.#run = new AbortController();
    this.#epoch++;
    this.#instance.arm();
    try {
      await this.#queue.init(config.consumerGroup);
      const info = this.#queue.processInfo?.();
      const host = config.host ?? info?.host ?? `anon-${randomId()}`;
      const pid = info?.pid ?? 0;
      this.#fetchers = [];
      for (let i = 0; i < config.numFetchers; i++) {
        const n = ++consumerSerial;
        this.#fetchers.push(
          newFetcher({ group: config.consumerGroup, name: `${config.consumersPrefix}-${host}-${pid}-${n}` }),
        );
      }
      const now = this.#clock.now();
      await this.#instance.register({
        id: globalThis.crypto.randomUUID(),
        host,
        pid,
        workers: config.numWorkers,
        busy: 0,
        startedAt: now,
      });
    } catch (error) {
      this.#state = "idle";
      this.#instance.clear();
      this.#fetchers = [];
      throw error;
    }

    this.#statsReporter.reset();
    this.#state = "running";
    this.#loops = [];
    for (const fetcher of this.#fetchers) this.#loops.push(this.#fetchLoop(fetcher));
    this.#loops.push(this.#promoter.run(this.#run.signal));
    this.#loops.push(this.#every(() => this.#reclaimInterval(), () => this.#reclaimPass()));
    this.#loops.push(this.#every(() => config.statsInterval, () => this.#statsReporter.tick()));
    this.#loops.push(this.#every(() => config.instanceInterval, () => this.#instance.tick(this.#busy)));
    if (signal) {
      const onAbort = (): void => void this.stop();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#detachSignal = () => signal.removeEventListener("abort", onAbort);
      if (signal.aborted) onAbort(); // aborted while starting
    }
    this.#logger.info("Runner started", {
      queue: this.#queue.name,
      group: config.consumerGroup,
      consumers: this.consumers,
      workers: config.numWorkers,
    });
  }

  /**
   * Stop gracefully: stop fetching at once, let running tasks finish within
   * `shutdownTimeout`, then abort their signals (`ShutdownError`) and leave
   * them for another runner to reclaim; flush acks and stats; leave the
   * instance registry. Idempotent; resolves when done. The runner can be
   * started again afterwards.
   */
  stop(): Promise<void> {
    if (this.#stopPromise) return this.#stopPromise;
    if (this.#state === "idle") return Promise.resolve();
    const promise = this.#stop().finally(() => {
      this.#stopPromise = null;
    });
    this.#stopPromise = promise;
    return promise;
  }

  async #stop(): Promise<void> {
    if (this.#startPromise) await this.#startPromise.catch(() => {});
    if (this.#state !== "running") return;
    this.#state = "stopping";
    const config = this.#config;
    this.#detachSignal?.();
    this.#detachSignal = null;
    this.#run.abort(new ShutdownError());
    this.#instance.shutdown(new ShutdownError());
    this.#wakeSlotWaiter();
    this.#promoter.stop();

    // Grace period: fetch loops end promptly (receive is aborted); running
    // tasks get until the deadline.
    const deadline = this.#clock.now() + config.shutdownTimeout;
    await this.#within(
      Promise.all(this.#loops)
        .then(() => this.#whenIdle())
        .then(() => Promise.all(this.#handlerCalls)),
      config.shutdownTimeout,
    );

    if (this.#running.size > 0) {
      const reason = new ShutdownError();
      this.#logger.warn("Shutdown grace period over: aborting running tasks, leaving them for reclaim", {
        running: this.#running.size,
      });
      for (const execution of [...this.#running]) this.#abandon(execution, reason);
    }
    await this.#within(this.#whenIdle(), Math.max(0, deadline - this.#clock.now()) + FINAL_FLUSH_TIMEOUT);

    this.#reservations.stop();
    const finalWork: Promise<unknown>[] = [this.#statsReporter.flush()];
    const unregistered = this.#instance.unregister();
    if (unregistered !== null) finalWork.push(unregistered);
    for (const fetcher of this.#fetchers) {
      finalWork.push(
        this.#queue.removeConsumer(fetcher.consumer).catch((e) => this.#reporter.transport("removeConsumer", e)),
      );
    }
    await this.#within(Promise.all(finalWork), FINAL_FLUSH_TIMEOUT);

    this.#held.clear();
    this.#running.clear();
    this.#busy = 0;
    this.#reserved = 0;
    this.#active = 0;
    this.#instance.clear();
    this.#loops = [];
    this.#state = "idle";
    this.#logger.info("Runner stopped", { queue: this.#queue.name, group: config.consumerGroup });
  }

  /** Same as {@linkcode TaskRunner.stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Pause consuming across the whole fleet (running tasks finish). Other
   * runners notice within their `instanceInterval`; this one at once.
   */
  async pause(): Promise<void> {
    this.#instance.setPaused(true);
    await this.#queue.setPaused(true);
  }

  /** Resume consuming across the whole fleet. */
  async resume(): Promise<void> {
    await this.#queue.setPaused(false);
    this.#instance.setPaused(false);
  }

  /**
   * Fleet-wide statistics read from the transport: counts, live instances,
   * per-task counters and timing percentiles, throughput, and the estimated
   * drain time. Figures include what runners flushed (every `statsInterval`).
   *
   * @returns A {@linkcode RunnerStats} snapshot.
   * @throws Whatever the transport throws.
   */
  stats(): Promise<RunnerStats> {
    return this.#statsReporter.read();
  }

  // ---------------------------------------------------------------- dispatch

  #spec(name: string): ResolvedTask {
    const spec = this.#registry.get(name);
    if (spec === undefined) throw new UnknownTaskError(name);
    return spec;
  }

  // ---------------------------------------------------------------- consuming

  async #fetchLoop(fetcher: Fetcher): Promise<void> {
    const config = this.#config;
    const signal = this.#run.signal;
    let failures = 0;
    while (!signal.aborted) {
      if (this.#instance.paused) {
        await this.#instance.whenResumed();
        continue;
      }
      const free = config.numWorkers - this.#busy - this.#reserved;
      if (free <= 0) {
        await (this.#slotGate ??= newGate()).promise;
        continue;
      }
      const stalled = this.#reservations.stalledFor(fetcher);
      if (stalled > 0) {
        // Acks or heartbeats are not getting through: new work would only
        // add duplicates once its reservations lapse. Wait for the path to heal.
        await this.#rest(stalled);
        continue;
      }
      const count = free < config.batchSize ? free : config.batchSize;
      this.#reserved += count;
      let deliveries: Delivery[];
      try {
        deliveries = await this.#queue.receive(fetcher.consumer, {
          count,
          block: config.blockDuration,
          signal: this.#instance.fetchSignal,
        });
        failures = 0;
      } catch (error) {
        this.#reserved -= count;
        if (signal.aborted) break;
        if (this.#instance.paused) continue;
        failures++;
        this.#reporter.transport("receive", error);
        await this.#rest(transportBackoff(failures));
        continue;
      }
      this.#reserved -= count;
      for (let i = 0; i < deliveries.length; i++) this.#begin(fetcher, deliveries[i]);
    }
  }

  /** Sleep on the runner clock; returns early (without throwing) on shutdown. */
  async #rest(ms: number): Promise<void> {
    try {
      await sleep(this.#clock, ms, this.#run.signal);
    } catch {
      // shutdown
    }
  }

  #begin(fetcher: Fetcher, delivery: Delivery): void {
    const previous = this.#held.get(delivery.deliveryId);
    if (previous !== undefined) {
      // Reclaimed from ourselves (heartbeats did not get through in time).
      // A run still going, or done and waiting for its ack, carries on with
      // the fresh delivery instead of running the task a second time.
      if (
        previous.fetcher === fetcher && !previous.lost && !previous.abandoned &&
        (this.#running.has(previous) || previous.ackQueued)
      ) {
        previous.delivery = delivery;
        this.#reservations.arm(delivery.reservationTimeout);
        return;
      }
      this.#reservations.markLost(previous, "reservation-lost");
    }
    const execution = new Execution(this.#reservations, fetcher, delivery, this.#epoch);
    this.#held.set(delivery.deliveryId, execution);
    this.#busy++;
    this.#active++;
    this.#reservations.arm(delivery.reservationTimeout);
    this.#execute(execution);
  }

  /**
   * Run one delivery. Synchronous up to the action, so a synchronous action
   * completes without a promise; everything after a failure is async.
   */
  #execute(execution: Execution): void {
    const d = execution.delivery;
    try {
      if (d.malformed !== undefined) {
        return this.#refuse(
          execution,
          "malformed",
          new TaskRunnerError(`Malformed delivery ${d.deliveryId}: ${d.malformed}`),
          undefined,
        );
      }
      if (d.deliveryCount > this.#config.maxDeliveries) {
        return this.#refuse(
          execution,
          "poison",
          new TaskRunnerError(
            `Task ${d.id} ('${d.name}') was delivered ${d.deliveryCount} times without completing (maxDeliveries ${this.#config.maxDeliveries})`,
          ),
          undefined,
        );
      }
      const spec = this.#registry.get(d.name);
      if (spec === undefined) {
        this.#releaseSlot(execution);
        this.#guard(execution, this.#unknownTask(execution));
        return;
      }
      const decoded = decodePayload(d.body, this.#config.maxPayloadBytes);
      if (!decoded.ok) {
        return this.#refuse(execution, "invalid-payload", new PayloadValidationError(d.name, decoded.issues), undefined);
      }
      if (spec.schema !== undefined) {
        this.#guard(execution, this.#validateThenInvoke(execution, spec, decoded.value));
        return;
      }
      this.#invoke(execution, spec, decoded.value);
    } catch (internal) {
      this.#internalError(execution, internal);
    }
  }

  async #validateThenInvoke(execution: Execution, spec: ResolvedTask, payload: unknown): Promise<void> {
    const checked = await validateWithSchema(spec.schema!, payload);
    if (!checked.ok) {
      this.#releaseSlot(execution);
      return await this.#deadLetter(
        execution,
        "invalid-payload",
        new PayloadValidationError(execution.name, checked.issues),
        payload,
      );
    }
    this.#invoke(execution, spec, checked.value);
  }

  /** Dead-letter a delivery that cannot run at all. */
  #refuse(execution: Execution, reason: DeadLetterReason, error: unknown, payload: unknown): void {
    this.#releaseSlot(execution);
    this.#guard(execution, this.#deadLetter(execution, reason, error, payload));
  }

  /** Call the action and route its outcome, without a promise when it returns synchronously. */
  #invoke(execution: Execution, spec: ResolvedTask, payload: unknown): void {
    this.#running.add(execution);
    const started = this.#clock.now();
    let result: unknown;
    let thenable: boolean;
    try {
      result = spec.action(payload, execution);
      thenable = isThenable(result); // may throw for a hostile result (a revoked Proxy)
    } catch (thrown) {
      return this.#settle(execution, spec, payload, started, thrown);
    }
    if (spec.timeout !== undefined) {
      const timeout = spec.timeout;
      this.#withTimeout(result, execution, timeout).then(
        (value) =>
          this.#settle(
            execution,
            spec,
            payload,
            started,
            value === TIMED_OUT ? new TaskTimeoutError(execution.name, timeout) : NO_ERROR,
          ),
        (thrown) => this.#settle(execution, spec, payload, started, thrown),
      );
    } else if (thenable) {
      (result as PromiseLike<unknown>).then(
        () => this.#settle(execution, spec, payload, started, NO_ERROR),
        (thrown) => this.#settle(execution, spec, payload, started, thrown),
      );
    } else {
      this.#settle(execution, spec, payload, started, NO_ERROR);
    }
  }

  #settle(execution: Execution, spec: ResolvedTask, payload: unknown, started: number, error: unknown): void {
    try {
      this.#running.delete(execution);
      this.#releaseSlot(execution);
      if (execution.lost || execution.abandoned) return this.#finalize(execution);
      if (error === NO_ERROR) {
        execution.runTime = this.#clock.now() - started;
        const wait = started - execution.delivery.readyAt;
        execution.waitTime = wait > 0 ? wait : 0;
        this.#acks.add(execution);
        return;
      }
      this.#guard(execution, this.#failed(execution, spec, error, payload));
    } catch (internal) {
      this.#internalError(execution, internal);
    }
  }

  /** Route an unexpected rejection of post-run work to the error path. */
  #guard(execution: Execution, work: Promise<void>): void {
    work.catch((internal) => this.#internalError(execution, internal));
  }

  /** A bug or an unhandled failure: report it and leave the delivery for reclaim rather than lose it. */
  #internalError(execution: Execution, internal: unknown): void {
    this.#running.delete(execution);
    this.#releaseSlot(execution);
    this.#reporter.report(new TaskRunnerError(`Internal error while running task ${execution.id}`, { cause: internal }));
    this.#drop(execution);
  }

  #withTimeout(result: unknown, execution: Execution, timeout: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        execution.abort(new TaskTimeoutError(execution.name, timeout));
        resolve(TIMED_OUT);
      }, timeout);
      Promise.resolve(result).then(
        (value) => {
          this.#clock.clearTimeout(timer);
          resolve(value);
        },
        (error) => {
          this.#clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  async #failed(execution: Execution, spec: ResolvedTask, error: unknown, payload: unknown): Promise<void> {
    const d = execution.delivery;
    this.#collector.failed(d.name);
    if (this.#emitter.has("failed")) {
      this.#emitter.emit("failed", { id: d.id, name: d.name, attempt: d.attempt, error });
    }
    if (isUnrecoverable(error)) {
      return await this.#deadLetter(execution, "unrecoverable", error, payload);
    }
    if (d.attempt >= spec.maxRetry) {
      return await this.#deadLetter(execution, "max-retries", error, payload);
    }
    let delay: number;
    try {
      delay = computeBackoff(spec.backoff, d.attempt + 1, error);
    } catch (backoffError) {
      this.#reporter.report(new TaskRunnerError(`Backoff of task '${d.name}' threw; using the default`, { cause: backoffError }));
      delay = computeBackoff(DEFAULT_BACKOFF, d.attempt + 1, error);
    }
    await this.#retry(execution, delay, error);
  }

  async #unknownTask(execution: Execution): Promise<void> {
    const d = execution.delivery;
    const error = new UnknownTaskError(d.name);
    if (d.attempt >= this.#config.unknownTaskMaxRetry) {
      return await this.#deadLetter(execution, "unknown-task", error, undefined);
    }
    this.#logger.warn("Received a task whose name is not registered here; retrying later", {
      id: d.id,
      name: d.name,
      attempt: d.attempt,
    });
    await this.#retry(execution, computeBackoff(this.#config.backoff, d.attempt + 1, error), error);
  }

  async #retry(execution: Execution, delay: number, error: unknown): Promise<void> {
    const d = execution.delivery;
    let ok: boolean;
    try {
      ok = await this.#queue.retry(execution.fetcher.consumer, d, delay);
    } catch (transportError) {
      this.#reporter.transport("retry", transportError);
      return this.#drop(execution);
    }
    if (ok) {
      this.#collector.retried(d.name);
      if (delay > 0) this.#promoter.wakeAt(this.#clock.now() + delay);
      if (this.#emitter.has("retrying")) {
        this.#emitter.emit("retrying", { id: d.id, name: d.name, attempt: d.attempt + 1, delay, error });
      }
    } else {
      this.#reservations.markLost(execution, "refused");
    }
    this.#finalize(execution);
  }

  async #deadLetter(
    execution: Execution,
    reason: DeadLetterReason,
    error: unknown,
    payload: unknown,
  ): Promise<void> {
    const d = execution.delivery;
    const failure = failureOf(error);
    let ok: boolean;
    try {
      ok = await this.#queue.deadLetter(execution.fetcher.consumer, d, reason, failure);
    } catch (transportError) {
      this.#reporter.transport("deadLetter", transportError);
      return this.#drop(execution);
    }
    if (!ok) {
      this.#reservations.markLost(execution, "refused");
      return this.#finalize(execution);
    }
    this.#collector.dead(d.name === "" ? "(malformed)" : d.name);
    this.#logger.warn("Task dead-lettered", { id: d.id, name: d.name, reason, error: failure.message });
    const attempt = d.attempt + 1;
    if (this.#emitter.has("dead")) {
      this.#emitter.emit("dead", { id: d.id, name: d.name, attempt, reason, error, failure });
    }
    // The delivery is settled; the handler is user code, bounded by the shutdown grace period.
    this.#finalize(execution);
    const handler = this.#config.failedTaskHandler;
    if (handler === undefined) return;
    const call = (async () => {
      try {
        await handler({ id: d.id, name: d.name, payload, body: d.body, attempt, reason, failure }, error);
      } catch (handlerError) {
        this.#reporter.threw(
          "failedTaskHandler threw",
          { id: d.id, name: d.name },
          handlerError,
          `failedTaskHandler threw for task ${d.id}`,
        );
      }
    })();
    this.#handlerCalls.add(call);
    await call;
    this.#handlerCalls.delete(call);
  }

  #releaseSlot(execution: Execution): void {
    if (!execution.slotHeld) return;
    execution.slotHeld = false;
    if (execution.epoch !== this.#epoch) return;
    this.#busy--;
    this.#wakeSlotWaiter();
  }

  #wakeSlotWaiter(): void {
    const gate = this.#slotGate;
    if (gate !== null) {
      this.#slotGate = null;
      gate.resolve();
    }
  }

  /** Done with a delivery: stop heartbeating it and count it out. */
  #finalize(execution: Execution): void {
    if (execution.finalized) return;
    execution.finalized = true;
    if (execution.epoch !== this.#epoch) return;
    this.#reservations.release(execution);
    this.#active--;
    if (this.#active === 0 && this.#idleWaiter !== null) {
      const wake = this.#idleWaiter;
      this.#idleWaiter = null;
      wake();
    }
  }

  /** Give a delivery up without completing it: another runner reclaims it later. */
  #drop(execution: Execution): void {
    this.#finalize(execution);
  }

  #abandon(execution: Execution, reason: ShutdownError): void {
    execution.abandoned = true;
    execution.abort(reason);
    this.#running.delete(execution);
    this.#releaseSlot(execution);
    this.#finalize(execution);
  }

  #whenIdle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#idleWaiter;
      this.#idleWaiter = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** Wait for `promise`, at most `ms` on the runner clock. */
  async #within(promise: Promise<unknown>, ms: number): Promise<void> {
    if (ms <= 0) return;
    let timer: unknown = null;
    const timeout = new Promise<void>((resolve) => {
      timer = this.#clock.setTimeout(resolve, ms);
    });
    try {
      await Promise.race([promise.then(() => {}, () => {}), timeout]);
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------- periodic work

  /** Run `fn` every `interval()` ms until shutdown; errors are reported, never thrown. */
  async #every(interval: () => number, fn: () => Promise<void>): Promise<void> {
    const signal = this.#run.signal;
    while (!signal.aborted) {
      try {
        await sleep(this.#clock, interval(), signal);
      } catch {
        return;
      }
      try {
        await fn();
      } catch (error) {
        this.#reporter.report(error instanceof Error ? error : new TaskRunnerError("Periodic work failed", { cause: error }));
      }
    }
  }

  #reclaimInterval(): number {
    let shortest = this.#config.reservationTimeout;
    for (const spec of this.#registry.values()) {
      if (spec.reservationTimeout < shortest) shortest = spec.reservationTimeout;
    }
    return Math.max(5, Math.floor(shortest / 2));
  }

  /**
   * Take over deliveries whose consumer stopped heartbeating, up to the free
   * slots. Slots set aside for a receive call waiting on an empty queue are
   * counted as free here, or a quiet runner would never reclaim: if that
   * receive then returns work too, the runner runs up to `batchSize` tasks
   * over `numWorkers` for a moment.
   */
  async #reclaimPass(): Promise<void> {
    if (this.#instance.paused || this.#state !== "running") return;
    const free = this.#config.numWorkers - this.#busy;
    if (free <= 0) return;
    const count = free < this.#config.batchSize ? free : this.#config.batchSize;
    const fetcher = this.#fetchers[0];
    let result;
    try {
      result = await this.#queue.reclaim(fetcher.consumer, count);
    } catch (error) {
      this.#reporter.transport("reclaim", error);
      return;
    }
    for (const deliveryId of result.lost) {
      this.#logger.error("A pending task's stored entry is gone (deleted outside the library)", { deliveryId });
      if (this.#emitter.has("lost")) {
        this.#emitter.emit("lost", { deliveryId, id: null, name: null, reason: "entry-missing" });
      }
    }
    for (const delivery of result.deliveries) {
      this.#logger.info("Reclaimed a task from a stalled consumer", {
        id: delivery.id,
        name: delivery.name,
        deliveryCount: delivery.deliveryCount,
      });
      if (this.#emitter.has("reclaimed")) {
        this.#emitter.emit("reclaimed", {
          id: delivery.id,
          name: delivery.name,
          deliveryId: delivery.deliveryId,
          deliveryCount: delivery.deliveryCount,
        });
      }
      this.#begin(fetcher, delivery);
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

function randomId(): string {
  return globalThis.crypto.randomUUID().slice(0, 8);
}
