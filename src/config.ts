/**
 * Runner options: their types, defaults, and the schema that checks them
 * once, at construction, with messages naming the option and the value
 * given. Task definitions are checked in `task.ts`; both are built from the
 * blocks of `_schemas.ts`.
 *
 * @module
 */

import * as v from "valibot";
import { type Clock, systemClock } from "./clock.ts";
import { ConfigError, describeValue } from "./errors.ts";
import { type Logger, silentLogger } from "./logger.ts";
import { type Backoff, DEFAULT_BACKOFF } from "./backoff.ts";
import type { RunnerStats } from "./stats.ts";
import type { FailedTaskHandler } from "./task.ts";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "./codec.ts";
import {
  backoffSchema,
  fn,
  nonEmptyString,
  nonNegativeInt,
  nonNegativeMs,
  positiveInt,
  positiveMs,
  toConfigError,
  withMethods,
} from "./_schemas.ts";

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
   * The size of one fetch. It bounds:
   * - each receive call: it asks for `min(batchSize, free worker slots)`
   *   deliveries, so nothing received waits unheartbeated for a slot;
   * - each reclaim pass: at most `min(batchSize, free worker slots)`
   *   deliveries taken over from stalled consumers. A reclaim pass counts the
   *   slots set aside for a receive call still waiting as free, so while both
   *   return work the runner may run up to `batchSize` tasks over
   *   `numWorkers` for a moment;
   * - failed-task handler calls taken over from stopped runners: at most
   *   `batchSize` claimed per pass, and at most `max(numWorkers, batchSize)`
   *   handler calls running on this runner at once, its own included.
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

const loggerSchema = withMethods<Logger>(
  ["debug", "info", "warn", "error"],
  "must be a Logger (an object with debug, info, warn and error functions)",
);
const clockSchema = withMethods<Clock>(
  ["now", "setTimeout", "clearTimeout"],
  "must be a Clock (an object with now, setTimeout and clearTimeout functions)",
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
