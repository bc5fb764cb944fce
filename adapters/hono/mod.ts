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
import { cors as corsMiddleware } from "hono/cors";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { actionGuard } from "./_actions.ts";
import { errorBody, fail, MonitorError, notFound } from "./_http.ts";
import { addRoutes } from "./_routes.ts";
import { Snapshotter } from "./_snapshot.ts";
import { StreamHub } from "./_stream.ts";
import {
  type MonitorFetchHandler,
  type MonitorHandlerOptions,
  type MonitorOptions,
  resolveBasePath,
  resolveMonitorOptions,
} from "./options.ts";

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
  const resolved = resolveMonitorOptions(options);
  const { runner, actions, authorize, cors, sseInterval, cacheTime, onError } = resolved;
  const snapshots = new Snapshotter(() => runner.stats(), cacheTime);
  const hub = new StreamHub(runner, sseInterval);

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

  const guard = actions && authorize !== undefined ? actionGuard(authorize, cors, onError) : null;
  addRoutes(app, { runner, options: resolved, snapshots, hub }, guard);
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
