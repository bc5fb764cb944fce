/**
 * Stream entry fields <-> deliveries and dead letters.
 *
 * Task entry fields. Tasks without a unique lock are written as two fields:
 * `m`, the packed metadata `attempt:rt:dat:idLength:` followed by the task
 * id and then the name (`dat` may be empty), and `body`; scripts may append
 * `dat` (dispatchedAt ms) and `rat` (readyAt ms) fields, which take
 * precedence over the packed values. Tasks holding a unique lock (and
 * entries written by earlier versions) use one field per value: `id`,
 * `name`, `body`, `attempt`, `rt` (reservation ms), `dat`, `rat`, and
 * `uk`/`ut` (unique lock key and token). Both layouts decode. Dead letters add `reason`, `en`,
 * `em`, `es` (error name, message, stack) and `fat` (failedAt ms).
 *
 * @module
 */
import { describeValue } from "../../src/errors.ts";
import {
  DEAD_LETTER_REASONS,
  type DeadLetter,
  type DeadLetterReason,
  type Delivery,
  type FailureRecord,
  type NewTask,
} from "../../src/queue.ts";

const REASONS: ReadonlySet<string> = new Set(DEAD_LETTER_REASONS);

/**
 * Fields of a task entry (without `rat`, which scripts set): the packed
 * two-field layout, or one field per value when the task holds a unique
 * lock (the add script reads the task id from the second field then).
 *
 * @param task The task.
 * @param unique Unique lock key and token, if the task holds one.
 * @param dispatchedAt DispatchedAt (ms) to record; omitted: set by the
 * script, or taken from the entry id.
 * @returns A flat field list.
 */
export function taskFields(
  task: Pick<NewTask, "id" | "name" | "body" | "attempt" | "reservationTimeout">,
  unique?: { key: string; token: string },
  dispatchedAt?: number,
): string[] {
  const rt = Math.max(0, Math.round(task.reservationTimeout));
  if (!unique) {
    const dat = dispatchedAt === undefined ? "" : String(Math.round(dispatchedAt));
    return ["m", `${task.attempt}:${rt}:${dat}:${task.id.length}:${task.id}${task.name}`, "body", task.body];
  }
  const fields = [
    "id", task.id,
    "name", task.name,
    "body", task.body,
    "attempt", String(task.attempt),
    "rt", String(rt),
    "uk", unique.key,
    "ut", unique.token,
  ];
  if (dispatchedAt !== undefined) fields.push("dat", String(Math.round(dispatchedAt)));
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
  const dash = id.indexOf("-");
  const digits = dash > 0 ? intBetween(id, 0, dash) : null;
  if (digits !== null) return digits;
  const ms = Number(id.slice(0, dash));
  return Number.isFinite(ms) ? ms : 0;
}

/** A decimal of 1 to 15 digits as a number; null for anything else. */
function nonNegativeInt(value: string | undefined): number | null {
  if (value === undefined) return null;
  const len = value.length;
  if (len === 0 || len > 15) return null;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return null;
    n = n * 10 + digit;
  }
  return n;
}

/** The fields of a task entry that a delivery reads. */
interface TaskEntry {
  id?: string;
  name?: string;
  body?: string;
  attempt?: string;
  rt?: string;
  dat?: string;
  rat?: string;
  uk?: string;
  ut?: string;
  garbled?: string;
  m?: string;
}

/**
 * Unpack the `m` field into `f` (values already set by their own field
 * win). Returns false when `m` is not well formed.
 */
function unpackMeta(f: TaskEntry, m: string): boolean {
  const starts: number[] = [];
  let pos = 0;
  for (let k = 0; k < 4; k++) {
    const end = m.indexOf(":", pos);
    if (end < 0) return false;
    starts.push(pos, end);
    pos = end + 1;
  }
  const idLen = nonNegativeInt(m.slice(starts[6], starts[7]));
  if (idLen === null || pos + idLen > m.length) return false;
  f.attempt ??= m.slice(starts[0], starts[1]);
  f.rt ??= m.slice(starts[2], starts[3]);
  if (starts[5] > starts[4]) f.dat ??= m.slice(starts[4], starts[5]);
  f.id ??= m.slice(pos, pos + idLen);
  f.name ??= m.slice(pos + idLen);
  return true;
}

/**
 * The fields of a task entry in one pass over a flat field list (the usual
 * reply shape), with no intermediate record; other shapes go through
 * {@linkcode fieldRecord}. Later duplicates win, as there.
 */
function taskEntry(raw: unknown): TaskEntry | null {
  if (!Array.isArray(raw)) return fieldRecord(raw) as TaskEntry | null;
  const f: TaskEntry = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const value = String(raw[i + 1]);
    switch (String(raw[i])) {
      // The packed layout's two fields first.
      case "m": f.m = value; break;
      case "body": f.body = value; break;
      case "id": f.id = value; break;
      case "name": f.name = value; break;
      case "attempt": f.attempt = value; break;
      case "rt": f.rt = value; break;
      case "dat": f.dat = value; break;
      case "rat": f.rat = value; break;
      case "uk": f.uk = value; break;
      case "ut": f.ut = value; break;
      case "garbled": f.garbled = value; break;
    }
  }
  return f;
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
  const f = taskEntry(raw);
  if (f !== null && f.m !== undefined) {
    const packed = packedDelivery(deliveryId, f, f.m, deliveryCount);
    if (packed !== null) return packed;
  }
  return checkedDelivery(deliveryId, f, deliveryCount, fallbackReservation);
}

/** `value.slice(start, end)` as a decimal of 1 to 15 digits; null for anything else. */
function intBetween(value: string, start: number, end: number): number | null {
  const len = end - start;
  if (len <= 0 || len > 15) return null;
  let n = 0;
  for (let i = start; i < end; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return null;
    n = n * 10 + digit;
  }
  return n;
}

/**
 * The delivery of a well-formed entry in the packed layout (`m` and `body`,
 * perhaps `dat`/`rat`, no per-value fields), read straight from `m`
 * without slicing its numbers out; null for anything else, which
 * {@linkcode checkedDelivery} then decodes (and reports).
 */
function packedDelivery(deliveryId: string, f: TaskEntry, m: string, deliveryCount: number): Delivery | null {
  if (
    f.body === undefined || f.garbled !== undefined || f.id !== undefined || f.name !== undefined ||
    f.attempt !== undefined || f.rt !== undefined || f.uk !== undefined || f.ut !== undefined
  ) return null;
  const c1 = m.indexOf(":");
  if (c1 < 0) return null;
  const c2 = m.indexOf(":", c1 + 1);
  if (c2 < 0) return null;
  const c3 = m.indexOf(":", c2 + 1);
  if (c3 < 0) return null;
  const c4 = m.indexOf(":", c3 + 1);
  if (c4 < 0) return null;
  const attempt = intBetween(m, 0, c1);
  if (attempt === null) return null;
  const rt = intBetween(m, c1 + 1, c2);
  if (rt === null) return null;
  const idLen = intBetween(m, c3 + 1, c4);
  const pos = c4 + 1;
  if (idLen === null || pos + idLen > m.length) return null;
  const readyAt = nonNegativeInt(f.rat) ?? idTime(deliveryId);
  // A `dat` field wins over the packed value; an empty packed value is absent.
  const dispatchedAt = f.dat !== undefined
    ? nonNegativeInt(f.dat)
    : c3 > c2 + 1
    ? intBetween(m, c2 + 1, c3)
    : null;
  return {
    deliveryId,
    deliveryCount,
    id: m.slice(pos, pos + idLen),
    name: m.slice(pos + idLen),
    body: f.body,
    attempt,
    reservationTimeout: rt,
    dispatchedAt: dispatchedAt ?? readyAt,
    readyAt,
  };
}

/** {@linkcode decodeDelivery} for any entry, with every problem found listed in `malformed`. */
function checkedDelivery(
  deliveryId: string,
  f: TaskEntry | null,
  deliveryCount: number,
  fallbackReservation: number,
): Delivery {
  const problems: string[] = [];
  if (!f) problems.push("entry has no fields (deleted or trimmed)");
  else if (f.garbled !== undefined) problems.push("delayed entry could not be decoded");
  else if (f.m !== undefined && !unpackMeta(f, f.m)) problems.push(`bad field 'm': ${describeValue(f.m)}`);
  const get = (k: keyof TaskEntry): string | undefined => (f ? f[k] : undefined);
  if (f && f.garbled === undefined) {
    if (f.id === undefined) problems.push("missing field 'id'");
    if (f.name === undefined) problems.push("missing field 'name'");
    if (f.body === undefined) problems.push("missing field 'body'");
  }
  const attempt = nonNegativeInt(get("attempt"));
  if (f && f.garbled === undefined && attempt === null) problems.push(`bad field 'attempt': ${describeValue(get("attempt") ?? null)}`);
  const rt = nonNegativeInt(get("rt"));
  if (f && f.garbled === undefined && rt === null) problems.push(`bad field 'rt': ${describeValue(get("rt") ?? null)}`);
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
  return rangeEntries(streamEntries(reply));
}

/**
 * The new deliveries of an XREADGROUP reply (one stream), decoded in one
 * pass: the same as {@linkcode decodeDelivery} (delivery count 1) over
 * {@linkcode readGroupEntries}, without the intermediate pairs.
 *
 * @param reply The XREADGROUP reply.
 * @param fallbackReservation Reservation (ms) for entries without a valid one.
 */
export function readGroupDeliveries(reply: unknown, fallbackReservation: number): Delivery[] {
  const entries = streamEntries(reply);
  if (!Array.isArray(entries)) return [];
  const out: Delivery[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as unknown[];
    out[i] = decodeDelivery(String(e[0]), e[1], 1, fallbackReservation);
  }
  return out;
}

/** The entry list of the one stream of an XREADGROUP reply (RESP2 or RESP3); undefined if none. */
function streamEntries(reply: unknown): unknown {
  if (reply == null) return undefined;
  if (Array.isArray(reply)) return (reply[0] as unknown[] | undefined)?.[1];
  if (reply instanceof Map) return reply.values().next().value;
  if (typeof reply === "object") return Object.values(reply)[0];
  return undefined;
}

/** The entries of an XRANGE reply (or of one stream of XREADGROUP) as [id, fields] pairs. */
export function rangeEntries(entries: unknown): Array<[string, unknown]> {
  if (!Array.isArray(entries)) return [];
  return entries.map((e) => [String((e as unknown[])[0]), (e as unknown[])[1]] as [string, unknown]);
}
