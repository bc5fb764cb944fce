/**
 * Options of the monitor, and their validation (valibot, once, when the
 * monitor is created).
 *
 * @module
 */

import type { Context } from "hono";
import * as v from "valibot";
import { ConfigError, describeValue } from "../../src/errors.ts";
import type { RunnerEvents } from "../../src/events.ts";
import type { MessageQueue } from "../../src/queue.ts";
import type { RunnerStats } from "../../src/stats.ts";
import { fn, toConfigError, withMethods } from "../../src/_schemas.ts";

/** Runner events the live stream forwards. */
export type MonitoredEvent = "completed" | "failed" | "dead" | "reclaimed";

/**
 * What the monitor needs from a runner. `TaskRunner` satisfies it; so can
 * anything else that reads the same queue.
 */
export interface MonitoredRunner {
  /** The transport, for dead letters and pausing. */
  readonly queue: MessageQueue;
  /** Fleet-wide statistics. */
  stats(): Promise<RunnerStats>;
  /**
   * Listen to an event of this runner instance (the monitor listens to
   * `completed`, `failed`, `dead` and `reclaimed` while a live stream is open).
   *
   * @returns A function that removes the listener.
   */
  on<K extends MonitoredEvent>(event: K, listener: (payload: RunnerEvents[K]) => void): () => void;
  /** Pause consuming fleet-wide (falls back to `queue.setPaused(true)`). */
  pause?(): Promise<void>;
  /** Resume consuming fleet-wide (falls back to `queue.setPaused(false)`). */
  resume?(): Promise<void>;
}

/** Options of `createMonitor`. */
export interface MonitorOptions {
  /** The runner to monitor. */
  runner: MonitoredRunner;
  /**
   * Enable the action routes (replay and delete dead letters, pause and
   * resume). Requires `authorize`.
   * @default false
   */
  actions?: boolean;
  /**
   * Decides whether a request may perform an action. Called for every
   * action request; return false to answer 403 (a hook that throws denies
   * too). Required with `actions: true` (pass `() => true` only when a
   * middleware in front of the monitor already authenticates every request).
   */
  authorize?: (c: Context) => boolean | Promise<boolean>;
  /**
   * Show dead letters' payloads (`body`) and error stacks.
   * @default false
   */
  showPayloads?: boolean;
  /**
   * Send CORS headers with these settings (Hono's `cors` middleware
   * options). No CORS headers are sent when absent. Origins listed here may
   * also send action requests.
   */
  cors?: CorsOptions;
  /**
   * How often the live stream pushes statistics, in milliseconds (50 to
   * 3,600,000).
   * @default 1000
   */
  sseInterval?: number;
  /**
   * How long one statistics read is reused by concurrent and following
   * requests, in milliseconds (0 to 60,000). Bounds the queue reads a burst
   * of requests can cause.
   * @default 200 (at most half of `sseInterval`)
   */
  cacheTime?: number;
  /**
   * Most live-stream clients at once (1 to 100,000); more get 503.
   * @default 100
   */
  maxStreams?: number;
  /**
   * Called with errors the monitor answers with a 5xx (the queue could not
   * be read) and with errors thrown by `authorize`. Never receives request
   * data.
   * @default no-op
   */
  onError?: (error: unknown) => void;
}

/** CORS settings: Hono's `cors()` options, without a default origin. */
export interface CorsOptions {
  /** Allowed origins: one, a list, or a function returning the allowed origin or null. */
  origin: string | string[] | ((origin: string, c: Context) => string | undefined | null);
  /** Methods allowed in preflight. @default ["GET", "HEAD", "POST", "DELETE"] */
  allowMethods?: string[];
  /** Headers allowed in preflight. @default ["Content-Type", "X-TaskRunner-Action"] */
  allowHeaders?: string[];
  /** How long a preflight may be cached, in seconds (the header's unit). */
  maxAge?: number;
  /** Send `Access-Control-Allow-Credentials: true`. @default false */
  credentials?: boolean;
  /** Response headers exposed to scripts. */
  exposeHeaders?: string[];
}

/** A fetch handler, as `Deno.serve`, `Bun.serve` and service workers take. */
export type MonitorFetchHandler = (request: Request) => Promise<Response>;

/** Options of `createMonitorHandler`. */
export interface MonitorHandlerOptions extends MonitorOptions {
  /**
   * Path prefix the handler is served under (`"/tasks"`); requests outside
   * it get 404.
   * @default "/"
   */
  basePath?: string;
}

/** {@linkcode MonitorOptions} checked, with every default applied. */
export interface ResolvedMonitorOptions {
  /** The runner. */
  runner: MonitoredRunner;
  /** Action routes enabled. */
  actions: boolean;
  /** The hook deciding on actions (present when `actions`). */
  authorize: ((c: Context) => boolean | Promise<boolean>) | undefined;
  /** Payloads and stacks shown. */
  showPayloads: boolean;
  /** CORS settings, if any. */
  cors: CorsOptions | undefined;
  /** Live-stream interval, ms. */
  sseInterval: number;
  /** Statistics cache time, ms. */
  cacheTime: number;
  /** Most live streams. */
  maxStreams: number;
  /** Error sink. */
  onError: (error: unknown) => void;
}

const isObject = (x: unknown): x is object => typeof x === "object" && x !== null;

const RUNNER_MESSAGE = "must be a TaskRunner (with stats(), on() and queue)";
const BOOLEAN_MESSAGE = "must be a boolean";
const BASE_PATH_MESSAGE = 'must be a path starting with "/"';
const CORS_MESSAGE =
  "must be an object with an 'origin' (a string, a list of strings or a function; not '*' with credentials)";

function integer(min: number, max: number, unit = ""): v.GenericSchema<number> {
  const message = `must be an integer from ${min} to ${max}${unit}`;
  return v.pipe(v.number(message), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
}

function isCors(c: unknown): boolean {
  if (!isObject(c)) return false;
  const origin = (c as CorsOptions).origin;
  const valid = typeof origin === "string" || typeof origin === "function" ||
    (Array.isArray(origin) && origin.every((o) => typeof o === "string"));
  return valid && !(origin === "*" && (c as CorsOptions).credentials === true);
}

/** The options' schema; the first failing entry, in this order, is the one reported. */
const monitorOptionsSchema = v.object({
  runner: v.pipe(
    withMethods<MonitoredRunner>(["stats", "on"], RUNNER_MESSAGE),
    v.check((r) => isObject(r.queue), RUNNER_MESSAGE),
  ),
  actions: v.optional(v.boolean(BOOLEAN_MESSAGE)),
  showPayloads: v.optional(v.boolean(BOOLEAN_MESSAGE)),
  authorize: v.optional(fn()),
  onError: v.optional(fn()),
  sseInterval: v.optional(integer(50, 3_600_000, " (milliseconds)")),
  cacheTime: v.optional(integer(0, 60_000, " (milliseconds)")),
  maxStreams: v.optional(integer(1, 100_000)),
  cors: v.optional(v.custom(isCors, CORS_MESSAGE)),
});

const PREFIX = "Cannot create monitor";

/**
 * Check the options and apply defaults.
 *
 * @param options What the caller passed.
 * @returns The resolved options.
 * @throws {ConfigError} Naming the first invalid option and the value given,
 *   e.g. "Cannot create monitor: 'maxStreams' must be an integer from 1 to 100000, got -1".
 */
export function resolveMonitorOptions(options: MonitorOptions): ResolvedMonitorOptions {
  if (!isObject(options)) {
    throw new ConfigError(`${PREFIX}: options must be an object, got ${describeValue(options)}`, []);
  }
  // `runner` is present as a key even when missing, so that its check (not
  // valibot's "missing key" issue) words the message.
  const result = v.safeParse(monitorOptionsSchema, { ...options, runner: options.runner });
  if (!result.success) throw toConfigError(PREFIX, result.issues, "option");
  const actions = options.actions ?? false;
  if (actions && options.authorize === undefined) {
    const message = "'actions' is true but no 'authorize' hook was given; pass authorize: (c) => boolean " +
      "(or () => true when a middleware in front of the monitor already authenticates every request)";
    throw new ConfigError(`${PREFIX}: ${message}`, [{ path: "authorize", message }]);
  }
  const sseInterval = options.sseInterval ?? 1000;
  return {
    runner: options.runner,
    actions,
    authorize: options.authorize,
    showPayloads: options.showPayloads ?? false,
    cors: options.cors,
    sseInterval,
    cacheTime: options.cacheTime ?? Math.min(200, Math.floor(sseInterval / 2)),
    maxStreams: options.maxStreams ?? 100,
    onError: options.onError ?? (() => {}),
  };
}

const basePathSchema = v.object({
  basePath: v.optional(v.pipe(
    v.string(BASE_PATH_MESSAGE),
    v.startsWith("/", BASE_PATH_MESSAGE),
  )),
});

/**
 * Check `basePath` and trim its trailing slashes.
 *
 * @param options What the caller passed to `createMonitorHandler`.
 * @returns The prefix without trailing slashes ("" for the root).
 * @throws {ConfigError} When `basePath` does not start with "/".
 */
export function resolveBasePath(options: MonitorHandlerOptions): string {
  const result = v.safeParse(basePathSchema, { basePath: options.basePath });
  if (!result.success) throw toConfigError(PREFIX, result.issues, "option");
  return (options.basePath ?? "/").replace(/\/+$/, "");
}
