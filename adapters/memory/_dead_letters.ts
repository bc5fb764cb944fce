/**
 * The dead-letter store of the memory queue: records kept oldest first
 * under increasing ids, paged by cursor.
 *
 * @module
 */

import type { DeadLetter, DeadLetterPage } from "../../src/queue.ts";

/** A dead letter plus what a replay needs to add its task again. */
export interface DeadRecord {
  letter: DeadLetter;
  reservationTimeout: number;
  malformed?: string;
}

const ID = /^[1-9][0-9]*$/;

/**
 * Dead letters by id (a decimal sequence number), oldest first, with their
 * pending failed-handler calls.
 */
export class DeadLetters {
  #records = new Map<number, DeadRecord>();
  /** Ids in ascending order, for cursor pages. */
  #order: number[] = [];
  #next = 1;
  /** Pending failed-handler calls: dead letter seq → lease expiry (epoch ms). */
  #handlers = new Map<number, number>();

  /** Number of dead letters. */
  get size(): number {
    return this.#records.size;
  }

  /** Store a record under a new id, which is returned and set on its letter. */
  add(letter: Omit<DeadLetter, "deadLetterId">, extra: Omit<DeadRecord, "letter">): string {
    const seq = this.#next++;
    const deadLetterId = String(seq);
    this.#records.set(seq, { ...extra, letter: { deadLetterId, ...letter } });
    this.#order.push(seq);
    return deadLetterId;
  }

  /** The record of `deadLetterId`, undefined when unknown or not an id. */
  get(deadLetterId: string): DeadRecord | undefined {
    return ID.test(deadLetterId) ? this.#records.get(Number(deadLetterId)) : undefined;
  }

  /** Remove a record and its pending handler call; false when there was none. */
  delete(deadLetterId: string): boolean {
    if (!this.get(deadLetterId)) return false;
    const seq = Number(deadLetterId);
    this.#records.delete(seq);
    this.#handlers.delete(seq);
    const at = upperBound(this.#order, seq) - 1;
    if (this.#order[at] === seq) this.#order.splice(at, 1);
    return true;
  }

  /** Mark a handler call pending for `deadLetterId`, leased until `expiresAt`. */
  leaseHandler(deadLetterId: string, expiresAt: number): void {
    if (this.get(deadLetterId)) this.#handlers.set(Number(deadLetterId), expiresAt);
  }

  /**
   * Up to `count` letters whose handler lease expired at or before `now`,
   * earliest expiry first, each leased again until `now + lease`.
   */
  claimHandlers(now: number, lease: number, count: number): DeadLetter[] {
    const due: Array<[number, number]> = [];
    for (const [seq, expiresAt] of this.#handlers) if (expiresAt <= now) due.push([seq, expiresAt]);
    due.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    const out: DeadLetter[] = [];
    for (const [seq] of due.slice(0, Math.max(0, Math.floor(count)))) {
      this.#handlers.set(seq, now + lease);
      out.push(copyDeadLetter(this.#records.get(seq)!.letter));
    }
    return out;
  }

  /** Drop the pending handler call of `deadLetterId`, if any. */
  completeHandler(deadLetterId: string): void {
    if (ID.test(deadLetterId)) this.#handlers.delete(Number(deadLetterId));
  }

  /**
   * Up to `limit` letters after `cursor` (exclusive), oldest first; a cursor
   * this store never issued yields an empty page.
   */
  page(cursor: string | null | undefined, limit: number): DeadLetterPage {
    const order = this.#order;
    let start = 0;
    if (cursor !== undefined && cursor !== null) {
      if (!ID.test(cursor) || !Number.isSafeInteger(Number(cursor))) return { items: [], nextCursor: null };
      start = upperBound(order, Number(cursor));
    }
    const end = Math.min(order.length, start + Math.max(0, Math.floor(limit)));
    const items: DeadLetter[] = [];
    for (let i = start; i < end; i++) items.push(copyDeadLetter(this.#records.get(order[i])!.letter));
    const nextCursor = end < order.length && items.length > 0 ? items[items.length - 1].deadLetterId : null;
    return { items, nextCursor };
  }
}

/** A copy the caller may change without touching the store. */
export function copyDeadLetter(letter: DeadLetter): DeadLetter {
  return { ...letter, error: { ...letter.error } };
}

/** Index of the first element of ascending `sorted` greater than `value`. */
function upperBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
