/**
 * Options of the monitor, and their validation (valibot, once, when the
 * monitor is created).
 *
 * @module
 */

import type { Context } from "hono";
import * as v from "valibot";
import type { RunnerEvents } from "../../mod.ts";
import type { MessageQueue } from "../../src/queue.ts";
import type { RunnerStats } from "../../src/stats.ts";

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

const isFunction = (x: unknown): boolean => typeof x === "function";
const isObject = (x: unknown): boolean => typeof x === "object" && x !== null;

function integer(min: number, max: number) {
  return v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
}

/** Each option's schema and what the error message says it must be. */
const RULES: Record<string, [v.GenericSchema, string]> = {
  runner: [
    v.custom((r) =>
      isObject(r) && isFunction((r as MonitoredRunner).stats) && isFunction((r as MonitoredRunner).on) &&
      isObject((r as MonitoredRunner).queue)
    ),
    "a TaskRunner (with stats(), on() and queue)",
  ],
  actions: [v.optional(v.boolean()), "a boolean"],
  showPayloads: [v.optional(v.boolean()), "a boolean"],
  authorize: [v.optional(v.custom(isFunction)), "a function"],
  onError: [v.optional(v.custom(isFunction)), "a function"],
  sseInterval: [v.optional(integer(50, 3_600_000)), "an integer from 50 to 3600000 (milliseconds)"],
  cacheTime: [v.optional(integer(0, 60_000)), "an integer from 0 to 60000 (milliseconds)"],
  maxStreams: [v.optional(integer(1, 100_000)), "an integer from 1 to 100000"],
  cors: [
    v.optional(v.custom((c) => {
      if (!isObject(c)) return false;
      const origin = (c as CorsOptions).origin;
      const valid = typeof origin === "string" || isFunction(origin) ||
        (Array.isArray(origin) && origin.every((o) => typeof o === "string"));
      return valid && !(origin === "*" && (c as CorsOptions).credentials === true);
    })),
    "an object with an 'origin' (a string, a list of strings or a function; not '*' with credentials)",
  ],
};

function show(value: unknown): string {
  if (typeof value === "function") return "a function";
  try {
    return typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Check the options and apply defaults.
 *
 * @param options What the caller passed.
 * @returns The resolved options.
 * @throws {TypeError} Naming the first invalid option and the value given.
 */
export function resolveMonitorOptions(options: MonitorOptions): ResolvedMonitorOptions {
  if (!isObject(options)) throw new TypeError(`Cannot create monitor: options must be an object, got ${show(options)}`);
  const given = options as unknown as Record<string, unknown>;
  for (const [key, [schema, rule]] of Object.entries(RULES)) {
    if (!v.safeParse(schema, given[key]).success) {
      throw new TypeError(`Cannot create monitor: '${key}' must be ${rule}, got ${show(given[key])}`);
    }
  }
  const actions = options.actions ?? false;
  if (actions && options.authorize === undefined) {
    throw new TypeError(
      "Cannot create monitor: 'actions' is true but no 'authorize' hook was given; pass authorize: (c) => boolean " +
        "(or () => true when a middleware in front of the monitor already authenticates every request)",
    );
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
