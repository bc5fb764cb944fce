/**
 * Small helpers shared by the fault tests that read worker records, and the
 * ledger checks most of them end with.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Fleet } from "./_fleet.ts";
import type { WorkerProcess } from "./_harness.ts";
import { analyse, assertFailedHandlerExactlyOnce, assertFenced, assertNoLoss, type DeadTask, type Outcome } from "./_ledger.ts";

/** `[0, 1, ..., n-1]`. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Deliveries `worker` received (or reclaimed) and still holds: no ack was
 * answered for them and no heartbeat reported them lost. What a crash of
 * this worker puts back in play. Maps task id to the attempt it was running
 * (-1: received, not started).
 */
export function unacked(worker: WorkerProcess): Map<string, number> {
  const open = new Map<string, number>();
  for (const r of worker.records) {
    if (r.ev === "received") {
      for (const id of r.ids) if (!open.has(id)) open.set(id, -1);
    } else if (r.ev === "start") {
      open.set(r.id, r.attempt);
    } else if (r.ev === "ack") {
      // Acked, or refused (the worker no longer holds it): either way no longer in its hands.
      for (const a of r.results) open.delete(a.id);
    } else if (r.ev === "heartbeat") {
      for (const id of r.lostIds) open.delete(id);
    }
  }
  return open;
}

/** Number of handler starts written by `worker`. */
export function starts(worker: WorkerProcess): number {
  return worker.records.reduce((n, r) => n + (r.ev === "start" ? 1 : 0), 0);
}

/** Format milliseconds for a figure line. */
export function ms(n: number): string {
  return Number.isFinite(n) ? `${Math.round(n)}ms` : "n/a";
}

/** Like {@linkcode unacked}, but only executions that started (ran a handler). */
export function unackedStarts(worker: WorkerProcess): Map<string, number> {
  return new Map([...unacked(worker)].filter(([, attempt]) => attempt >= 0));
}

/** What {@linkcode assertLedger} checks beyond "nothing lost". */
export interface LedgerChecks {
  /** The dead letters to judge by (default: read from the queue). */
  dead?: readonly DeadTask[];
  /** The ids the library reported lost (default: `fleet.lostIds()`). */
  lost?: Iterable<string>;
  /** A task reported lost counts as accounted for (where Redis lost it). */
  allowLost?: boolean;
  /** Assert no ack was accepted twice (default true). */
  fenced?: boolean;
  /** Assert the failed handler ran exactly once per dead task, and for no other. */
  failedHandlerOnce?: boolean;
  /**
   * Then assert no worker wrote a fatal record and these workers are still
   * running (`[]`: the fatals alone).
   */
  noCrash?: readonly WorkerProcess[];
}

/**
 * The ledger checks of a fault test: what every worker of `fleet` recorded
 * against the accepted `ids` and the dead letters. Asserts every accepted
 * task completed or is dead with a reason (or, with `allowLost`, was
 * reported lost), then fencing, and the failed handler and crashes when
 * asked. Resolves to the outcome, for the test's own bounds.
 */
export async function assertLedger(fleet: Fleet, ids: Iterable<string>, checks: LedgerChecks = {}): Promise<Outcome> {
  const records = fleet.records();
  const dead = checks.dead ?? await fleet.deadTasks();
  const outcome = analyse(records, ids, dead, checks.lost ?? fleet.lostIds());
  assertNoLoss(outcome, checks.allowLost);
  if (checks.fenced ?? true) assertFenced(outcome);
  if (checks.failedHandlerOnce) assertFailedHandlerExactlyOnce(outcome);
  if (checks.noCrash) assertNoCrash(fleet, ...checks.noCrash);
  return outcome;
}

/** No worker of `fleet` wrote a fatal record, and `running` have not exited. */
export function assertNoCrash(fleet: Fleet, ...running: WorkerProcess[]): void {
  assert.deepEqual(fleet.fatals(), []);
  for (const w of running) assert.equal(w.exit, null, `worker ${w.config.label ?? w.pid} is still running`);
}
