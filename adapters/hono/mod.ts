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
 * | `GET /events` | Server-Sent Events, see below |
 * | `POST /api/dead-letters/:id/replay` | action: run a dead letter again |
 * | `DELETE /api/dead-letters/:id` | action: delete a dead letter |
 * | `POST /api/pause`, `POST /api/resume` | action: pause or resume consuming fleet-wide |
 *
 * The live stream (`GET /events`) sends `hello` (`{ sseInterval }`) once,
 * then every `sseInterval` ms a `stats` event ({@linkcode MonitorStatsEvent})
 * and, when task events happened since the last push, a `tasks` event
 * ({@linkcode MonitorTaskEventBatch}: completed, failed, dead and reclaimed
 * tasks of this runner instance). When the queue cannot be read it sends
 * `unavailable` instead of `stats`. One timer and one set of runner
 * listeners serve all clients, and both go away with the last client.
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
import { csrfProblem, errorBody, fail, MonitorError, notAllowed, notFound } from "./_http.ts";
import { check, CursorSchema, DEFAULT_PAGE_SIZE, IdSchema, LimitSchema } from "./_params.ts";
import { Snapshotter } from "./_snapshot.ts";
import { liveStream } from "./_sse.ts";
import { StreamHub } from "./_stream.ts";
import { deadLetterView } from "./_views.ts";
import { createNonce, dashboardCsp, renderDashboard } from "./dashboard.ts";
import {
  type MonitorFetchHandler,
  type MonitorHandlerOptions,
  type MonitorOptions,
  resolveBasePath,
  resolveMonitorOptions,
} from "./options.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";
import type {
  MonitorDeadLetter,
  MonitorDeadLetterPage,
  MonitorInstancesResponse,
  MonitorOverview,
  MonitorTasksResponse,
} from "./types.ts";

export type * from "./types.ts";
export type {
  CorsOptions,
  MonitoredEvent,
  MonitoredRunner,
  MonitorFetchHandler,
  MonitorHandlerOptions,
  MonitorOptions,
} from "./options.ts";
export { escapeLabelValue, type MetricsSnapshot, PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";

/**
 * Create the monitor app.
 *
 * @param options The runner and what to expose.
 * @returns A Hono app to mount with `app.route(prefix, monitor)` or serve
 *   with `monitor.fetch`.
 * @throws {ConfigError} When an option is invalid (the message names the
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
  const { runner, actions, authorize, showPayloads, cors, sseInterval, cacheTime, maxStreams, onError } =
    resolveMonitorOptions(options);
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
  app.notFound(notFound);

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
      items: page.items.slice(0, limit).map((d) => deadLetterView(d, { listing: true, showPayloads })),
      nextCursor: page.nextCursor,
      limit,
    };
    return c.json(body);
  });

  app.get("/api/dead-letters/:id", async (c) => {
    const id = idParam(c);
    const letter = await byId(() => queue.getDeadLetter(id), null);
    if (letter === null) return fail(c, 404, "not_found", "No dead letter has this id.");
    const body: MonitorDeadLetter = deadLetterView(letter, { listing: false, showPayloads });
    return c.json(body);
  });

  app.get("/metrics", async (c) => {
    const text = renderPrometheus((await snapshots.get()).metrics);
    return c.body(text, 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
  });

  app.get("/events", (c) => liveStream(c, { hub, snapshots, sseInterval, maxStreams, onError }));

  if (actions && authorize !== undefined) {
    const guard: MiddlewareHandler = async (c, next) => {
      let allowed: boolean;
      try {
        allowed = await authorize(c);
      } catch (error) {
        onError(error); // a failing hook denies: fail closed
        allowed = false;
      }
      if (allowed !== true) return fail(c, 403, "forbidden", "This request may not perform actions.");
      const csrf = csrfProblem(c, cors);
      if (csrf !== null) return fail(c, 403, "csrf_rejected", csrf);
      await next();
    };
    const unknownId = (c: Context) => fail(c, 404, "not_found", "No dead letter has this id.");

    app.post("/api/dead-letters/:id/replay", guard, async (c) => {
      const id = idParam(c);
      if (!(await byId(() => queue.replayDeadLetter(id), false))) return unknownId(c);
      return c.json({ replayed: true, deadLetterId: id });
    });
    app.delete("/api/dead-letters/:id", guard, async (c) => {
      const id = idParam(c);
      if (!(await byId(() => queue.deleteDeadLetter(id), false))) return unknownId(c);
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

/**
 * Create the monitor as a plain fetch handler, for hosts that do not use
 * Hono (`Deno.serve`, `Bun.serve`, service workers, srvx).
 *
 * @param options As {@linkcode createMonitor}, plus `basePath`.
 * @returns `(request) => Promise<Response>`.
 * @throws {ConfigError} As {@linkcode createMonitor}, or when `basePath` does
 *   not start with "/".
 *
 * @example With Deno.serve
 * ```ts
 * const handler = createMonitorHandler({ runner, basePath: "/tasks" });
 * Deno.serve({ port: 3000 }, handler);
 * ```
 */
export function createMonitorHandler(options: MonitorHandlerOptions): MonitorFetchHandler {
  const trimmed = resolveBasePath(options);
  const monitor = createMonitor(options);
  const app = trimmed === "" ? monitor : new Hono().route(trimmed, monitor);
  if (trimmed !== "") {
    app.notFound((c) => c.json(errorBody("not_found", "There is nothing here."), 404));
  }
  return async (request: Request): Promise<Response> => await app.fetch(request);
}
