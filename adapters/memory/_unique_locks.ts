/**
 * The unique-lock table of the memory queue: a lock per key with a holder
 * token, a minimum hold period and a backstop expiry, as Redis keeps them
 * with `SET NX PX` and compare-and-delete.
 *
 * @module
 */

import type { UniqueLock } from "../../src/queue.ts";

/** Sweep expired locks once the table holds at least this many. */
const SWEEP_MIN = 1024;

/** A lock held now. */
export interface HeldLock {
  /** Id of the task that took it. */
  readonly taskId: string;
}

interface LockState {
  token: string;
  taskId: string;
  takenAt: number;
  holdFor: number;
  ttl: number;
  expiresAt: number;
}

/** Locks by key; expired ones are dropped lazily and by amortised sweeps. */
export class UniqueLocks {
  #locks = new Map<string, LockState>();
  #sweepAt = SWEEP_MIN;

  /** The lock on `key` if it is held at `now`. */
  holder(key: string, now: number): HeldLock | undefined {
    return this.#live(key, now);
  }

  /** Take `lock` for `taskId`; the caller checked that it is free. */
  take(lock: UniqueLock, taskId: string, now: number): void {
    this.#locks.set(lock.key, {
      token: lock.token,
      taskId,
      takenAt: now,
      holdFor: lock.holdFor,
      ttl: lock.ttl,
      expiresAt: now + lock.ttl,
    });
    if (this.#locks.size >= this.#sweepAt) this.#sweep(now);
  }

  /**
   * Release by token: a lock taken less than `holdFor` ago is kept until
   * then, otherwise it is deleted. Another holder's lock is left alone.
   */
  release(key: string, token: string, now: number): void {
    const lock = this.#live(key, now);
    if (!lock || lock.token !== token) return;
    const holdUntil = lock.takenAt + lock.holdFor;
    if (holdUntil > now) {
      lock.expiresAt = holdUntil;
      lock.ttl = 0;
    } else {
      this.#locks.delete(key);
    }
  }

  /** Push the backstop expiry of the lock held by `token` to `now` + its ttl. */
  extend(key: string, token: string, now: number): void {
    const lock = this.#live(key, now);
    if (lock && lock.token === token) lock.expiresAt = Math.max(lock.expiresAt, now + lock.ttl);
  }

  #live(key: string, now: number): LockState | undefined {
    const lock = this.#locks.get(key);
    if (lock && lock.expiresAt <= now) {
      this.#locks.delete(key);
      return undefined;
    }
    return lock;
  }

  /** Forget expired locks; runs when the table doubled since the last sweep. */
  #sweep(now: number): void {
    for (const [key, lock] of this.#locks) if (lock.expiresAt <= now) this.#locks.delete(key);
    this.#sweepAt = Math.max(SWEEP_MIN, this.#locks.size * 2);
  }
}
