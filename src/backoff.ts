/**
 * Backoff policies: how long a failed task waits before its next run.
 * Whether it runs again at all is decided in `retry_policy.ts`.
 *
 * A policy is either a description (`{ type: "exponential" }`,
 * `{ type: "fixed", delay }`) or a function `(attempt, error) => ms`.
 * `attempt` is the number of failed runs so far, including the one that
 * just failed: 1 before the first retry, 2 before the second, and so on.
 *
 * @module
 */

/**
 * A custom backoff: returns the delay in milliseconds before the next run.
 *
 * @param attempt Failed runs so far, including the one that just failed (>= 1).
 * @param error What the failed run threw (any value).
 * @returns Delay in milliseconds; negative or non-finite values are treated as 0.
 */
export type BackoffFunction = (attempt: number, error: unknown) => number;

/** Exponential backoff: `delay × 2^(attempt − 1)`, capped, with jitter. */
export interface ExponentialBackoff {
  /** Selects this policy. */
  type: "exponential";
  /**
   * Delay before the first retry, in milliseconds.
   * @default 1000
   */
  delay?: number;
  /**
   * Upper bound of any single delay, in milliseconds.
   * @default 3_600_000 (one hour)
   */
  maxDelay?: number;
  /**
   * Fraction (0 to 1) of each delay that is randomised: the actual delay is
   * uniform in `[d × (1 − jitter), d]`, so a fleet retrying together spreads out.
   * @default 0.5
   */
  jitter?: number;
}

/** The same delay before every retry, optionally with jitter. */
export interface FixedBackoff {
  /** Selects this policy. */
  type: "fixed";
  /** Delay before each retry, in milliseconds. */
  delay: number;
  /**
   * Fraction (0 to 1) of the delay that is randomised, as for exponential.
   * @default 0
   */
  jitter?: number;
}

/** Any backoff policy a task or the runner accepts. */
export type Backoff = ExponentialBackoff | FixedBackoff | BackoffFunction;

/** The default policy: exponential from 1 s, capped at 1 h, 50 % jitter. */
export const DEFAULT_BACKOFF: Readonly<Required<ExponentialBackoff>> = Object.freeze({
  type: "exponential",
  delay: 1_000,
  maxDelay: 3_600_000,
  jitter: 0.5,
});

/**
 * Compute the delay before the next run.
 *
 * @param policy The backoff policy.
 * @param attempt Failed runs so far, including the one that just failed (>= 1).
 * @param error What the failed run threw.
 * @param random Source of randomness in [0, 1) for jitter.
 * @returns Delay in whole milliseconds, >= 0.
 * @throws Whatever a custom {@linkcode BackoffFunction} throws.
 *
 * @example Exponential backoff without jitter
 * ```ts
 * computeBackoff({ type: "exponential", delay: 100, jitter: 0 }, 3, new Error("x")); // 400
 * ```
 */
export function computeBackoff(
  policy: Backoff,
  attempt: number,
  error: unknown,
  random: () => number = Math.random,
): number {
  let delay: number;
  if (typeof policy === "function") {
    delay = policy(attempt, error);
  } else if (policy.type === "fixed") {
    delay = withJitter(policy.delay, policy.jitter ?? 0, random);
  } else {
    const base = policy.delay ?? DEFAULT_BACKOFF.delay;
    const max = policy.maxDelay ?? DEFAULT_BACKOFF.maxDelay;
    const exponent = Math.min(Math.max(attempt - 1, 0), 52);
    delay = withJitter(Math.min(base * 2 ** exponent, max), policy.jitter ?? DEFAULT_BACKOFF.jitter, random);
  }
  if (typeof delay !== "number" || !Number.isFinite(delay) || delay < 0) return 0;
  return Math.round(delay);
}

function withJitter(delay: number, jitter: number, random: () => number): number {
  if (jitter <= 0) return delay;
  return delay * (1 - jitter * random());
}

/**
 * Backoff for the runner's own transport calls (receive, heartbeat, stats):
 * doubles from 100 ms up to `max`, with jitter, so an outage never turns a
 * loop hot.
 *
 * @param failures Consecutive failures so far (>= 1).
 * @param max Cap in milliseconds.
 * @returns Delay in milliseconds.
 */
export function transportBackoff(failures: number, max = 5_000): number {
  const d = Math.min(100 * 2 ** Math.min(Math.max(failures - 1, 0), 20), max);
  return Math.round(d * (0.5 + Math.random() / 2));
}
