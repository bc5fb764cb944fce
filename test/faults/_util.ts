/**
 * Small helpers shared by the fault tests that read worker records.
 *
 * @module
 */
import type { WorkerProcess } from "./_harness.ts";

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
