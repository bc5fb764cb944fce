/**
 * A monitor for a task runner, as a Hono app: JSON statistics, Prometheus
 * metrics, a live Server-Sent-Events stream, a self-contained dashboard,
 * and (off by default) dead-letter and pause actions.
 *
 * Mount it in any Hono app, on Node, Deno or Bun, or serve it with the plain
 * fetch handler from {@linkcode createMonitorHandler}.
 *
 * | route | what |
 * |---|---|
 * | `GET /` | the dashboard (HTML) |
 * | `GET /api/overview` | {@linkcode MonitorOverview} |
 * | `GET /api/tasks` | {@linkcode MonitorTasksResponse} |
 * | `GET /api/instances` | {@linkcode MonitorInstancesResponse} |
 * | `GET /api/dead-letters?cursor=&limit=` | {@linkcode MonitorDeadLetterPage} (limit 1–100, default 20) |
 * | `GET /api/dead-letters/:id` | {@linkcode MonitorDeadLetter} |
 * | `GET /metrics` | Prometheus text format 0.0.4 |
 * | `GET /events` | SSE: `stats` ({@linkcode MonitorStatsEvent}) every `sseInterval` ms, `tasks` ({@linkcode MonitorTaskEventBatch}) |
 * | `POST /api/dead-letters/:id/replay` | action: run a dead letter again |
 * | `DELETE /api/dead-letters/:id` | action: delete a dead letter |
 * | `POST /api/pause`, `POST /api/resume` | action: pause or resume consuming fleet-wide |
 *
 * Errors are JSON `{ error: { code, message } }` ({@linkcode MonitorErrorBody})
 * with a 4xx status for anything wrong with the request; no response carries
 * a stack trace.
 *
 * Security: read-only unless `actions: true` and an `authorize` hook is
 * given; action requests must also come from a script (JSON content type or
 * the `X-TaskRunner-Action` header, and no cross-site `Origin`), so a
 * cross-site form cannot trigger them. Payloads and error stacks are hidden
 * unless `showPayloads: true`. No CORS headers unless `cors` is given. The
 * read routes are not authenticated by the monitor: put your own middleware
 * in front of it (`app.use("/tasks/*", basicAuth(...))`) when it is reachable
 * by anyone but operators.
 *
 * @example Mount in a Hono app
 * ```ts
 * import { Hono } from "hono";
 * import { createMonitor } from "@taskrunner/core/hono";
 *
 * const app = new Hono();
 * app.route("/tasks", createMonitor({ runner }));
 * ```
 *
 * @module
 */

import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import { cors as corsMiddleware } from "hono/cors";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { streamSSE } from "hono/streaming";
import type { DeadLetter, MessageQueue } from "../../src/queue.ts";
import type { RunnerEvents } from "../../mod.ts";
import type { RunnerStats } from "../../src/stats.ts";
import { check, CursorSchema, DEFAULT_PAGE_SIZE, IdSchema, LimitSchema } from "./_params.ts";
import { Snapshotter } from "./_snapshot.ts";
import { StreamHub } from "./_stream.ts";
import { createNonce, dashboardCsp, renderDashboard } from "./dashboard.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";
import type {
  MonitorDeadLetter,
  MonitorDeadLetterPage,
  MonitorErrorBody,
  MonitorInstancesResponse,
  MonitorOverview,
  MonitorStatsEvent,
  MonitorTaskEvent,
  MonitorTaskEventBatch,
  MonitorTasksResponse,
} from "./types.ts";

export type * from "./types.ts";
export { escapeLabelValue, type MetricsSnapshot, PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";

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

/** Runner events the live stream forwards. */
export type MonitoredEvent = "completed" | "failed" | "dead" | "reclaimed";

/** Options of {@linkcode createMonitor}. */
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
   * action request; return false to answer 403. Required with
   * `actions: true` (pass `() => true` only when a middleware in front of
   * the monitor already authenticates every request).
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
   * @default 200
   */
  cacheTime?: number;
  /**
   * Most live-stream clients at once; more get 503.
   * @default 100
   */
  maxStreams?: number;
  /**
   * Called with errors the monitor answers with a 5xx (the queue could not
   * be read, a bug). Never receives request data.
   * @default no-op
   */
  onError?: (error: unknown) => void;
}

/** CORS settings: Hono's `cors()` options, minus the wildcard default. */
export interface CorsOptions {
  /** Allowed origins: one, a list, or a function returning the allowed origin or null. */
  origin: string | string[] | ((origin: string, c: Context) => string | undefined | null);
  /** Methods allowed in preflight. @default ["GET","HEAD","POST","DELETE"] */
  allowMethods?: string[];
  /** Headers allowed in preflight. @default ["Content-Type","X-TaskRunner-Action"] */
  allowHeaders?: string[];
  /** Preflight cache, in seconds (as the header). */
  maxAge?: number;
  /** Send `Access-Control-Allow-Credentials: true`. @default false */
  credentials?: boolean;
  /** Headers exposed to scripts. */
  exposeHeaders?: string[];
}

/** A fetch handler, as `Deno.serve`, `Bun.serve` and service workers take. */
export type MonitorFetchHandler = (request: Request) => Promise<Response>;

/** Options of {@linkcode createMonitorHandler}. */
export interface MonitorHandlerOptions extends MonitorOptions {
  /**
   * Path prefix the handler is served under (`"/tasks"`); requests outside
   * it get 404.
   * @default "/"
   */
  basePath?: string;
}

class MonitorError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  constructor(status: ContentfulStatusCode, code: string, message: string) {
    super(message);
    this.name = "MonitorError";
    this.status = status;
    this.code = code;
  }
}

function errorBody(code: string, message: string): MonitorErrorBody {
  return { error: { code, message } };
}

function fail(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  return c.json(errorBody(code, message), status);
}

function optionError(option: string, rule: string, got: unknown): TypeError {
  let shown: string;
  try {
    shown = typeof got === "string" ? JSON.stringify(got) : String(got);
  } catch {
    shown = typeof got;
  }
  return new TypeError(`Cannot create monitor: '${option}' must be ${rule}, got ${shown}`);
}

function intOption(options: MonitorOptions, key: "sseInterval" | "cacheTime" | "maxStreams", min: number, max: number, fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw optionError(key, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

function boolOption(options: MonitorOptions, key: "actions" | "showPayloads"): boolean {
  const value = options[key];
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw optionError(key, "a boolean", value);
  return value;
}

const MAX_MESSAGE_IN_LIST = 2000;

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

function truncate(s: string, max: number): string {
  return s.length > max ? s.slice(0, max) + "…" : s;
}

/**
 * Create the monitor app.
 *
 * @param options The runner and what to expose.
 * @returns A Hono app to mount with `app.route(prefix, monitor)` or serve
 *   with `monitor.fetch`.
 * @throws {TypeError} When an option is invalid (the message names the
 *   option and the value given), or `actions` is true without `authorize`.
 *
 * @example Read-only, behind basic auth, in a Node server
 * ```ts
 * import { Hono } from "hono";
 * import { basicAuth } from "hono/basic-auth";
 * import { serve } from "@hono/node-server";
 * import { createMonitor } from "@taskrunner/core/hono";
 *
 * const app = new Hono();
 * app.use("/tasks/*", basicAuth({ username: "ops", password: process.env.MONITOR_PASSWORD! }));
 * app.route("/tasks", createMonitor({ runner }));
 * serve({ fetch: app.fetch, port: 3000 });
 * ```
 */
export function createMonitor(options: MonitorOptions): Hono {
  if (typeof options !== "object" || options === null) throw optionError("options", "an object", options);
  const runner = options.runner;
  if (
    typeof runner !== "object" || runner === null || typeof runner.stats !== "function" ||
    typeof runner.on !== "function" || typeof runner.queue !== "object" || runner.queue === null
  ) {
    throw optionError("runner", "a TaskRunner (with stats(), on() and queue)", runner);
  }
  const actions = boolOption(options, "actions");
  const showPayloads = boolOption(options, "showPayloads");
  const sseInterval = intOption(options, "sseInterval", 50, 3_600_000, 1000);
  const cacheTime = intOption(options, "cacheTime", 0, 60_000, Math.min(200, Math.floor(sseInterval / 2)));
  const maxStreams = intOption(options, "maxStreams", 1, 100_000, 100);
  const authorize = options.authorize;
  if (authorize !== undefined && typeof authorize !== "function") {
    throw optionError("authorize", "a function", authorize);
  }
  if (actions && authorize === undefined) {
    throw new TypeError(
      "Cannot create monitor: 'actions' is true but no 'authorize' hook was given; pass authorize: (c) => boolean " +
        "(or () => true when a middleware in front of the monitor already authenticates every request)",
    );
  }
  const cors = options.cors;
  if (cors !== undefined && (typeof cors !== "object" || cors === null || cors.origin === undefined)) {
    throw optionError("cors", "an object with an 'origin'", cors);
  }
  if (cors !== undefined && cors.origin === "*" && cors.credentials) {
    throw optionError("cors", "not a wildcard origin with credentials", "origin '*' with credentials: true");
  }
  const onError = options.onError ?? (() => {});
  const queue = runner.queue;
  const snapshots = new Snapshotter(() => runner.stats(), cacheTime);
  const hub = new StreamHub((type, listener) => {
    switch (type) {
      case "completed":
        return runner.on(type, (payload) => listener({ type, payload }));
      case "failed":
        return runner.on(type, (payload) => listener({ type, payload }));
      case "dead":
        return runner.on(type, (payload) => listener({ type, payload }));
      case "reclaimed":
        return runner.on(type, (payload) => listener({ type, payload }));
    }
  }, sseInterval);

  const app = new Hono();

  app.use("*", async (c, next) => {
    await next();
    c.header("X-Content-Type-Options", "nosniff");
    if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
  });
  if (cors !== undefined) {
    app.use(
      "*",
      corsMiddleware({
        origin: cors.origin,
        allowMethods: cors.allowMethods ?? ["GET", "HEAD", "POST", "DELETE"],
        allowHeaders: cors.allowHeaders ?? ["Content-Type", "X-TaskRunner-Action"],
        maxAge: cors.maxAge,
        credentials: cors.credentials ?? false,
        exposeHeaders: cors.exposeHeaders,
      }),
    );
  }

  app.onError((error, c) => {
    if (error instanceof MonitorError) return fail(c, error.status, error.code, error.message);
    const status = (error as { status?: unknown }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      // Hono's own HTTPExceptions (a malformed request it could not parse).
      return fail(c, status as ContentfulStatusCode, "bad_request", "The request could not be understood.");
    }
    onError(error);
    return fail(c, 503, "unavailable", "The queue could not be read; try again.");
  });
  app.notFound((c) => notFound(c));

  // Query parameters this monitor does not know are ignored; known ones
  // given twice are refused rather than guessed.
  function singleQuery(c: Context, name: string): string | undefined {
    const all = c.req.queries(name);
    if (all === undefined || all.length === 0) return undefined;
    if (all.length > 1) throw new MonitorError(400, "bad_request", `'${name}' must be given at most once.`);
    return all[0];
  }

  /**
   * Whether the queue answers a plain read. Asked only after a call keyed
   * by request input (an id, a cursor) failed, to tell input the transport
   * cannot parse (the request's fault: 4xx) from a transport failure (503).
   */
  async function queueAnswers(): Promise<boolean> {
    try {
      await queue.listDeadLetters({ limit: 1 });
      return true;
    } catch {
      return false;
    }
  }

  /** Run a transport call keyed by a dead-letter id; an id it cannot parse counts as unknown. */
  async function byId<T>(call: () => Promise<T>, unknown: T): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (await queueAnswers()) return unknown;
      throw error;
    }
  }

  function idParam(c: Context): string {
    const result = check(IdSchema, c.req.param("id"));
    if (!result.ok) throw new MonitorError(400, "bad_request", `Dead-letter id ${result.message}.`);
    return result.value;
  }

  function deadLetterView(d: DeadLetter, listing: boolean): MonitorDeadLetter {
    const message = typeof d.error?.message === "string" ? d.error.message : String(d.error?.message ?? "");
    const view: MonitorDeadLetter = {
      deadLetterId: d.deadLetterId,
      id: d.id,
      name: d.name,
      attempt: d.attempt,
      reason: d.reason,
      error: {
        name: typeof d.error?.name === "string" ? d.error.name : "Error",
        message: listing ? truncate(message, MAX_MESSAGE_IN_LIST) : message,
      },
      dispatchedAt: d.dispatchedAt,
      failedAt: d.failedAt,
      body: showPayloads ? d.body : null,
      bodyBytes: utf8Length(d.body ?? ""),
    };
    if (showPayloads && typeof d.error?.stack === "string") view.error.stack = d.error.stack;
    return view;
  }

  const dashboard = async (c: Context): Promise<Response> => {
    const nonce = createNonce();
    const page = await renderDashboard({ queue: queue.name, actions, sseInterval }, nonce);
    c.header("Content-Security-Policy", dashboardCsp(nonce));
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    return c.html(page);
  };
  // Mounted at "/tasks", "/" answers "/tasks"; the empty trailing segment
  // also answers "/tasks/", which is what people type.
  app.get("/", dashboard);
  app.get("/:trailingSlash{/?}", dashboard);

  app.get("/api/overview", async (c) => {
    const body: MonitorOverview = (await snapshots.get()).overview;
    return c.json(body);
  });

  app.get("/api/tasks", async (c) => {
    const body: MonitorTasksResponse = { tasks: (await snapshots.get()).tasks };
    return c.json(body);
  });

  app.get("/api/instances", async (c) => {
    const body: MonitorInstancesResponse = { instances: (await snapshots.get()).instances };
    return c.json(body);
  });

  app.get("/api/dead-letters", async (c) => {
    const rawLimit = singleQuery(c, "limit");
    const rawCursor = singleQuery(c, "cursor");
    let limit = DEFAULT_PAGE_SIZE;
    if (rawLimit !== undefined) {
      const result = check(LimitSchema, rawLimit);
      if (!result.ok) return fail(c, 400, "bad_request", `'limit' ${result.message}.`);
      limit = result.value;
    }
    let cursor: string | null = null;
    if (rawCursor !== undefined) {
      const result = check(CursorSchema, rawCursor);
      if (!result.ok) return fail(c, 400, "bad_request", `'cursor' ${result.message}.`);
      cursor = result.value;
    }
    let page;
    try {
      page = await queue.listDeadLetters({ cursor, limit });
    } catch (error) {
      // A cursor that passed the charset check may still be one the
      // transport cannot parse; that is the request's fault, not the queue's.
      if (cursor !== null && await queueAnswers()) {
        return fail(c, 400, "bad_request", "'cursor' is not a cursor this queue handed out.");
      }
      throw error;
    }
    const body: MonitorDeadLetterPage = {
      items: page.items.slice(0, limit).map((d) => deadLetterView(d, true)),
      nextCursor: page.nextCursor,
      limit,
    };
    return c.json(body);
  });

  app.get("/api/dead-letters/:id", async (c) => {
    const id = idParam(c);
    const letter = await byId(() => queue.getDeadLetter(id), null);
    if (letter === null) return fail(c, 404, "not_found", "No dead letter has this id.");
    const body: MonitorDeadLetter = deadLetterView(letter, false);
    return c.json(body);
  });

  app.get("/metrics", async (c) => {
    const text = renderPrometheus((await snapshots.get()).metrics);
    return c.body(text, 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
  });

  app.get("/events", (c) => {
    if (hub.size >= maxStreams) {
      return fail(c, 503, "unavailable", "Too many live streams are open; try again later.");
    }
    if (c.req.method === "HEAD") {
      // Hono answers HEAD with the GET handler's headers and drops the body;
      // a stream started here would never learn that nobody reads it.
      return c.body(null, 200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    }
    // The stream learns that the client left when the server cancels the
    // response body (Node, Deno and Bun all do on disconnect). The request's
    // AbortSignal is deliberately not used: Deno.serve warns about its legacy
    // abort semantics as soon as it is touched.
    return streamSSE(c, async (stream) => {
      let sending = false;
      let closed = false;
      let wake: () => void = () => {};
      const gone = new Promise<void>((resolve) => {
        wake = resolve;
      });
      const close = (): void => {
        closed = true;
        wake();
      };
      stream.onAbort(close);
      const push = async (batch: MonitorTaskEventBatch | null): Promise<void> => {
        if (sending || closed) return; // a slow client skips ticks rather than queueing them
        sending = true;
        try {
          if (batch !== null && (batch.events.length > 0 || batch.dropped > 0)) {
            await stream.writeSSE({ event: "tasks", data: JSON.stringify(batch) });
          }
          let snapshot;
          try {
            snapshot = await snapshots.get();
          } catch (error) {
            onError(error);
            await stream.writeSSE({ event: "unavailable", data: JSON.stringify(errorBody("unavailable", "The queue could not be read.")) });
            return;
          }
          const data: MonitorStatsEvent = {
            overview: snapshot.overview,
            tasks: snapshot.tasks,
            instances: snapshot.instances,
          };
          if (!closed) await stream.writeSSE({ event: "stats", data: JSON.stringify(data) });
        } finally {
          sending = false;
        }
      };
      const remove = hub.add({ tick: (batch) => void push(batch) });
      try {
        await stream.writeSSE({ event: "hello", data: JSON.stringify({ sseInterval }), retry: 3000 });
        await push(null);
        await gone;
      } finally {
        remove();
      }
    }, async (error) => {
      onError(error);
    });
  });

  if (actions) {
    const guard: MiddlewareHandler = async (c, next) => {
      let allowed: boolean;
      try {
        allowed = await authorize!(c);
      } catch (error) {
        onError(error); // a failing hook denies: fail closed
        allowed = false;
      }
      if (allowed !== true) return fail(c, 403, "forbidden", "This request may not perform actions.");
      const csrf = csrfProblem(c, cors);
      if (csrf !== null) return fail(c, 403, "csrf_rejected", csrf);
      await next();
    };

    app.post("/api/dead-letters/:id/replay", guard, async (c) => {
      const id = idParam(c);
      if (!(await byId(() => queue.replayDeadLetter(id), false))) return fail(c, 404, "not_found", "No dead letter has this id.");
      return c.json({ replayed: true, deadLetterId: id });
    });
    app.delete("/api/dead-letters/:id", guard, async (c) => {
      const id = idParam(c);
      if (!(await byId(() => queue.deleteDeadLetter(id), false))) return fail(c, 404, "not_found", "No dead letter has this id.");
      return c.json({ deleted: true, deadLetterId: id });
    });
    app.post("/api/pause", guard, async (c) => {
      if (runner.pause) await runner.pause();
      else await queue.setPaused(true);
      return c.json({ paused: true });
    });
    app.post("/api/resume", guard, async (c) => {
      if (runner.resume) await runner.resume();
      else await queue.setPaused(false);
      return c.json({ paused: false });
    });
  }

  // Unknown paths and methods under the monitor answer in JSON here rather
  // than falling through to the host app's 404 page. Action routes that are
  // disabled answer 404, as if they did not exist.
  const writes = ["POST", "PUT", "PATCH", "DELETE"];
  app.on(writes, "/api/dead-letters/:id", (c) => c.req.method === "DELETE" ? notFound(c) : notAllowed(c));
  app.on(writes, ["/", "/metrics", "/events", "/api/overview", "/api/tasks", "/api/instances", "/api/dead-letters"], notAllowed);
  app.all("/api/*", notFound);
  app.all("/metrics/*", notFound);
  app.all("/events/*", notFound);

  return app;
}

function notFound(c: Context): Response {
  return fail(c, 404, "not_found", "There is nothing here.");
}

function notAllowed(c: Context): Response {
  c.header("Allow", "GET, HEAD");
  return fail(c, 405, "method_not_allowed", "Only GET and HEAD are allowed here.");
}

/**
 * Why a state-changing request looks cross-site, or null when it is fine.
 * Browsers cannot send a JSON content type or a custom header cross-site
 * without a CORS preflight, which this monitor does not grant unless
 * configured.
 */
function csrfProblem(c: Context, cors: CorsOptions | undefined): string | null {
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const marked = c.req.header("x-taskrunner-action") !== undefined;
  if (type !== "application/json" && !marked) {
    return "Action requests must have Content-Type: application/json or an X-TaskRunner-Action header.";
  }
  const site = c.req.header("sec-fetch-site");
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== "null") {
    let originHost: string | null = null;
    try {
      originHost = new URL(origin).host;
    } catch {
      return "The Origin header is malformed.";
    }
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    if (originHost === host) return null;
    if (corsAllows(cors, origin, c)) return null;
    return "Cross-origin action requests are refused.";
  }
  if (origin === "null") return "Action requests from opaque origins are refused.";
  if (site === "cross-site") return "Cross-site action requests are refused.";
  return null;
}

function corsAllows(cors: CorsOptions | undefined, origin: string, c: Context): boolean {
  if (cors === undefined) return false;
  const allowed = cors.origin;
  if (typeof allowed === "string") return allowed === origin;
  if (Array.isArray(allowed)) return allowed.includes(origin);
  try {
    return allowed(origin, c) === origin;
  } catch {
    return false;
  }
}

/**
 * Create the monitor as a plain fetch handler, for hosts that do not use
 * Hono (`Deno.serve`, `Bun.serve`, service workers, srvx).
 *
 * @param options As {@linkcode createMonitor}, plus `basePath`.
 * @returns `(request) => Promise<Response>`.
 * @throws {TypeError} As {@linkcode createMonitor}, or when `basePath` does
 *   not start with "/".
 *
 * @example With Deno.serve
 * ```ts
 * const handler = createMonitorHandler({ runner, basePath: "/tasks" });
 * Deno.serve({ port: 3000 }, handler);
 * ```
 */
export function createMonitorHandler(options: MonitorHandlerOptions): MonitorFetchHandler {
  const basePath = options.basePath ?? "/";
  if (typeof basePath !== "string" || !basePath.startsWith("/")) {
    throw optionError("basePath", 'a path starting with "/"', basePath);
  }
  const monitor = createMonitor(options);
  const trimmed = basePath.replace(/\/+$/, "");
  const app = trimmed === "" ? monitor : new Hono().route(trimmed, monitor);
  if (trimmed !== "") {
    app.notFound((c) => c.json(errorBody("not_found", "There is nothing here."), 404));
  }
  return async (request: Request): Promise<Response> => await app.fetch(request);
}
