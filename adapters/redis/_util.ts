/**
 * Small helpers of the Redis transport: batching, id ranges, local
 * deadlines, URL redaction.
 *
 * @module
 */
import { TransportError } from "../../src/errors.ts";
import type { DeliveryRef } from "../../src/queue.ts";

const UINT64_MAX = "18446744073709551615";

/** The largest stream entry id. */
export const MAX_STREAM_ID: string = `${UINT64_MAX}-${UINT64_MAX}`;

/**
 * The canonical form of a stream entry id given by a caller (dead-letter
 * ids, cursors): `<ms>-<seq>`, each part an unsigned 64-bit integer, without
 * leading zeros. Ids Redis would answer with an error yield null, so they
 * are refused before any command is sent.
 *
 * @param id The id given by a caller.
 * @returns The canonical id, or null when `id` is not a valid stream id.
 */
export function streamId(id: string): string | null {
  const m = /^(\d{1,40})-(\d{1,40})$/.exec(id);
  if (m === null) return null;
  const ms = uint64(m[1]);
  const seq = uint64(m[2]);
  return ms === null || seq === null ? null : `${ms}-${seq}`;
}

/** Decimal digits without leading zeros, or null above 2^64 - 1. */
function uint64(digits: string): string | null {
  const d = digits.replace(/^0+(?=\d)/, "");
  return d.length < UINT64_MAX.length || (d.length === UINT64_MAX.length && d <= UINT64_MAX) ? d : null;
}

/**
 * Replace credentials in a Redis URL with `***`, so URLs can be logged.
 *
 * @param url A `redis://` / `rediss://` URL.
 * @returns The URL without its password.
 */
export function redactRedisUrl(url: string): string {
  return url.replace(/^(\w+:\/\/)([^@/]*)@/, (_m, scheme: string, auth: string) => {
    const user = auth.includes(":") ? auth.slice(0, auth.indexOf(":")) : "";
    return `${scheme}${user ? `${user}:` : ""}***@`;
  });
}

/** Split `items` into arrays of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** How long an aborted blocking read may take to answer before it is dropped, in ms. */
export const ABORT_GRACE = 1_000;

/** Await `promise`, rejecting with a TransportError after `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransportError(`Redis did not answer ${what} within ${ms} ms`)), ms);
  });
  promise.catch(() => {});
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Milliseconds and sequence of a stream id of 1 to 16 digits each; null if malformed. */
function parseStreamId(id: string): [number, number] | null {
  const dash = id.indexOf("-");
  if (dash < 1 || dash > 16 || id.length - dash - 1 < 1 || id.length - dash - 1 > 16) return null;
  let ms = 0;
  for (let i = 0; i < dash; i++) {
    const digit = id.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return null;
    ms = ms * 10 + digit;
  }
  let seq = 0;
  for (let i = dash + 1; i < id.length; i++) {
    const digit = id.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return null;
    seq = seq * 10 + digit;
  }
  return [ms, seq];
}

/** Lowest and highest well-formed stream ids of a batch ("" when none). */
export function idRange(refs: readonly DeliveryRef[]): [string, string] {
  let lo = "";
  let hi = "";
  let loMs = 0, loSeq = 0, hiMs = 0, hiSeq = 0;
  for (const ref of refs) {
    const parsed = parseStreamId(ref.deliveryId);
    if (parsed === null) continue;
    const ms = parsed[0];
    const seq = parsed[1];
    if (lo === "" || ms < loMs || (ms === loMs && seq < loSeq)) {
      lo = ref.deliveryId;
      loMs = ms;
      loSeq = seq;
    }
    if (hi === "" || ms > hiMs || (ms === hiMs && seq > hiSeq)) {
      hi = ref.deliveryId;
      hiMs = ms;
      hiSeq = seq;
    }
  }
  return [lo, hi];
}

