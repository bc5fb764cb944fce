/**
 * The monitor's routes as one table, the read routes' handlers, and the
 * 404/405 answers derived from the table. A new route is one row.
 *
 * @module
 */

import type { Context, Hono, MiddlewareHandler } from "hono";
import { deleteDeadLetter, pause, replayDeadLetter, resume } from "./_actions.ts";
import { fail, notAllowed, notFound } from "./_http.ts";
import { byId, check, CursorSchema, DEFAULT_PAGE_SIZE, idParam, LimitSchema, queueAnswers, singleQuery } from "./_params.ts";
import type { Snapshotter } from "./_snapshot.ts";
import { liveStream } from "./_sse.ts";
import type { StreamHub } from "./_stream.ts";
import { deadLetterView } from "./_views.ts";
import { createNonce, dashboardCsp, renderDashboard } from "./dashboard/page.ts";
import type { ResolvedMonitorOptions } from "./options.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";
import type {
  MonitorDeadLetter,
  MonitorDeadLetterPage,
  MonitorInstancesResponse,
  MonitorOverview,
  MonitorTasksResponse,
} from "./types.ts";

/** What the route handlers of one monitor share. */
export interface MonitorState {
  /** The runner. */
  readonly runner: ResolvedMonitorOptions["runner"];
  /** The options, checked. */
  readonly options: ResolvedMonitorOptions;
  /** The shared statistics reads. */
  readonly snapshots: Snapshotter;
  /** The live stream's fan-out. */
  readonly hub: StreamHub;
}

/** One route: its method and path, whether it is an action, and its handler. */
export interface Route {
  readonly method: "GET" | "POST" | "DELETE";
  /** Hono path pattern, relative to where the monitor is mounted. */
  readonly path: string;
  /** Only served with `actions: true`, behind the action guard. */
  readonly action: boolean;
  readonly handler: (c: Context, state: MonitorState) => Response | Promise<Response>;
}

async function dashboard(c: Context, { runner, options }: MonitorState): Promise<Response> {
  const nonce = createNonce();
  const page = await renderDashboard(
    { queue: runner.queue.name, actions: options.actions, sseInterval: options.sseInterval },
    nonce,
  );
  c.header("Content-Security-Policy", dashboardCsp(nonce));
  c.header("Referrer-Policy", "no-referrer");
  c.header("X-Frame-Options", "DENY");
  return c.html(page);
}

async function overview(c: Context, { snapshots }: MonitorState): Promise<Response> {
  const body: MonitorOverview = (await snapshots.get()).overview;
  return c.json(body);
}

async function tasks(c: Context, { snapshots }: MonitorState): Promise<Response> {
  const body: MonitorTasksResponse = { tasks: (await snapshots.get()).tasks };
  return c.json(body);
}

async function instances(c: Context, { snapshots }: MonitorState): Promise<Response> {
  const body: MonitorInstancesResponse = { instances: (await snapshots.get()).instances };
  return c.json(body);
}

async function deadLetters(c: Context, { runner: { queue }, options }: MonitorState): Promise<Response> {
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
    if (cursor !== null && await queueAnswers(queue)) {
      return fail(c, 400, "bad_request", "'cursor' is not a cursor this queue handed out.");
    }
    throw error;
  }
  const showPayloads = options.showPayloads;
  const body: MonitorDeadLetterPage = {
    items: page.items.slice(0, limit).map((d) => deadLetterView(d, { listing: true, showPayloads })),
    nextCursor: page.nextCursor,
    limit,
  };
  return c.json(body);
}

async function deadLetter(c: Context, { runner: { queue }, options }: MonitorState): Promise<Response> {
  const id = idParam(c);
  const letter = await byId(queue, () => queue.getDeadLetter(id), null);
  if (letter === null) return fail(c, 404, "not_found", "No dead letter has this id.");
  const body: MonitorDeadLetter = deadLetterView(letter, { listing: false, showPayloads: options.showPayloads });
  return c.json(body);
}

async function metrics(c: Context, { snapshots }: MonitorState): Promise<Response> {
  const text = renderPrometheus((await snapshots.get()).metrics);
  return c.body(text, 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
}

function events(c: Context, { hub, snapshots, options }: MonitorState): Response {
  const { sseInterval, maxStreams, onError } = options;
  return liveStream(c, { hub, snapshots, sseInterval, maxStreams, onError });
}

/** Every route of the monitor, in the order they are matched. */
export const ROUTES: readonly Route[] = [
  { method: "GET", path: "/", action: false, handler: dashboard },
  { method: "GET", path: "/api/overview", action: false, handler: overview },
  { method: "GET", path: "/api/tasks", action: false, handler: tasks },
  { method: "GET", path: "/api/instances", action: false, handler: instances },
  { method: "GET", path: "/api/dead-letters", action: false, handler: deadLetters },
  { method: "GET", path: "/api/dead-letters/:id", action: false, handler: deadLetter },
  { method: "GET", path: "/metrics", action: false, handler: metrics },
  { method: "GET", path: "/events", action: false, handler: events },
  { method: "POST", path: "/api/dead-letters/:id/replay", action: true, handler: replayDeadLetter },
  { method: "DELETE", path: "/api/dead-letters/:id", action: true, handler: deleteDeadLetter },
  { method: "POST", path: "/api/pause", action: true, handler: pause },
  { method: "POST", path: "/api/resume", action: true, handler: resume },
];

const WRITES = ["POST", "PUT", "PATCH", "DELETE"];

/**
 * Add the routes of {@linkcode ROUTES} to an app, then the answers for
 * everything else under them, so that unknown paths and methods answer in
 * JSON rather than falling through to the host app's 404 page:
 *
 * - a write to a read route's path answers 405 with `Allow`, or 404 when
 *   the method is that of a disabled action there (as if it did not exist);
 * - anything else under a route's first path segment (`/api/*`,
 *   `/metrics/*`, `/events/*`) answers 404.
 *
 * @param app The monitor's app.
 * @param state What the handlers share.
 * @param guard The action guard, or null when actions are disabled (action
 *   routes then answer 404).
 */
export function addRoutes(app: Hono, state: MonitorState, guard: MiddlewareHandler | null): void {
  for (const route of ROUTES) {
    const handler = (c: Context) => route.handler(c, state);
    if (!route.action) app.on(route.method, route.path, handler);
    else if (guard !== null) app.on(route.method, route.path, guard, handler);
    // Mounted at "/tasks", "/" answers "/tasks"; the empty trailing segment
    // also answers "/tasks/", which is what people type.
    if (route.path === "/") app.on(route.method, "/:trailingSlash{/?}", handler);
  }

  const readPaths = [...new Set(ROUTES.filter((r) => !r.action).map((r) => r.path))];
  for (const path of readPaths) {
    const reads = ROUTES.filter((r) => r.path === path && !r.action).map((r) => r.method);
    const allow = reads.includes("GET") ? [...reads, "HEAD"] : reads;
    const actions: string[] = ROUTES.filter((r) => r.path === path && r.action).map((r) => r.method);
    app.on(WRITES, path, (c) => actions.includes(c.req.method) ? notFound(c) : notAllowed(c, allow));
  }
  const segments = new Set(ROUTES.map((r) => r.path.split("/")[1]).filter((s) => s !== ""));
  for (const segment of segments) app.all(`/${segment}/*`, notFound);
}
