/**
 * Options of {@linkcode RedisStreamQueue}, their defaults, and their
 * validation (valibot, once, when the queue is created).
 *
 * @module
 */
import * as v from "valibot";
import { ConfigError } from "../../src/errors.ts";
import { type Logger, silentLogger } from "../../src/logger.ts";
import { positiveMs, toConfigError } from "../../src/_schemas.ts";

/** Options of {@linkcode RedisStreamQueue}. */
export interface RedisStreamQueueOptions {
  /**
   * Namespace of the application's queues; part of every key's hash tag.
   * Must not contain `{` or `}`.
   * @default "taskrunner"
   */
  prefix?: string;
  /**
   * Queue name; one stream per queue, many task names per queue. Must not
   * contain `{` or `}`.
   * @default "default"
   */
  queue?: string;
  /**
   * Reservation, in milliseconds, for entries that carry none (written by a
   * foreign producer).
   * @default 30000
   */
  defaultReservationTimeout?: number;
  /**
   * Reservation, in milliseconds, for entries that carry none.
   * @deprecated Use `defaultReservationTimeout` (same meaning); giving both
   * is a `ConfigError`.
   */
  reclaimDelay?: number;
  /**
   * Delete entries from the stream once acknowledged (by every consumer
   * group), so the stream holds only outstanding work. Turning it off keeps
   * completed entries until you trim the stream yourself.
   * @default true
   */
  deleteOnAck?: boolean;
  /**
   * Longest single `XREADGROUP BLOCK` window, in milliseconds; longer waits
   * loop. Bounds how long a stopping reader can take when it cannot be
   * unblocked.
   * @default 1000
   */
  blockWindow?: number;
  /**
   * Most delayed tasks moved per promote script call (calls loop until
   * nothing due remains).
   * @default 1000
   */
  promoteBatch?: number;
  /**
   * Most tasks (or deliveries) per script call; keeps Lua well under its
   * unpack limit. Values above 1000 count as 1000.
   * @default 500
   */
  batchLimit?: number;
  /**
   * Longest wait, in milliseconds, for control commands (connecting the
   * blocking reader, reclaim, promote) and beyond a blocking read's window.
   * Heartbeats wait at most half the shortest reservation they cover, so a
   * cut-off worker notices before its tasks can be reclaimed. Hot-path
   * commands (add, ack, receive) run without a timer.
   * @default 5000
   */
  commandTimeout?: number;
  /**
   * Consumers that own no delivery and have been idle this long, in
   * milliseconds, are deleted from their group by reclaim passes (left
   * behind by crashed processes). Deleting a live consumer that owns nothing
   * loses nothing: its next read that returns work recreates it.
   * @default 600000
   */
  consumerIdleTimeout?: number;
  /** Where warnings (eviction policy, recreated groups) go. @default silentLogger */
  logger?: Logger;
}

/** {@linkcode RedisStreamQueueOptions} checked, with every default applied. */
export interface ResolvedRedisStreamQueueOptions {
  /** Key namespace. */
  readonly prefix: string;
  /** Queue name. */
  readonly queue: string;
  /** Reservation of entries that carry none, ms. */
  readonly defaultReservationTimeout: number;
  /** Delete acknowledged entries. */
  readonly deleteOnAck: boolean;
  /** Longest single blocking read, ms. */
  readonly blockWindow: number;
  /** Most delayed tasks per promote call (an integer). */
  readonly promoteBatch: number;
  /** Most tasks or deliveries per script call (an integer, at most 1000). */
  readonly batchLimit: number;
  /** Longest wait for control commands, ms. */
  readonly commandTimeout: number;
  /** Idle time after which an empty consumer is deleted, ms. */
  readonly consumerIdleTimeout: number;
  /** Where warnings go. */
  readonly logger: Logger;
}

/** The defaults of the options that have one. */
export const REDIS_QUEUE_DEFAULTS = {
  prefix: "taskrunner",
  queue: "default",
  defaultReservationTimeout: 30_000,
  blockWindow: 1_000,
  promoteBatch: 1_000,
  batchLimit: 500,
  commandTimeout: 5_000,
  consumerIdleTimeout: 600_000,
} as const;

/** Most tasks or deliveries per script call, whatever `batchLimit` says. */
const MAX_BATCH = 1_000;

const PREFIX = "Cannot create RedisStreamQueue";
const NAME_MESSAGE = "must be a non-empty string without '{' or '}'";
const COUNT_MESSAGE = "must be a positive number";

/** A key-name part: braces would break the hash tag. Null or absent takes the default. */
const keyName = v.nullish(v.pipe(v.string(NAME_MESSAGE), v.minLength(1, NAME_MESSAGE), v.regex(/^[^{}]*$/, NAME_MESSAGE)));
/** A count used after flooring (as the script calls take it). */
const count = v.optional(v.pipe(v.number(COUNT_MESSAGE), v.finite(COUNT_MESSAGE), v.gtValue(0, COUNT_MESSAGE)));
const ms = v.optional(positiveMs());

const OPTIONS = v.object({
  prefix: keyName,
  queue: keyName,
  defaultReservationTimeout: ms,
  reclaimDelay: ms,
  blockWindow: ms,
  promoteBatch: count,
  batchLimit: count,
  commandTimeout: ms,
  consumerIdleTimeout: ms,
});

/**
 * Check the options and apply defaults.
 *
 * @param options What the caller passed.
 * @returns The resolved options.
 * @throws ConfigError naming the first invalid option and the value given,
 *   or when both `defaultReservationTimeout` and its deprecated alias
 *   `reclaimDelay` are given.
 */
export function resolveRedisStreamQueueOptions(options: RedisStreamQueueOptions): ResolvedRedisStreamQueueOptions {
  const parsed = v.safeParse(OPTIONS, options);
  if (!parsed.success) throw toConfigError(PREFIX, parsed.issues, "option");
  const o = parsed.output;
  if (o.defaultReservationTimeout !== undefined && o.reclaimDelay !== undefined) {
    throw new ConfigError(
      `${PREFIX}: 'reclaimDelay' is the deprecated name of 'defaultReservationTimeout'; give only 'defaultReservationTimeout'`,
      [{ path: "reclaimDelay", message: "'reclaimDelay' and 'defaultReservationTimeout' are both given" }],
    );
  }
  const d = REDIS_QUEUE_DEFAULTS;
  return {
    prefix: o.prefix ?? d.prefix,
    queue: o.queue ?? d.queue,
    defaultReservationTimeout: o.defaultReservationTimeout ?? o.reclaimDelay ?? d.defaultReservationTimeout,
    deleteOnAck: options.deleteOnAck !== false,
    blockWindow: o.blockWindow ?? d.blockWindow,
    promoteBatch: Math.floor(o.promoteBatch ?? d.promoteBatch),
    batchLimit: Math.min(MAX_BATCH, Math.floor(o.batchLimit ?? d.batchLimit)),
    commandTimeout: o.commandTimeout ?? d.commandTimeout,
    consumerIdleTimeout: o.consumerIdleTimeout ?? d.consumerIdleTimeout,
    logger: options.logger ?? silentLogger,
  };
}
