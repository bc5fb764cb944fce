/**
 * `GET /events`: one client's Server-Sent-Events stream, fed by the shared
 * {@linkcode StreamHub}.
 *
 * @module
 */

import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { errorBody, fail } from "./_http.ts";
import type { Snapshotter } from "./_snapshot.ts";
import type { StreamHub } from "./_stream.ts";
import type { MonitorStatsEvent, MonitorTaskEventBatch } from "./types.ts";

/** What a live stream needs from its monitor. */
export interface LiveStreamDeps {
  hub: StreamHub;
  snapshots: Snapshotter;
  /** Push interval, ms (sent to the client in `hello`). */
  sseInterval: number;
  /** Most clients at once. */
  maxStreams: number;
  onError: (error: unknown) => void;
}

/**
 * Answer a live-stream request.
 *
 * The stream learns that the client left when the server cancels the
 * response body (Node, Deno and Bun all do on disconnect); it then leaves
 * the hub, which drops its timer and runner listeners with the last client.
 * The request's AbortSignal is deliberately not used: Deno.serve warns
 * about its legacy abort semantics as soon as it is touched.
 *
 * @param c The request's context.
 * @param deps The monitor's hub, statistics and settings.
 * @returns The event-stream response, or a JSON 503 when full.
 */
export function liveStream(c: Context, deps: LiveStreamDeps): Response {
  const { hub, snapshots, sseInterval, maxStreams, onError } = deps;
  if (hub.size >= maxStreams) {
    return fail(c, 503, "unavailable", "Too many live streams are open; try again later.");
  }
  if (c.req.method === "HEAD") {
    // Hono answers HEAD with the GET handler's headers and drops the body;
    // a stream started here would never learn that nobody reads it.
    return c.body(null, 200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
  }
  return streamSSE(c, async (stream) => {
    let sending = false;
    let closed = false;
    let wake: () => void = () => {};
    const gone = new Promise<void>((resolve) => {
      wake = resolve;
    });
    stream.onAbort(() => {
      closed = true;
      wake();
    });
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
          const body = errorBody("unavailable", "The queue could not be read.");
          await stream.writeSSE({ event: "unavailable", data: JSON.stringify(body) });
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
  }, (error) => {
    onError(error);
    return Promise.resolve();
  });
}
