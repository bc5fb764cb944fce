/**
 * Prometheus text exposition (format 0.0.4) of a queue's statistics.
 *
 * Rendering is a pure function of a {@linkcode MetricsSnapshot}: no client
 * library, no global registry, nothing runtime-specific. Durations are kept
 * in milliseconds everywhere else in the library and converted to seconds
 * only here, because Prometheus' convention is base units.
 *
 * @module
 */

import { HISTOGRAM_BUCKETS, type TaskStatsDelta } from "../../src/queue.ts";
import type { MonitorOverview } from "./types.ts";

/** The `Content-Type` of the text exposition format this module renders. */
export const PROMETHEUS_CONTENT_TYPE: string = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Everything {@linkcode renderPrometheus} needs, gathered at one moment: the
 * queue's counts and fleet gauges as in {@linkcode MonitorOverview} (but
 * `estimatedDrainTime` unrounded; null writes no sample), and the totals
 * per task.
 */
export interface MetricsSnapshot extends
  Pick<
    MonitorOverview,
    | "queue"
    | "waiting"
    | "inFlight"
    | "delayed"
    | "dead"
    | "consumers"
    | "instances"
    | "workers"
    | "busy"
    | "paused"
    | "estimatedDrainTime"
    | "longQueue"
  > {
  /**
   * Fleet-wide totals per task name, with histogram bucket counts over
   * {@linkcode HISTOGRAM_BUCKETS} (milliseconds) plus one overflow bucket.
   */
  tasks: Record<string, TaskStatsDelta>;
}

/**
 * Escape a label value: backslash, double quote and line feed, as the
 * exposition format requires.
 *
 * @param value Raw label value.
 * @returns The value, safe inside `label="..."`.
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/**
 * Format a sample value the way Prometheus parses it (`+Inf`, `-Inf`,
 * `NaN`, or a decimal / exponent number).
 *
 * @param value Any number.
 * @returns Its text form in the exposition format.
 */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

type Labels = readonly (readonly [string, string])[];

function labelText(labels: Labels): string {
  if (labels.length === 0) return "";
  return "{" + labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",") + "}";
}

class Writer {
  readonly lines: string[] = [];
  family(name: string, type: "counter" | "gauge" | "histogram", help: string): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }
  sample(name: string, labels: Labels, value: number): void {
    this.lines.push(`${name}${labelText(labels)} ${formatSampleValue(value)}`);
  }
}

/** Bucket bounds in seconds, computed once (`5 ms` → `0.005`). */
const BUCKET_SECONDS: readonly number[] = HISTOGRAM_BUCKETS.map((ms) => ms / 1000);

function histogram(
  w: Writer,
  name: string,
  labels: Labels,
  buckets: readonly number[],
  sumMs: number,
): void {
  let cumulative = 0;
  for (let i = 0; i < BUCKET_SECONDS.length; i++) {
    cumulative += nonNegative(buckets[i]);
    w.sample(`${name}_bucket`, [...labels, ["le", formatSampleValue(BUCKET_SECONDS[i])]], cumulative);
  }
  cumulative += nonNegative(buckets[BUCKET_SECONDS.length]);
  w.sample(`${name}_bucket`, [...labels, ["le", "+Inf"]], cumulative);
  w.sample(`${name}_sum`, labels, nonNegative(sumMs) / 1000);
  w.sample(`${name}_count`, labels, cumulative);
}

function nonNegative(n: number | undefined): number {
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * Render a snapshot as Prometheus text exposition format 0.0.4.
 *
 * Families (all labelled with `queue`; per-task ones also with `task`):
 * - counters `taskrunner_tasks_completed_total`, `_failed_total`,
 *   `_retried_total`, `_dead_total`;
 * - histograms `taskrunner_task_run_duration_seconds` and
 *   `taskrunner_task_wait_duration_seconds`;
 * - gauges `taskrunner_queue_tasks{state}`, `taskrunner_queue_consumers`,
 *   `taskrunner_queue_paused`, `taskrunner_instances`, `taskrunner_workers`,
 *   `taskrunner_workers_busy`, `taskrunner_queue_estimated_drain_seconds`,
 *   `taskrunner_queue_long`.
 *
 * Task ids never appear as labels (unbounded cardinality).
 *
 * @param snapshot The statistics to render.
 * @returns The exposition text, ending with a newline.
 */
export function renderPrometheus(snapshot: MetricsSnapshot): string {
  const w = new Writer();
  const q: readonly [string, string] = ["queue", snapshot.queue];
  const taskNames = Object.keys(snapshot.tasks).sort();

  const counters: [keyof TaskStatsDelta & ("completed" | "failed" | "retried" | "dead"), string][] = [
    ["completed", "Tasks whose action succeeded."],
    ["failed", "Runs of a task that failed (each failed attempt counts once)."],
    ["retried", "Failed runs scheduled to run again."],
    ["dead", "Tasks moved to the dead-letter store."],
  ];
  for (const [field, help] of counters) {
    const name = `taskrunner_tasks_${field}_total`;
    w.family(name, "counter", help);
    for (const task of taskNames) {
      w.sample(name, [q, ["task", task]], nonNegative(snapshot.tasks[task][field]));
    }
  }

  const histograms = [
    [
      "taskrunner_task_run_duration_seconds",
      "Time an action ran, from start to completion, in seconds.",
      "runTime",
      "runTimeSum",
    ],
    [
      "taskrunner_task_wait_duration_seconds",
      "Time a task waited from becoming ready to starting, in seconds.",
      "waitTime",
      "waitTimeSum",
    ],
  ] as const;
  for (const [name, help, buckets, sum] of histograms) {
    w.family(name, "histogram", help);
    for (const task of taskNames) {
      const t = snapshot.tasks[task];
      histogram(w, name, [q, ["task", task]], t[buckets] ?? [], t[sum]);
    }
  }

  w.family("taskrunner_queue_tasks", "gauge", "Tasks in the queue by state.");
  for (
    const [state, value] of [
      ["waiting", snapshot.waiting],
      ["in_flight", snapshot.inFlight],
      ["delayed", snapshot.delayed],
      ["dead", snapshot.dead],
    ] as const
  ) {
    w.sample("taskrunner_queue_tasks", [q, ["state", state]], nonNegative(value));
  }
  const gauges: [string, string, number | null][] = [
    ["taskrunner_queue_consumers", "Consumers registered in the consumer group.", snapshot.consumers],
    ["taskrunner_queue_paused", "1 when consuming is paused fleet-wide, else 0.", snapshot.paused ? 1 : 0],
    ["taskrunner_instances", "Live runner instances.", snapshot.instances],
    ["taskrunner_workers", "Worker slots of all live runner instances.", snapshot.workers],
    ["taskrunner_workers_busy", "Tasks running on live instances at their last heartbeat.", snapshot.busy],
    [
      "taskrunner_queue_estimated_drain_seconds",
      "Estimated time to drain the queue (average run time x length / workers), in seconds.",
      snapshot.estimatedDrainTime === null ? null : nonNegative(snapshot.estimatedDrainTime) / 1000,
    ],
    [
      "taskrunner_queue_long",
      "1 when the drain estimate is above the long-queue threshold, else 0.",
      snapshot.longQueue ? 1 : 0,
    ],
  ];
  for (const [name, help, value] of gauges) {
    w.family(name, "gauge", help);
    if (value !== null) w.sample(name, [q], nonNegative(value));
  }
  return w.lines.join("\n") + "\n";
}
