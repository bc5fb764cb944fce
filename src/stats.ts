/**
 * Statistics: the in-memory collector each runner flushes to the transport,
 * and the fleet-wide {@linkcode RunnerStats} built from the transport's
 * totals (counts, timing percentiles, throughput, drain estimate).
 *
 * @module
 */

import {
  HISTOGRAM_BUCKETS,
  type InstanceInfo,
  type QueueCounts,
  type StatsDelta,
  type TaskStatsDelta,
} from "./queue.ts";

/** Timing figures of one task name, all in milliseconds. */
export interface TimingStats {
  /** Number of samples. */
  count: number;
  /** Sum of all samples, in milliseconds. */
  sum: number;
  /** Mean, in milliseconds; null without samples. */
  avg: number | null;
  /** Median, interpolated within its histogram bucket; null without samples. */
  p50: number | null;
  /** 95th percentile, interpolated; null without samples. */
  p95: number | null;
  /** 99th percentile, interpolated; null without samples. */
  p99: number | null;
  /**
   * Raw counts per bucket of `HISTOGRAM_BUCKETS` (upper bounds in ms), plus
   * a last +Inf bucket; not cumulative.
   */
  buckets: number[];
}

/** Fleet-wide figures of one task name. */
export interface TaskStats {
  /** Runs that succeeded and were acknowledged. */
  completed: number;
  /** Runs that failed (each failed run counts, retried or not). */
  failed: number;
  /** Failed runs scheduled to run again. */
  retried: number;
  /** Tasks moved to the dead-letter store. */
  dead: number;
  /** Run time (start of the action to its end) of completed runs. */
  runTime: TimingStats;
  /** Wait time (ready to start of the action) of completed runs. */
  waitTime: TimingStats;
}

/** A snapshot of the whole fleet, as returned by `runner.stats()`. */
export interface RunnerStats {
  /** When the snapshot was taken, epoch milliseconds (runner clock). */
  at: number;
  /** The transport's name. */
  queue: string;
  /** The consumer group. */
  group: string;
  /** Queue counts for the group (waiting, in flight, delayed, dead, consumers). */
  counts: QueueCounts;
  /** Live runner instances. */
  instances: InstanceInfo[];
  /**
   * Worker slots of the fleet: the sum of live instances' `workers`, or
   * `replicationFactor × numWorkers` when `replicationFactor` is configured.
   */
  totalWorkers: number;
  /** Sum of counters over every task name. */
  totals: { completed: number; failed: number; retried: number; dead: number };
  /** Per task name (every name the fleet has recorded). */
  tasks: Record<string, TaskStats>;
  /**
   * Mean run time T_avg in milliseconds, weighted by count over all task
   * names: over the last stats window when it saw completions, else over all
   * time (so a stalled queue still has an estimate). Null before any completion.
   */
  averageRunTime: number | null;
  /**
   * Completed runs per second across the fleet, from the counter deltas
   * between this read and an earlier one; null on the first read.
   */
  throughput: number | null;
  /**
   * `T_avg × (waiting + inFlight) / totalWorkers`, in milliseconds: how long
   * the fleet needs to work off what is queued now. 0 for an empty queue,
   * null when T_avg is unknown or no worker is live.
   */
  estimatedDrainTime: number | null;
  /** The configured long-queue threshold, in milliseconds. */
  longQueueThreshold: number;
  /** True when `estimatedDrainTime` exceeds `longQueueThreshold`. */
  longQueue: boolean;
  /** Whether consuming is paused fleet-wide. */
  paused: boolean;
}

const BUCKET_COUNT = HISTOGRAM_BUCKETS.length + 1;

/**
 * Index of the histogram bucket for a value in milliseconds.
 *
 * @param ms A duration in milliseconds.
 * @returns Index into a bucket array of length `HISTOGRAM_BUCKETS.length + 1`.
 */
export function bucketIndex(ms: number): number {
  const bounds = HISTOGRAM_BUCKETS;
  for (let i = 0; i < bounds.length; i++) {
    if (ms <= bounds[i]) return i;
  }
  return bounds.length;
}

/** An empty per-task delta. */
export function emptyTaskDelta(): TaskStatsDelta {
  return {
    completed: 0,
    failed: 0,
    retried: 0,
    dead: 0,
    runTimeSum: 0,
    runTime: new Array<number>(BUCKET_COUNT).fill(0),
    waitTimeSum: 0,
    waitTime: new Array<number>(BUCKET_COUNT).fill(0),
  };
}

/**
 * Accumulates counters and histograms in memory between flushes, so the
 * hot path never talks to the transport.
 */
export class StatsCollector {
  #tasks: Map<string, TaskStatsDelta> = new Map();

  #task(name: string): TaskStatsDelta {
    let t = this.#tasks.get(name);
    if (t === undefined) {
      t = emptyTaskDelta();
      this.#tasks.set(name, t);
    }
    return t;
  }

  /**
   * Count a completed run.
   * @param name Task name. @param runTime Run time in ms. @param waitTime Wait time in ms.
   */
  completed(name: string, runTime: number, waitTime: number): void {
    const t = this.#task(name);
    t.completed++;
    t.runTimeSum += runTime;
    t.runTime[bucketIndex(runTime)]++;
    t.waitTimeSum += waitTime;
    t.waitTime[bucketIndex(waitTime)]++;
  }

  /** Count a failed run. @param name Task name. */
  failed(name: string): void {
    this.#task(name).failed++;
  }

  /** Count a retry scheduled. @param name Task name. */
  retried(name: string): void {
    this.#task(name).retried++;
  }

  /** Count a dead-lettered task. @param name Task name. */
  dead(name: string): void {
    this.#task(name).dead++;
  }

  /** Whether anything was recorded since the last {@linkcode take}. */
  get isEmpty(): boolean {
    return this.#tasks.size === 0;
  }

  /**
   * Hand over everything recorded so far and start afresh.
   * @returns The accumulated delta.
   */
  take(): StatsDelta {
    const tasks: Record<string, TaskStatsDelta> = {};
    for (const [name, t] of this.#tasks) tasks[name] = t;
    this.#tasks = new Map();
    return { tasks };
  }

  /**
   * Put back a delta that could not be flushed, so nothing is lost.
   * @param delta A delta returned by {@linkcode take}.
   */
  restore(delta: StatsDelta): void {
    for (const name of Object.keys(delta.tasks)) addTaskDelta(this.#task(name), delta.tasks[name]);
  }

  /**
   * Add everything recorded since the last {@linkcode take} to a delta
   * (this collector is left as it is).
   * @param into The delta to add to (changed in place).
   */
  addTo(into: StatsDelta): void {
    for (const [name, t] of this.#tasks) addTaskDelta(into.tasks[name] ??= emptyTaskDelta(), t);
  }
}

/**
 * Add one per-task delta to another, bucket by bucket.
 *
 * @param into The delta added to (changed in place).
 * @param from The delta to add (a missing bucket counts as 0).
 * @returns `into`.
 */
export function addTaskDelta(into: TaskStatsDelta, from: TaskStatsDelta): TaskStatsDelta {
  into.completed += from.completed;
  into.failed += from.failed;
  into.retried += from.retried;
  into.dead += from.dead;
  into.runTimeSum += from.runTimeSum;
  into.waitTimeSum += from.waitTimeSum;
  addBuckets(into.runTime, from.runTime);
  addBuckets(into.waitTime, from.waitTime);
  return into;
}

/**
 * Add a whole delta to another, task by task.
 *
 * @param into The delta added to (changed in place).
 * @param from The delta to add.
 * @returns `into`.
 */
export function addDelta(into: StatsDelta, from: StatsDelta): StatsDelta {
  for (const name of Object.keys(from.tasks)) addTaskDelta(into.tasks[name] ??= emptyTaskDelta(), from.tasks[name]);
  return into;
}

/**
 * A deep copy of a per-task delta, with histograms of the full length.
 *
 * @param delta The delta to copy.
 * @returns A new delta sharing no arrays with `delta`.
 */
export function copyTaskDelta(delta: TaskStatsDelta): TaskStatsDelta {
  return { ...delta, runTime: [...delta.runTime], waitTime: [...delta.waitTime] };
}

/**
 * A deep copy of a whole delta.
 *
 * @param delta The delta to copy.
 * @returns A new delta sharing no objects with `delta`.
 */
export function copyDelta(delta: StatsDelta): StatsDelta {
  const tasks: Record<string, TaskStatsDelta> = {};
  for (const name of Object.keys(delta.tasks)) tasks[name] = copyTaskDelta(delta.tasks[name]);
  return { tasks };
}

function addBuckets(into: number[], from: readonly number[]): void {
  for (let i = 0; i < from.length; i++) into[i] = (into[i] ?? 0) + (from[i] ?? 0);
}

/**
 * Estimate a percentile from bucket counts, interpolating linearly inside
 * the bucket holding the rank (the +Inf bucket reports its lower bound).
 *
 * @param buckets Counts per bucket of `HISTOGRAM_BUCKETS` plus +Inf.
 * @param q Quantile in (0, 1].
 * @returns Milliseconds, or null when there are no samples.
 */
export function percentile(buckets: readonly number[], q: number): number | null {
  let total = 0;
  for (const c of buckets) total += c;
  if (total === 0) return null;
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < buckets.length; i++) {
    const c = buckets[i];
    if (c === 0) continue;
    if (cumulative + c >= rank) {
      const lower = i === 0 ? 0 : HISTOGRAM_BUCKETS[i - 1];
      if (i >= HISTOGRAM_BUCKETS.length) return lower;
      const upper = HISTOGRAM_BUCKETS[i];
      return lower + (upper - lower) * ((rank - cumulative) / c);
    }
    cumulative += c;
  }
  return HISTOGRAM_BUCKETS[HISTOGRAM_BUCKETS.length - 1];
}

function timing(count: number, sum: number, buckets: readonly number[] | undefined): TimingStats {
  const b = new Array<number>(BUCKET_COUNT).fill(0);
  if (buckets) for (let i = 0; i < BUCKET_COUNT; i++) b[i] = buckets[i] ?? 0;
  return {
    count,
    sum,
    avg: count > 0 ? sum / count : null,
    p50: percentile(b, 0.5),
    p95: percentile(b, 0.95),
    p99: percentile(b, 0.99),
    buckets: b,
  };
}

/** A reading of the fleet totals kept to compute rates between reads. */
export interface StatsSample {
  /** Epoch ms of the reading. */
  at: number;
  /** Completed runs, all task names. */
  completed: number;
  /** Sum of run times of completed runs, ms. */
  runTimeSum: number;
}

/** Inputs of {@linkcode buildRunnerStats}. */
export interface BuildStatsInput {
  /** Time of the reading, epoch ms. */
  at: number;
  /** The transport's name. */
  queue: string;
  /** The consumer group. */
  group: string;
  /** Queue counts for the group. */
  counts: QueueCounts;
  /** Fleet-wide totals (`readStats()`). */
  totals: StatsDelta;
  /** Live instances. */
  instances: InstanceInfo[];
  /** Whether consuming is paused. */
  paused: boolean;
  /** This runner's `numWorkers`. */
  numWorkers: number;
  /** Configured override of the live-instance count. */
  replicationFactor?: number;
  /** In milliseconds. */
  longQueueThreshold: number;
  /** An earlier reading, for throughput and the windowed T_avg. */
  previous?: StatsSample | null;
}

/**
 * Build the fleet-wide snapshot from the transport's totals.
 *
 * @param input Totals, counts, instances and settings.
 * @returns The snapshot and a sample to pass as `previous` next time.
 */
export function buildRunnerStats(input: BuildStatsInput): { stats: RunnerStats; sample: StatsSample } {
  const tasks: Record<string, TaskStats> = {};
  const totals = { completed: 0, failed: 0, retried: 0, dead: 0 };
  let runTimeSum = 0;
  for (const name of Object.keys(input.totals.tasks).sort()) {
    const t = input.totals.tasks[name];
    tasks[name] = {
      completed: t.completed,
      failed: t.failed,
      retried: t.retried,
      dead: t.dead,
      runTime: timing(t.completed, t.runTimeSum, t.runTime),
      waitTime: timing(t.completed, t.waitTimeSum, t.waitTime),
    };
    totals.completed += t.completed;
    totals.failed += t.failed;
    totals.retried += t.retried;
    totals.dead += t.dead;
    runTimeSum += t.runTimeSum;
  }
  const sample: StatsSample = { at: input.at, completed: totals.completed, runTimeSum };
  const prev = input.previous;

  let averageRunTime: number | null = totals.completed > 0 ? runTimeSum / totals.completed : null;
  let throughput: number | null = null;
  if (prev && input.at > prev.at && totals.completed >= prev.completed) {
    const done = totals.completed - prev.completed;
    throughput = (done * 1000) / (input.at - prev.at);
    if (done > 0) averageRunTime = (runTimeSum - prev.runTimeSum) / done;
  }

  const totalWorkers = input.replicationFactor !== undefined
    ? input.replicationFactor * input.numWorkers
    : input.instances.reduce((sum, i) => sum + i.workers, 0);
  const backlog = input.counts.waiting + input.counts.inFlight;
  let estimatedDrainTime: number | null;
  if (backlog === 0) estimatedDrainTime = 0;
  else if (averageRunTime === null || totalWorkers <= 0) estimatedDrainTime = null;
  else estimatedDrainTime = (averageRunTime * backlog) / totalWorkers;

  return {
    stats: {
      at: input.at,
      queue: input.queue,
      group: input.group,
      counts: input.counts,
      instances: input.instances,
      totalWorkers,
      totals,
      tasks,
      averageRunTime,
      throughput,
      estimatedDrainTime,
      longQueueThreshold: input.longQueueThreshold,
      longQueue: estimatedDrainTime !== null && estimatedDrainTime > input.longQueueThreshold,
      paused: input.paused,
    },
    sample,
  };
}
