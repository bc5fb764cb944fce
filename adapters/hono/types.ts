/**
 * Response shapes of the monitor's JSON API. They are part of the public
 * API: fields are only ever added, never renamed or retyped. All durations
 * are milliseconds and all instants are Unix epoch milliseconds.
 *
 * @module
 */

import type { DeadLetterReason, InstanceInfo } from "../../src/queue.ts";

/** Body of every error response: `{ error: { code, message } }`. */
export interface MonitorErrorBody {
  /** What went wrong. */
  error: {
    /**
     * Stable machine-readable code: `bad_request` (400), `forbidden` (403,
     * `authorize` refused), `csrf_rejected` (403), `not_found` (404),
     * `method_not_allowed` (405) or `unavailable` (503: the queue could not
     * be read, or too many live streams).
     */
    code: string;
    /** Human-readable explanation; never contains a stack trace. */
    message: string;
  };
}

/** `GET /api/overview`: the queue at a glance. */
export interface MonitorOverview {
  /** The transport's name for the queue (`memory:default`, `redis:{tr:emails}`). */
  queue: string;
  /** Whether consuming is paused fleet-wide. */
  paused: boolean;
  /** Tasks still to run: ready but not yet delivered, plus in flight. */
  length: number;
  /** Ready tasks not yet delivered. */
  waiting: number;
  /** Delivered and not yet acknowledged (running or prefetched). */
  inFlight: number;
  /** Scheduled for later (delays and retry backoffs). */
  delayed: number;
  /** In the dead-letter store. */
  dead: number;
  /** Consumers registered in the consumer group. */
  consumers: number;
  /** Live runner instances. */
  instances: number;
  /** Worker slots of all live instances. */
  workers: number;
  /** Tasks running on all live instances at their last heartbeat. */
  busy: number;
  /** Fleet-wide completions per second over the recent past. */
  throughput: number;
  /** Fleet-wide failed runs per second over the recent past. */
  failureRate: number;
  /**
   * Estimated time to drain the queue (`T_avg × length / workers`), in
   * milliseconds: 0 when empty, null when no run time has been measured yet
   * or no worker is live.
   */
  estimatedDrainTime: number | null;
  /** Whether the estimate is above `longQueueThreshold`. */
  longQueue: boolean;
  /** The runner's long-queue threshold in milliseconds; null when none is set. */
  longQueueThreshold: number | null;
  /** Fleet-wide totals since the queue's statistics began. */
  totals: MonitorTotals;
  /** When these figures were read, epoch ms. */
  at: number;
}

/** Totals of task outcomes. */
export interface MonitorTotals {
  /** Tasks whose action succeeded. */
  completed: number;
  /** Failed runs (each failed attempt counts once). */
  failed: number;
  /** Failed runs scheduled to run again. */
  retried: number;
  /** Tasks moved to the dead-letter store. */
  dead: number;
}

/** Percentiles of a timing, in milliseconds; null when nothing was measured. */
export interface MonitorTiming {
  /** Median, ms. */
  p50: number | null;
  /** 95th percentile, ms. */
  p95: number | null;
  /** 99th percentile, ms. */
  p99: number | null;
  /** Mean, ms. */
  avg: number | null;
  /** How many runs were measured. */
  count: number;
}

/** One task name's statistics. */
export interface MonitorTaskStats extends MonitorTotals {
  /** Task name. */
  name: string;
  /** Time an action ran, start to completion. */
  runTime: MonitorTiming;
  /** Time a task waited from becoming ready to starting. */
  waitTime: MonitorTiming;
}

/** `GET /api/tasks`. */
export interface MonitorTasksResponse {
  /** Per task name, sorted by name. */
  tasks: MonitorTaskStats[];
}

/**
 * One live runner instance: its registry entry ({@linkcode InstanceInfo}:
 * id, host, pid, workers, busy, startedAt), with `lastSeen` always present.
 */
export interface MonitorInstance extends Pick<InstanceInfo, "id" | "host" | "pid" | "workers" | "busy" | "startedAt"> {
  /** Last heartbeat, epoch ms; null if the transport does not record it. */
  lastSeen: number | null;
}

/** `GET /api/instances`. */
export interface MonitorInstancesResponse {
  /** Live instances, sorted by start time. */
  instances: MonitorInstance[];
}

/** A dead letter as the monitor shows it. */
export interface MonitorDeadLetter {
  /** Id of the dead letter (for `GET`, replay and delete). */
  deadLetterId: string;
  /** Task id. */
  id: string;
  /** Task name. */
  name: string;
  /** Failed runs counted, including the last one. */
  attempt: number;
  /** Why the task was dead-lettered. */
  reason: DeadLetterReason;
  /**
   * The last error. `stack` is present only when the monitor was created
   * with `showPayloads: true`.
   */
  error: { name: string; message: string; stack?: string };
  /** When the task was first dispatched, epoch ms. */
  dispatchedAt: number;
  /** When it was dead-lettered, epoch ms. */
  failedAt: number;
  /** The encoded payload (JSON text); null unless `showPayloads: true`. */
  body: string | null;
  /** Size of the encoded payload in bytes (UTF-8). */
  bodyBytes: number;
}

/** `GET /api/dead-letters`. */
export interface MonitorDeadLetterPage {
  /** Dead letters, oldest first. */
  items: MonitorDeadLetter[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null;
  /** The page size used. */
  limit: number;
}

/** A task event as pushed on the live stream. */
export interface MonitorTaskEvent {
  /** What happened. */
  type: "completed" | "failed" | "dead" | "reclaimed";
  /** Task id. */
  id: string;
  /** Task name ("" when unknown). */
  name: string;
  /** Failed runs before this one, when known. */
  attempt: number | null;
  /** Run time in milliseconds, for completed and failed runs when known. */
  duration: number | null;
  /** Error name and message, for failed and dead tasks. */
  error: { name: string; message: string } | null;
  /** When the monitor saw it, epoch ms. */
  at: number;
}

/** Data of the `tasks` event of `GET /events`: task events since the last push. */
export interface MonitorTaskEventBatch {
  /** Events in the order they happened (at most 200 per push). */
  events: MonitorTaskEvent[];
  /** Events left out of this push because there were too many. */
  dropped: number;
}

/** Data of the `stats` event of `GET /events`. */
export interface MonitorStatsEvent {
  /** Same as `GET /api/overview`. */
  overview: MonitorOverview;
  /** Same as `GET /api/tasks`. */
  tasks: MonitorTaskStats[];
  /** Same as `GET /api/instances`. */
  instances: MonitorInstance[];
}
