/**
 * Stream entry fields <-> deliveries and dead letters.
 *
 * Task entry fields: `id`, `name`, `body`, `attempt`, `rt` (reservation ms),
 * `dat` (dispatchedAt ms), `rat` (readyAt ms), and `uk`/`ut` (unique lock key
 * and token) when the task holds a lock. Dead letters add `reason`, `en`,
 * `em`, `es` (error name, message, stack) and `fat` (failedAt ms).
 *
 * @module
 */
import type { DeadLetter, DeadLetterReason, Delivery, FailureRecord, NewTask } from "../../src/queue.ts";

const REASONS: ReadonlySet<string> = new Set([
  "max-retries",
  "unrecoverable",
  "unknown-task",
  "invalid-payload",
  "malformed",
  "poison",
]);

/** Fields of a task entry (without `dat`/`rat`, which scripts set). */
export function taskFields(
  task: Pick<NewTask, "id" | "name" | "body" | "attempt" | "reservationTimeout">,
  unique?: { key: string; token: string },
): string[] {
  const fields = [
    "id", task.id,
    "name", task.name,
    "body", task.body,
    "attempt", String(task.attempt),
    "rt", String(Math.max(0, Math.round(task.reservationTimeout))),
  ];
  if (unique) fields.push("uk", unique.key, "ut", unique.token);
  return fields;
}

/** Turn a flat field list (or a RESP3 map) into a record; null if absent. */
export function fieldRecord(raw: unknown): Record<string, string> | null {
  if (raw == null) return null;
  const out: Record<string, string> = Object.create(null);
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i])] = String(raw[i + 1]);
    return out;
  }
  if (raw instanceof Map) {
    for (const [k, v] of raw) out[String(k)] = String(v);
    return out;
  }
  if (typeof raw === "object") {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) out[k] = String(v);
    return out;
  }
  return null;
}

/** Epoch ms encoded in a stream entry id. */
export function idTime(id: string): number {
  const ms = Number(id.slice(0, id.indexOf("-")));
  return Number.isFinite(ms) ? ms : 0;
}

function nonNegativeInt(value: string | undefined): number | null {
  if (value === undefined || !/^\d{1,15}$/.test(value)) return null;
  return Number(value);
}

/**
 * Decode a stream entry into a delivery. Unreadable entries come back with
 * `malformed` set, never as an exception.
 *
 * @param deliveryId Stream entry id.
 * @param raw Entry fields as returned by Redis (null when the entry is gone).
 * @param deliveryCount Delivery count to report.
 * @param fallbackReservation Reservation (ms) for entries without a valid one.
 */
export function decodeDelivery(
  deliveryId: string,
  raw: unknown,
  deliveryCount: number,
  fallbackReservation: number,
): Delivery {
  const f = fieldRecord(raw);
  const problems: string[] = [];
  if (!f) problems.push("entry has no fields (deleted or trimmed)");
  else if (f.garbled !== undefined) problems.push("delayed entry could not be decoded");
  const get = (k: string): string | undefined => (f ? f[k] : undefined);
  for (const k of ["id", "name", "body"]) {
    if (f && f.garbled === undefined && get(k) === undefined) problems.push(`missing field '${k}'`);
  }
  const attempt = nonNegativeInt(get("attempt"));
  if (f && f.garbled === undefined && attempt === null) problems.push(`bad field 'attempt': ${JSON.stringify(get("attempt") ?? null)}`);
  const rt = nonNegativeInt(get("rt"));
  if (f && f.garbled === undefined && rt === null) problems.push(`bad field 'rt': ${JSON.stringify(get("rt") ?? null)}`);
  const readyAt = nonNegativeInt(get("rat")) ?? idTime(deliveryId);
  const delivery: Delivery = {
    deliveryId,
    deliveryCount,
    id: get("id") ?? deliveryId,
    name: problems.length ? "" : get("name")!,
    body: problems.length ? "" : get("body")!,
    attempt: attempt ?? 0,
    reservationTimeout: rt ?? fallbackReservation,
    dispatchedAt: nonNegativeInt(get("dat")) ?? readyAt,
    readyAt,
  };
  const uk = get("uk");
  const ut = get("ut");
  if (uk !== undefined && ut !== undefined) delivery.unique = { key: uk, token: ut };
  if (problems.length) delivery.malformed = problems.join("; ");
  return delivery;
}

/** Fields of a dead letter (without `fat`, which the script sets). */
export function deadLetterFields(delivery: Delivery, reason: DeadLetterReason, error: FailureRecord): string[] {
  const fields = [
    "id", delivery.id,
    "name", delivery.name,
    "body", delivery.body,
    "attempt", String(delivery.attempt + 1),
    "rt", String(delivery.reservationTimeout),
    "dat", String(delivery.dispatchedAt),
    "reason", reason,
    "en", error.name,
    "em", error.message,
  ];
  if (error.stack !== undefined) fields.push("es", error.stack);
  return fields;
}

/** Decode a dead-letter stream entry. */
export function decodeDeadLetter(deadLetterId: string, raw: unknown): DeadLetter {
  const f = fieldRecord(raw) ?? {};
  const error: FailureRecord = { name: f.en ?? "Error", message: f.em ?? "" };
  if (f.es !== undefined) error.stack = f.es;
  return {
    deadLetterId,
    id: f.id ?? deadLetterId,
    name: f.name ?? "",
    body: f.body ?? "",
    attempt: nonNegativeInt(f.attempt) ?? 0,
    reason: (REASONS.has(f.reason) ? f.reason : "malformed") as DeadLetterReason,
    error,
    dispatchedAt: nonNegativeInt(f.dat) ?? 0,
    failedAt: nonNegativeInt(f.fat) ?? idTime(deadLetterId),
  };
}

/**
 * The entries of an XREADGROUP reply (one stream) as [id, fields] pairs, for
 * RESP2 (`[[key, entries]]`) and RESP3 (a map keyed by stream name) alike.
 */
export function readGroupEntries(reply: unknown): Array<[string, unknown]> {
  if (reply == null) return [];
  let entries: unknown;
  if (Array.isArray(reply)) entries = (reply[0] as unknown[] | undefined)?.[1];
  else if (reply instanceof Map) entries = reply.values().next().value;
  else if (typeof reply === "object") entries = Object.values(reply)[0];
  return rangeEntries(entries);
}

/** The entries of an XRANGE reply (or of one stream of XREADGROUP) as [id, fields] pairs. */
export function rangeEntries(entries: unknown): Array<[string, unknown]> {
  if (!Array.isArray(entries)) return [];
  return entries.map((e) => [String((e as unknown[])[0]), (e as unknown[])[1]] as [string, unknown]);
}
