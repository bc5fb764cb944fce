/**
 * The task runner: task registry, dispatch, events, and the lifecycle
 * (start, pause, stop) that ties its parts together on any
 * {@linkcode MessageQueue}. The parts: fetch loops and reclaim passes
 * (`_fetcher.ts`), worker slots and the run of one delivery (`_worker.ts`),
 * retries and dead letters (`_failures.ts`), acks (`_acks.ts`), held
 * deliveries and heartbeats (`_reservations.ts`), the instance registration
 * and fleet pause (`_instance.ts`), delayed-task promotion (`_promoter.ts`),
 * stats (`_stats_flusher.ts`) and error reporting (`_report.ts`). Each part
 * is built once, here, from the runner's `EngineContext` (`_context.ts`)
 * and its own collaborators.
 *
 * @module
 */

import { type Clock, sleep } from "./clock.ts";
import { DelayedPromoter } from "./_promoter.ts";
import { AckBatcher } from "./_acks.ts";
import type { EngineContext } from "./_context.ts";
import type { Execution } from "./_execution.ts";
import { Failures } from "./_failures.ts";
import { Fetching } from "./_fetcher.ts";
import { InstanceRegistration } from "./_instance.ts";
import { asTransportError, Reporter } from "./_report.ts";
import { Reservations } from "./_reservations.ts";
import { Workers } from "./_worker.ts";
import { StatsFlusher } from "./_stats_flusher.ts";
import { parseRunnerConfig, type ResolvedRunnerConfig, type RunnerConfig } from "./config.ts";
import {
  describeValue,
  DuplicateTaskError,
  RunnerStateError,
  ShutdownError,
  TaskRunnerError,
  UnknownTaskError,
  ValidationError,
} from "./errors.ts";
import type { Emitter, RunnerEvents } from "./events.ts";
import type { Logger } from "./logger.ts";
import type { AddResult, Consumer, MessageQueue, NewTask } from "./queue.ts";
import type { StandardSchemaV1 } from "./schema.ts";
import { type RunnerStats, StatsCollector } from "./stats.ts";
import {
  type BulkDispatchItem,
  type DispatchOptions,
  type DispatchResult,
  parseTaskDefinition,
  prepareTask,
  type ResolvedTask,
  type TaskDefinition,
  type TaskHandle,
} from "./task.ts";

/** Lifecycle state of a runner. */
export type RunnerState = "idle" | "starting" | "running" | "stopping";

/** Bound on the post-grace work of `stop()` (acks, stats, deregistration), in ms. */
const FINAL_FLUSH_TIMEOUT = 5_000;
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
 *   by the runner whose dead-letter call the transport accepted, or, if that
 *   runner dies first, by another one once the call's lease has expired.
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
  #statsFlusher: StatsFlusher;

  #state: RunnerState = "idle";
  #startPromise: Promise<void> | null = null;
  #stopPromise: Promise<void> | null = null;
  #run: AbortController = new AbortController();
  /** The consumers of the fetch loops, while started. */
  #consumers: Consumer[] = [];
  #loops: Promise<void>[] = [];
  #instance: InstanceRegistration;
  #detachSignal: (() => void) | null = null;

  #workers: Workers;
  #fetching: Fetching;

  #reservations: Reservations;
  #acks: AckBatcher;
  #failures: Failures;
  #promoter: DelayedPromoter;

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
    const ctx: EngineContext = {
      queue,
      config: this.#config,
      clock: this.#clock,
      logger: this.#logger,
      reporter: this.#reporter,
      registry: this.#registry,
      collector: new StatsCollector(),
      isRunning: () => this.#state === "running",
    };
    /** Done with an execution (built once: the acks and the failure path end there). */
    const finalize = (execution: Execution): void => this.#workers.finalize(execution);
    this.#statsFlusher = new StatsFlusher(ctx);
    this.#promoter = new DelayedPromoter(ctx);
    this.#reservations = new Reservations(ctx);
    this.#acks = new AckBatcher(ctx, this.#reservations, finalize);
    this.#failures = new Failures(ctx, this.#reservations, this.#promoter, finalize);
    this.#workers = new Workers(ctx, this.#reservations, this.#acks, this.#failures);
    this.#instance = new InstanceRegistration(ctx, () => this.#state === "stopping");
    this.#fetching = new Fetching(ctx, this.#instance, this.#workers, this.#acks, this.#reservations);
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
    return this.#consumers.map((c) => c.name);
  }

  /**
   * Register a task. The payload type comes from `schema` (its input for
   * dispatch, its output for the action) or from the action's parameter.
   * Tasks may be registered while the runner is running.
   *
   * @param definition Name, action and options; see {@linkcode TaskDefinition}.
   * @returns A handle whose `dispatch` is typed by the payload.
   * @throws {ConfigError} When a field is invalid.
   * @throws {TaskRunnerError} When a task of that name is already registered.
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
   * @throws {TaskRunnerError} When a task of that name is already registered.
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
   * @throws {TransportError} The transport refused or failed the add (Redis
   * down, out of memory); the original error is its `cause`.
   */
  async dispatch(name: string, payload: unknown, options?: DispatchOptions): Promise<string> {
    const spec = this.#spec(name);
    let prepared = prepareTask(spec, payload, options, this.#clock.now(), this.#config.maxPayloadBytes);
    if (prepared instanceof Promise) prepared = await prepared;
    // The add awaited here rather than through #add: one promise layer less per dispatch.
    let results: AddResult[];
    try {
      results = await this.#queue.add([prepared.task]);
    } catch (error) {
      throw asTransportError("add", error);
    }
    const result = results[0];
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
   * @throws {TransportError} The transport refused or failed the add.
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
      let prepared = prepareTask(this.#spec(item.name), item.payload, item.options, this.#clock.now(), this.#config.maxPayloadBytes);
      if (prepared instanceof Promise) prepared = await prepared;
      tasks[i] = prepared.task;
      keys[i] = prepared.uniqueKey;
    }
    const results = await this.#add(tasks);
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

  /** The registered task of this name. */
  #spec(name: string): ResolvedTask {
    const spec = this.#registry.get(name);
    if (spec === undefined) throw new UnknownTaskError(name);
    return spec;
  }

  /** Add tasks; a failing transport rejects with a `TransportError` (cause kept). */
  async #add(tasks: NewTask[]): Promise<AddResult[]> {
    try {
      return await this.#queue.add(tasks);
    } catch (error) {
      throw asTransportError("add", error);
    }
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
    this.#workers.newEpoch();
    this.#instance.arm();
    try {
      await this.#queue.init(config.consumerGroup);
      const info = this.#queue.processInfo?.();
      const host = config.host ?? info?.host ?? `anon-${randomId()}`;
      const pid = info?.pid ?? 0;
      this.#consumers = [];
      for (let i = 0; i < config.numFetchers; i++) {
        const n = ++consumerSerial;
        this.#consumers.push({ group: config.consumerGroup, name: `${config.consumersPrefix}-${host}-${pid}-${n}` });
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
      this.#consumers = [];
      throw error;
    }

    this.#statsFlusher.reset();
    this.#state = "running";
    this.#loops = [];
    for (const consumer of this.#consumers) this.#loops.push(this.#fetching.run(consumer, this.#run.signal));
    this.#loops.push(this.#promoter.run(this.#run.signal));
    this.#loops.push(this.#every(() => this.#fetching.reclaimInterval(), () => this.#fetching.reclaim(this.#consumers[0])));
    if (config.failedTaskHandler !== undefined) {
      // Handler calls stranded by a runner that died after dead-lettering: taken over at the reclaim pace.
      const consumer = this.#consumers[0];
      this.#loops.push(this.#every(() => this.#fetching.reclaimInterval(), () => this.#failures.takeOverHandlers(consumer)));
    }
    this.#loops.push(this.#every(() => config.statsInterval, () => this.#statsFlusher.tick()));
    this.#loops.push(this.#every(() => config.instanceInterval, () => this.#instance.tick(this.#workers.busy)));
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
    this.#workers.wakeSlotWaiter();
    this.#promoter.stop();

    // Grace period: fetch loops end promptly (receive is aborted); running
    // tasks get until the deadline.
    const deadline = this.#clock.now() + config.shutdownTimeout;
    await this.#within(
      Promise.all(this.#loops)
        .then(() => this.#workers.whenIdle())
        .then(() => Promise.all(this.#failures.handlerCalls)),
      config.shutdownTimeout,
    );

    const running = this.#workers.running;
    if (running.size > 0) {
      const reason = new ShutdownError();
      this.#logger.warn("Shutdown grace period over: aborting running tasks, leaving them for reclaim", {
        running: running.size,
      });
      for (const execution of [...running]) this.#workers.abandon(execution, reason);
    }
    await this.#within(this.#workers.whenIdle(), Math.max(0, deadline - this.#clock.now()) + FINAL_FLUSH_TIMEOUT);

    this.#reservations.stop();
    const finalWork: Promise<unknown>[] = [this.#statsFlusher.flush()];
    const unregistered = this.#instance.unregister();
    if (unregistered !== null) finalWork.push(unregistered);
    for (const consumer of this.#consumers) {
      finalWork.push(
        this.#queue.removeConsumer(consumer).catch((e) => this.#reporter.transport("removeConsumer", e)),
      );
    }
    await this.#within(Promise.all(finalWork), FINAL_FLUSH_TIMEOUT);
    if (this.#queue.release) {
      await this.#within(
        this.#queue.release(this.#consumers).catch((e) => this.#reporter.transport("release", e)),
        FINAL_FLUSH_TIMEOUT,
      );
    }

    this.#reservations.clear();
    this.#acks.clear();
    this.#workers.reset();
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
    return this.#statsFlusher.read();
  }

  // ---------------------------------------------------------------- bounded waits

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
}

function randomId(): string {
  return globalThis.crypto.randomUUID().slice(0, 8);
}
