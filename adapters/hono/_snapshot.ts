/**
 * Reads the runner's fleet-wide statistics for the monitor: one read shared
 * by concurrent requests and kept for a short time (so a burst of requests
 * or many dashboards cost one read), rates measured over a sliding window,
 * and the conversion to the API's response shapes.
 *
 * @module
 */

import type { RunnerStats, TimingStats } from "../../src/stats.ts";
import type { MetricsSnapshot } from "./prometheus.ts";
import type {
  MonitorInstance,
  MonitorOverview,
  MonitorTaskStats,
  MonitorTiming,
} from "./types.ts";

/** Everything one read yields, in each shape the routes need. */
export interface Snapshot {
  overview: MonitorOverview;
  tasks: MonitorTaskStats[];
  instances: MonitorInstance[];
  metrics: MetricsSnapshot;
}

interface RateSample {
  at: number;
  completed: number;
  failed: number;
}

/** Rates are measured over at least this much history when it exists. */
const RATE_WINDOW = 5_000;
const MAX_SAMPLES = 64;

/** Shares, caches and converts `runner.stats()` reads. */
export class Snapshotter {
  readonly #read: () => Promise<RunnerStats>;
  readonly #cacheTime: number;
  #pending: Promise<Snapshot> | null = null;
  #cached: { at: number; snapshot: Snapshot } | null = null;
  #samples: RateSample[] = [];

  /**
   * @param read Reads the runner's statistics.
   * @param cacheTime How long a read is reused, in milliseconds.
   */
  constructor(read: () => Promise<RunnerStats>, cacheTime: number) {
    this.#read = read;
    this.#cacheTime = cacheTime;
  }

  /** A snapshot at most `cacheTime` ms old; concurrent callers share one read. */
  get(): Promise<Snapshot> {
    const cached = this.#cached;
    if (cached && performance.now() - cached.at < this.#cacheTime) return Promise.resolve(cached.snapshot);
    if (this.#pending) return this.#pending;
    const pending = this.#read().then((stats) => {
      const snapshot = this.#convert(stats);
      this.#cached = { at: performance.now(), snapshot };
      return snapshot;
    }).finally(() => {
      this.#pending = null;
    });
    this.#pending = pending;
    return pending;
  }

  #rates(stats: RunnerStats): { throughput: number; failureRate: number } {
    const now: RateSample = { at: stats.at, completed: stats.totals.completed, failed: stats.totals.failed };
    const samples = this.#samples;
    // Counters only grow; a drop means the statistics were reset: start over.
    const last = samples[samples.length - 1];
    if (last && (now.at < last.at || now.completed < last.completed || now.failed < last.failed)) {
      samples.length = 0;
    }
    samples.push(now);
    while (samples.length > 2 && now.at - samples[1].at >= RATE_WINDOW) samples.shift();
    if (samples.length > MAX_SAMPLES) samples.splice(0, samples.length - MAX_SAMPLES);
    const first = samples[0];
    if (first === now || now.at <= first.at) {
      return { throughput: stats.throughput ?? 0, failureRate: 0 };
    }
    const seconds = (now.at - first.at) / 1000;
    return {
      throughput: (now.completed - first.completed) / seconds,
      failureRate: (now.failed - first.failed) / seconds,
    };
  }

  #convert(stats: RunnerStats): Snapshot {
    const { throughput, failureRate } = this.#rates(stats);
    const c = stats.counts;
    const busy = stats.instances.reduce((sum, i) => sum + (i.busy > 0 ? i.busy : 0), 0);
    const overview: MonitorOverview = {
      queue: stats.queue,
      paused: stats.paused,
      length: c.waiting + c.inFlight,
      waiting: c.waiting,
      inFlight: c.inFlight,
      delayed: c.delayed,
      dead: c.dead,
      consumers: c.consumers,
      instances: stats.instances.length,
      workers: stats.totalWorkers,
      busy,
      throughput: round(throughput, 3),
      failureRate: round(failureRate, 3),
      estimatedDrainTime: stats.estimatedDrainTime === null ? null : Math.round(stats.estimatedDrainTime),
      longQueue: stats.longQueue,
      longQueueThreshold: Number.isFinite(stats.longQueueThreshold) ? stats.longQueueThreshold : null,
      totals: { ...stats.totals },
      at: stats.at,
    };
    const tasks: MonitorTaskStats[] = Object.keys(stats.tasks).sort().map((name) => {
      const t = stats.tasks[name];
      return {
        name,
        completed: t.completed,
        failed: t.failed,
        retried: t.retried,
        dead: t.dead,
        runTime: timing(t.runTime),
        waitTime: timing(t.waitTime),
      };
    });
    const instances: MonitorInstance[] = stats.instances
      .map((i) => ({
        id: i.id,
        host: i.host,
        pid: i.pid,
        workers: i.workers,
        busy: i.busy,
        startedAt: i.startedAt,
        lastSeen: i.lastSeen ?? null,
      }))
      .sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const metrics: MetricsSnapshot = {
      queue: stats.queue,
      waiting: c.waiting,
      inFlight: c.inFlight,
      delayed: c.delayed,
      dead: c.dead,
      consumers: c.consumers,
      instances: instances.length,
      workers: stats.totalWorkers,
      busy,
      paused: stats.paused,
      estimatedDrainTime: stats.estimatedDrainTime,
      longQueue: stats.longQueue,
      tasks: Object.fromEntries(Object.keys(stats.tasks).map((name) => {
        const t = stats.tasks[name];
        return [name, {
          completed: t.completed,
          failed: t.failed,
          retried: t.retried,
          dead: t.dead,
          runTimeSum: t.runTime.sum,
          runTime: t.runTime.buckets,
          waitTimeSum: t.waitTime.sum,
          waitTime: t.waitTime.buckets,
        }];
      })),
    };
    return { overview, tasks, instances, metrics };
  }
}

function timing(t: TimingStats): MonitorTiming {
  return {
    p50: roundOrNull(t.p50),
    p95: roundOrNull(t.p95),
    p99: roundOrNull(t.p99),
    avg: roundOrNull(t.avg),
    count: t.count,
  };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function roundOrNull(n: number | null): number | null {
  return n === null ? null : round(n, 3);
}
