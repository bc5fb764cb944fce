/**
 * The execution-record checker, Kafka style ("consumed ⊇ acked"): from the
 * records every worker wrote outside Redis, the ids the producers were told
 * were accepted, and what the queue dead-lettered, decide whether anything
 * was lost, count duplicates, and check the failed handler ran exactly once
 * per exhausted task.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { WorkerRecord } from "./_protocol.ts";

/** A dead letter as the checker needs it. */
export interface DeadTask {
  id: string;
  reason: string;
}

/** What the records say happened. */
export interface Outcome {
  /** Handler starts in all. */
  executions: number;
  /** Distinct task ids that started at least once. */
  distinct: number;
  /** Ids with at least one successful handler end. */
  completed: Set<string>;
  /** Ids in the dead-letter store. */
  dead: Map<string, string>;
  /** Accepted ids neither completed, dead-lettered nor reported lost. */
  missing: string[];
  /** Ids reported lost by the library (allowed only where Redis lost data). */
  lost: Set<string>;
  /**
   * Re-executions of the same attempt: for each (id, attempt), starts - 1.
   * A crash or a lost reservation makes one; a retry after a failure does not.
   */
  duplicates: number;
  /** Task ids with a re-executed attempt. */
  duplicateIds: string[];
  /** Successful ends beyond the first, per id. */
  duplicateCompletions: number;
  /** Failed-handler calls per id. */
  failedHandler: Map<string, number>;
  /** Dead ids whose failed handler did not run exactly once. */
  failedHandlerWrong: string[];
  /** Failed-handler calls for ids that are not dead. */
  failedHandlerStray: string[];
  /** Starts recorded after the id's failed handler ran (never allowed). */
  startsAfterFailure: number;
  /** Ids whose ack was accepted more than once (fencing failed). */
  doubleAcked: string[];
  /** Start times per id (epoch ms), in order. */
  startTimes: Map<string, number[]>;
  /** First successful end time per id (epoch ms). */
  completedAt: Map<string, number>;
}

/**
 * Check the records against what was accepted.
 *
 * @param records Records of every worker, in any order.
 * @param accepted Ids the producers got back from dispatch.
 * @param dead Dead letters read from the queue after the run.
 * @param lost Ids the library reported lost (lost events).
 */
export function analyse(
  records: readonly WorkerRecord[],
  accepted: Iterable<string>,
  dead: readonly DeadTask[] = [],
  lost: Iterable<string> = [],
): Outcome {
  const startsByAttempt = new Map<string, number>();
  const startTimes = new Map<string, number[]>();
  const completed = new Set<string>();
  const completedAt = new Map<string, number>();
  const failedHandler = new Map<string, number>();
  const failedAt = new Map<string, number>();
  let executions = 0;
  let okEnds = 0;
  const acks = new Map<string, number>();
  const sorted = [...records].sort((a, b) => a.t - b.t);
  for (const r of sorted) {
    if (r.ev === "start") {
      executions++;
      const key = `${r.id}#${r.attempt}`;
      startsByAttempt.set(key, (startsByAttempt.get(key) ?? 0) + 1);
      const times = startTimes.get(r.id) ?? [];
      times.push(r.t);
      startTimes.set(r.id, times);
    } else if (r.ev === "end" && r.ok) {
      okEnds++;
      completed.add(r.id);
      if (!completedAt.has(r.id)) completedAt.set(r.id, r.t);
    } else if (r.ev === "ack") {
      for (const a of r.results) if (a.ok) acks.set(a.id, (acks.get(a.id) ?? 0) + 1);
    } else if (r.ev === "failed-handler") {
      failedHandler.set(r.id, (failedHandler.get(r.id) ?? 0) + 1);
      if (!failedAt.has(r.id)) failedAt.set(r.id, r.t);
    }
  }
  let duplicates = 0;
  const duplicateIds = new Set<string>();
  for (const [key, n] of startsByAttempt) {
    duplicates += n - 1;
    if (n > 1) duplicateIds.add(key.slice(0, key.lastIndexOf("#")));
  }
  const deadMap = new Map(dead.map((d) => [d.id, d.reason]));
  const lostSet = new Set(lost);
  const missing: string[] = [];
  for (const id of accepted) {
    if (!completed.has(id) && !deadMap.has(id) && !lostSet.has(id)) missing.push(id);
  }
  const failedHandlerWrong = [...deadMap.keys()].filter((id) => failedHandler.get(id) !== 1);
  const failedHandlerStray = [...failedHandler.keys()].filter((id) => !deadMap.has(id));
  let startsAfterFailure = 0;
  for (const [id, t] of failedAt) {
    startsAfterFailure += (startTimes.get(id) ?? []).filter((s) => s > t).length;
  }
  return {
    executions,
    distinct: startTimes.size,
    completed,
    dead: deadMap,
    missing,
    lost: lostSet,
    duplicates,
    duplicateIds: [...duplicateIds],
    duplicateCompletions: okEnds - completed.size,
    failedHandler,
    failedHandlerWrong,
    failedHandlerStray,
    startsAfterFailure,
    doubleAcked: [...acks].filter(([, n]) => n > 1).map(([id]) => id),
    startTimes,
    completedAt,
  };
}

/**
 * L and A1: every accepted task completed at least once, or is dead with a
 * reason, or (only when `allowLost`) was reported lost.
 */
export function assertNoLoss(outcome: Outcome, allowLost = false): void {
  assert.deepEqual(outcome.missing.slice(0, 10), [], `${outcome.missing.length} accepted task(s) neither completed nor dead-lettered`);
  if (!allowLost) assert.equal(outcome.lost.size, 0, `tasks reported lost: ${[...outcome.lost].slice(0, 5).join(", ")}`);
  for (const [id, reason] of outcome.dead) assert.ok(reason, `dead letter ${id} has no reason`);
}

/** F1: the failed handler ran exactly once per dead task, and for no other. */
export function assertFailedHandlerExactlyOnce(outcome: Outcome): void {
  assert.deepEqual(
    outcome.failedHandlerWrong.map((id) => [id, outcome.failedHandler.get(id) ?? 0]).slice(0, 10),
    [],
    "failed handler not called exactly once per dead task",
  );
  assert.deepEqual(outcome.failedHandlerStray.slice(0, 10), [], "failed handler called for a task that is not dead");
  assert.equal(outcome.startsAfterFailure, 0, "a task ran again after its failed handler");
}

/**
 * Dn: duplicates bounded by `bound` (in flight at the fault × faults). On
 * failure the message shows each duplicated task's runs relative to `t0`.
 */
export function assertDuplicatesAtMost(
  outcome: Outcome,
  bound: number,
  records: readonly WorkerRecord[] = [],
  t0 = 0,
): void {
  if (outcome.duplicates <= bound) return;
  const detail = outcome.duplicateIds.slice(0, 12).map((id) =>
    `${id.slice(0, 8)}: ` + records
      .filter((r) => (r.ev === "start" || r.ev === "end" || r.ev === "ack") && (r.ev === "ack" ? r.results.some((x) => x.id === id) : r.id === id))
      .map((r) => `${r.label ?? r.pid}/${r.ev}${r.ev === "ack" ? (r.results.find((x) => x.id === id)!.ok ? "+" : "-") : ""}@${r.t - t0}`)
      .join(" ")
  );
  assert.fail(`duplicates ${outcome.duplicates} exceed the bound ${bound} (what was in flight)\n${detail.join("\n")}`);
}

/** Fencing: no delivery's ack was accepted twice (a late ack after a reclaim is refused). */
export function assertFenced(outcome: Outcome): void {
  assert.deepEqual(outcome.doubleAcked.slice(0, 10), [], "a task was acknowledged by two workers");
}
