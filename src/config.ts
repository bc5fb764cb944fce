/**
 * Runner options and task definitions: their types, defaults, and the
 * valibot schemas that check them once, at construction and registration,
 * with messages naming the option and the value given.
 *
 * @module
 */

import * as v from "valibot";
import { type Clock, systemClock } from "./clock.ts";
import { ConfigError, type ValidationIssue } from "./errors.ts";
import { type Logger, silentLogger } from "./logger.ts";
import { type Backoff, DEFAULT_BACKOFF } from "./retry.ts";
import type { RunnerStats } from "./stats.ts";
import type { FailedTaskHandler, TaskDefinition } from "./task.ts";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "./codec.ts";
import type { StandardSchemaV1 } from "./schema.ts";

/** Options of `new TaskRunner(queue, config)`. All durations are milliseconds. */
export interface RunnerConfig {
  /**
   * Consumer group: every group receives every task once; the runners of one
   * application share a group.
   * @default "taskrunner"
   */
  consumerGroup?: string;
  /**
   * Prefix of consumer names, which are `${consumersPrefix}-${host}-${pid}-${n}`.
   * @default the consumer group
   */
  consumersPrefix?: string;
  /**
   * Maximum deliveries fetched per receive call (each receive asks for
   * `min(batchSize, free worker slots)`, so nothing waits unheartbeated).
   * @default 10
   */
  batchSize?: number;
  /** Tasks run concurrently by this runner (worker slots). @default 10 */
  numWorkers?: number;
  /** Concurrent fetch loops, each its own consumer. @default 1 */
  numFetchers?: number;
  /**
   * Override of the number of live runner instances used by the drain
   * estimate (total workers = `replicationFactor × numWorkers`). When unset
   * the fleet is measured: the sum of live instances' `numWorkers`.
   */
  replicationFactor?: number;
  /**
   * Called exactly once per task that goes to the dead-letter store (retries
   * exhausted, unrecoverable error, invalid payload, unknown task, poison),
   * with the last real error. A throwing handler is logged, never retried.
   * The call is recorded as pending in the same atomic step as the dead
   * letter and completed after the handler: if the runner dies in between,
   * another runner makes the call once its lease, `max(reservationTimeout,
   * 5_000)` ms, has expired (with an `Error` rebuilt from the recorded
   * failure). A handler still running at half the lease keeps its single
   * call; one cut short by a crash before then may be called again.
   */
  failedTaskHandler?: FailedTaskHandler;
  /**
   * Called, once across the fleet per `longQueueThreshold` period, when the
   * estimated drain time exceeds `longQueueThreshold`. A throwing hook is logged.
   */
  longQueueHook?: (stats: RunnerStats) => void | Promise<void>;
  /** Drain-time estimate above which the queue counts as long, in ms. @default 60_000 */
  longQueueThreshold?: number;
  /** Where the runner logs; `console` works. @default silent */
  logger?: Logger;
  /**
   * Grace period of `stop()`, in ms: running tasks get this long to finish,
   * then their signals abort and they are left for another runner to reclaim.
   * @default 30_000
   */
  shutdownTimeout?: number;
  /** Time source (inject `ManualClock` in tests). @default systemClock */
  clock?: Clock;
  /** How often accumulated stats are flushed to the transport, in ms. @default 1000 */
  statsInterval?: number;
  /**
   * Deliveries of one task without completing (crashes, lost reservations)
   * after which it is dead-lettered as "poison" instead of run again.
   * @default 5
   */
  maxDeliveries?: number;
  /** Backoff of tasks that do not set their own. @default exponential from 1 s, 50 % jitter */
  backoff?: Backoff;
  /** `maxRetry` of tasks that do not set their own. @default 3 */
  maxRetry?: number;
  /** `reservationTimeout` of tasks that do not set their own, in ms. @default 30_000 */
  reservationTimeout?: number;
  /** Longest wait of one receive call when the queue is empty, in ms. @default 2000 */
  blockDuration?: number;
  /** Size limit of an encoded payload, in UTF-8 bytes. @default 1_048_576 */
  maxPayloadBytes?: number;
  /**
   * Retries of a task whose name no runner that saw it has registered
   * (rolling deploys), with the runner's backoff, before it is dead-lettered
   * as "unknown-task".
   * @default 10
   */
  unknownTaskMaxRetry?: number;
  /**
   * How often the runner refreshes its live-instance entry and polls the
   * fleet-wide pause flag, in ms; the entry expires after 3 × this.
   * @default 5000
   */
  instanceInterval?: number;
  /** Host name used in consumer and instance names. @default the transport's `processInfo()`, else random */
  host?: string;
}

/** {@linkcode RunnerConfig} with every default applied. */
export interface ResolvedRunnerConfig {
  /** Consumer group. */
  consumerGroup: string;
  /** Prefix of consumer names. */
  consumersPrefix: string;
  /** Most deliveries per receive call. */
  batchSize: number;
  /** Worker slots. */
  numWorkers: number;
  /** Fetch loops. */
  numFetchers: number;
  /** Override of the live-instance count, if set. */
  replicationFactor: number | undefined;
  /** Dead-letter handler, if set. */
  failedTaskHandler: FailedTaskHandler | undefined;
  /** Long-queue hook, if set. */
  longQueueHook: ((stats: RunnerStats) => void | Promise<void>) | undefined;
  /** Long-queue threshold, ms. */
  longQueueThreshold: number;
  /** Logger. */
  logger: Logger;
  /** Shutdown grace period, ms. */
  shutdownTimeout: number;
  /** Time source. */
  clock: Clock;
  /** Stats flush period, ms. */
  statsInterval: number;
  /** Deliveries before a task counts as poison. */
  maxDeliveries: number;
  /** Default backoff. */
  backoff: Backoff;
  /** Default maxRetry. */
  maxRetry: number;
  /** Default reservation timeout, ms. */
  reservationTimeout: number;
  /** Longest wait of one receive call, ms. */
  blockDuration: number;
  /** Payload size limit, UTF-8 bytes. */
  maxPayloadBytes: number;
  /** Retries of unknown task names. */
  unknownTaskMaxRetry: number;
  /** Instance refresh and pause poll period, ms. */
  instanceInterval: number;
  /** Host name override, if set. */
  host: string | undefined;
}

const POSITIVE_INT = "must be a positive integer";
const NON_NEGATIVE_INT = "must be a non-negative integer";
const POSITIVE_MS = "must be a positive finite number of milliseconds";
const NON_NEGATIVE_MS = "must be a non-negative finite number of milliseconds";

function positiveInt(message = POSITIVE_INT) {
  return v.pipe(v.number(message), v.integer(message), v.minValue(1, message));
}
function nonNegativeInt() {
  return v.pipe(v.number(NON_NEGATIVE_INT), v.integer(NON_NEGATIVE_INT), v.minValue(0, NON_NEGATIVE_INT));
}
function positiveMs(min = 0) {
  const message = min > 0 ? `must be a finite number of milliseconds >= ${min}` : POSITIVE_MS;
  return v.pipe(
    v.number(message),
    v.finite(message),
    min > 0 ? v.minValue(min, message) : v.gtValue(0, message),
  );
}
function nonNegativeMs() {
  return v.pipe(v.number(NON_NEGATIVE_MS), v.finite(NON_NEGATIVE_MS), v.minValue(0, NON_NEGATIVE_MS));
}
function fn(what = "must be a function") {
  return v.function(what);
}
const NAME_MESSAGE = "must be a non-empty string of at most 200 characters";
const nonEmptyString = v.pipe(v.string(NAME_MESSAGE), v.minLength(1, NAME_MESSAGE), v.maxLength(200, NAME_MESSAGE));

function isBackoff(value: unknown): boolean {
  if (typeof value === "function") return true;
  if (typeof value !== "object" || value === null) return false;
  const b = value as Record<string, unknown>;
  const okMs = (x: unknown, required: boolean) =>
    x === undefined ? !required : typeof x === "number" && Number.isFinite(x) && x >= 0;
  const okJitter = (x: unknown) => x === undefined || (typeof x === "number" && x >= 0 && x <= 1);
  for (const key of Object.keys(b)) {
    if (!["type", "delay", "maxDelay", "jitter"].includes(key)) return false;
  }
  if (b.type === "exponential") return okMs(b.delay, false) && okMs(b.maxDelay, false) && okJitter(b.jitter);
  if (b.type === "fixed") return okMs(b.delay, true) && b.maxDelay === undefined && okJitter(b.jitter);
  return false;
}
const BACKOFF_MESSAGE =
  "must be a function (attempt, error) => ms, { type: \"exponential\", delay?, maxDelay?, jitter? } or { type: \"fixed\", delay, jitter? } (delays >= 0 ms, jitter 0 to 1)";
const backoffSchema = v.custom<Backoff>(isBackoff, BACKOFF_MESSAGE);

const LOGGER_MESSAGE = "must be a Logger (an object with debug, info, warn and error functions)";
const loggerSchema = v.custom<Logger>(
  (x) =>
    typeof x === "object" && x !== null &&
    ["debug", "info", "warn", "error"].every((k) => typeof (x as Record<string, unknown>)[k] === "function"),
  LOGGER_MESSAGE,
);
const CLOCK_MESSAGE = "must be a Clock (an object with now, setTimeout and clearTimeout functions)";
const clockSchema = v.custom<Clock>(
  (x) =>
    typeof x === "object" && x !== null &&
    ["now", "setTimeout", "clearTimeout"].every((k) => typeof (x as Record<string, unknown>)[k] === "function"),
  CLOCK_MESSAGE,
);

const runnerConfigSchema = v.strictObject({
  consumerGroup: v.optional(nonEmptyString),
  consumersPrefix: v.optional(nonEmptyString),
  batchSize: v.optional(positiveInt()),
  numWorkers: v.optional(positiveInt()),
  numFetchers: v.optional(positiveInt()),
  replicationFactor: v.optional(positiveInt()),
  failedTaskHandler: v.optional(fn()),
  longQueueHook: v.optional(fn()),
  longQueueThreshold: v.optional(positiveMs()),
  logger: v.optional(loggerSchema),
  shutdownTimeout: v.optional(nonNegativeMs()),
  clock: v.optional(clockSchema),
  statsInterval: v.optional(positiveMs(10)),
  maxDeliveries: v.optional(positiveInt()),
  backoff: v.optional(backoffSchema),
  maxRetry: v.optional(nonNegativeInt()),
  reservationTimeout: v.optional(positiveMs(10)),
  blockDuration: v.optional(nonNegativeMs()),
  maxPayloadBytes: v.optional(positiveInt()),
  unknownTaskMaxRetry: v.optional(nonNegativeInt()),
  instanceInterval: v.optional(positiveMs(10)),
  host: v.optional(nonEmptyString),
});

/**
 * Describe a value for an error message: numbers and strings literally,
 * other things by kind.
 *
 * @param value Anything.
 * @returns A short description such as `0`, `"ten"`, `NaN` or `a function`.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "bigint":
      return `${value}n`;
    case "string": {
      const s = JSON.stringify(value);
      return s.length > 60 ? `${s.slice(0, 57)}..."` : s;
    }
    case "function":
      return "a function";
    case "undefined":
      return "undefined";
    case "symbol":
    case "boolean":
      return String(value);
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  try {
    const s = JSON.stringify(value);
    if (s !== undefined && s.length <= 60) return s;
  } catch {
    // fall through
  }
  return "an object";
}

function toConfigError(
  prefix: string,
  issues: readonly v.BaseIssue<unknown>[],
  kind: "option" | "field",
): ConfigError {
  const mapped: ValidationIssue[] = issues.map((issue) => {
    const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
    if (issue.type === "strict_object") {
      return { path, message: `unknown ${kind} '${path}'` };
    }
    return { path, message: `'${path}' ${issue.message}, got ${describeValue(issue.input)}` };
  });
  const first = mapped[0];
  const message = first ? first.message : "invalid value";
  return new ConfigError(`${prefix}: ${message}`, mapped);
}

/**
 * Check runner options and apply defaults.
 *
 * @param config The options given to the constructor.
 * @returns The options with every default applied.
 * @throws {ConfigError} Naming the first bad option and the value given, e.g.
 * "Cannot create runner: 'numWorkers' must be a positive integer, got 0".
 */
export function parseRunnerConfig(config: RunnerConfig | undefined): ResolvedRunnerConfig {
  if (config !== undefined && (typeof config !== "object" || config === null)) {
    throw new ConfigError(`Cannot create runner: config must be an object, got ${describeValue(config)}`, []);
  }
  const result = v.safeParse(runnerConfigSchema, config ?? {});
  if (!result.success) throw toConfigError("Cannot create runner", result.issues, "option");
  const c = result.output;
  const consumerGroup = c.consumerGroup ?? "taskrunner";
  return {
    consumerGroup,
    consumersPrefix: c.consumersPrefix ?? consumerGroup,
    batchSize: c.batchSize ?? 10,
    numWorkers: c.numWorkers ?? 10,
    numFetchers: c.numFetchers ?? 1,
    replicationFactor: c.replicationFactor,
    failedTaskHandler: c.failedTaskHandler as FailedTaskHandler | undefined,
    longQueueHook: c.longQueueHook as ((stats: RunnerStats) => void | Promise<void>) | undefined,
    longQueueThreshold: c.longQueueThreshold ?? 60_000,
    logger: c.logger ?? silentLogger,
    shutdownTimeout: c.shutdownTimeout ?? 30_000,
    clock: c.clock ?? systemClock,
    statsInterval: c.statsInterval ?? 1_000,
    maxDeliveries: c.maxDeliveries ?? 5,
    backoff: c.backoff ?? DEFAULT_BACKOFF,
    maxRetry: c.maxRetry ?? 3,
    reservationTimeout: c.reservationTimeout ?? 30_000,
    blockDuration: c.blockDuration ?? 2_000,
    maxPayloadBytes: c.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    unknownTaskMaxRetry: c.unknownTaskMaxRetry ?? 10,
    instanceInterval: c.instanceInterval ?? 5_000,
    host: c.host,
  };
}

/** Characters allowed in task names (they become part of storage keys). */
export const TASK_NAME_PATTERN: RegExp = /^[A-Za-z0-9_.:/@-]{1,200}$/;

const TASK_NAME_MESSAGE = "must be 1 to 200 characters among letters, digits and _ . : / @ -";
const STANDARD_SCHEMA_MESSAGE = "must be a Standard Schema (valibot, zod, arktype, ...)";

const taskDefinitionSchema = v.strictObject({
  name: v.pipe(v.string(TASK_NAME_MESSAGE), v.regex(TASK_NAME_PATTERN, TASK_NAME_MESSAGE)),
  action: fn(),
  maxRetry: v.optional(nonNegativeInt()),
  reservationTimeout: v.optional(positiveMs(10)),
  unique: v.optional(v.boolean("must be a boolean")),
  uniqueKey: v.optional(fn()),
  uniqueFor: v.optional(nonNegativeMs()),
  timeout: v.optional(positiveMs()),
  backoff: v.optional(backoffSchema),
  schema: v.optional(
    v.custom<StandardSchemaV1>(
      (x) =>
        (typeof x === "object" || typeof x === "function") && x !== null &&
        typeof (x as { "~standard"?: { validate?: unknown } })["~standard"]?.validate === "function",
      STANDARD_SCHEMA_MESSAGE,
    ),
  ),
});

/** A task definition with every default applied (internal to the runner). */
export interface ResolvedTask {
  name: string;
  // deno-lint-ignore no-explicit-any
  action: (payload: any, ctx: any) => unknown;
  maxRetry: number;
  reservationTimeout: number;
  unique: boolean;
  uniqueKey: ((payload: never) => string) | undefined;
  uniqueFor: number;
  timeout: number | undefined;
  backoff: Backoff;
  schema: StandardSchemaV1 | undefined;
}

/**
 * Check a task definition and apply the runner's defaults.
 *
 * `unique` without `uniqueFor` is allowed: the lock is then held while the
 * task is queued or running and released when it completes or is
 * dead-lettered. `uniqueKey` and `uniqueFor` without `unique: true` are
 * refused, since they would silently do nothing.
 *
 * @param definition The definition given to `registerTask`.
 * @param defaults The runner's resolved options.
 * @returns The resolved definition.
 * @throws {ConfigError} Naming the task, the field and the value given.
 */
export function parseTaskDefinition(
  definition: TaskDefinition<never>,
  defaults: Pick<ResolvedRunnerConfig, "maxRetry" | "reservationTimeout" | "backoff">,
): ResolvedTask {
  if (typeof definition !== "object" || definition === null) {
    throw new ConfigError(`Cannot register task: definition must be an object, got ${describeValue(definition)}`, []);
  }
  const label = typeof definition.name === "string" ? `'${definition.name}'` : describeValue(definition.name);
  const result = v.safeParse(taskDefinitionSchema, definition);
  if (!result.success) throw toConfigError(`Cannot register task ${label}`, result.issues, "field");
  const d = result.output;
  if (!d.unique && (d.uniqueKey !== undefined || d.uniqueFor !== undefined)) {
    const field = d.uniqueKey !== undefined ? "uniqueKey" : "uniqueFor";
    throw new ConfigError(`Cannot register task ${label}: '${field}' requires 'unique: true'`, [
      { path: field, message: "requires 'unique: true'" },
    ]);
  }
  return {
    name: d.name,
    action: d.action as ResolvedTask["action"],
    maxRetry: d.maxRetry ?? defaults.maxRetry,
    reservationTimeout: d.reservationTimeout ?? defaults.reservationTimeout,
    unique: d.unique ?? false,
    uniqueKey: d.uniqueKey as ((payload: never) => string) | undefined,
    uniqueFor: d.uniqueFor ?? 0,
    timeout: d.timeout,
    backoff: d.backoff ?? defaults.backoff,
    schema: d.schema,
  };
}
