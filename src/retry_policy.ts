/**
 * The retry policy: what becomes of a delivery that failed or cannot run.
 * {@linkcode nextStep} decides (retry after a delay, or dead-letter with a
 * reason); `_failures.ts` carries the decision out. Pure: no transport, no
 * clock, no events.
 *
 * @module
 */

import { type Backoff, computeBackoff, DEFAULT_BACKOFF } from "./backoff.ts";
import type { DeadLetterReason, Delivery } from "./queue.ts";
import { isUnrecoverable } from "./_report.ts";

/** The decision for one delivery. */
export type Step =
  /** Run it again after `delay` ms. */
  | { kind: "retry"; delay: number }
  /** Move it to the dead-letter store. */
  | { kind: "dead"; reason: DeadLetterReason };

/** The parts of a delivery the policy reads. */
export type PolicyDelivery = Pick<Delivery, "attempt" | "deliveryCount" | "malformed">;

/** The parts of the runner's options the policy reads. */
export interface PolicyConfig {
  /** Backoff of tasks not registered here. */
  backoff: Backoff;
  /** Retries of a task not registered here before it is dead-lettered. */
  unknownTaskMaxRetry: number;
  /** Deliveries without completing before a task counts as poison. */
  maxDeliveries: number;
}

/** The parts of a task definition the policy reads. */
export interface PolicyTask {
  /** Retries before the task is dead-lettered. */
  maxRetry: number;
  /** Wait before each retry. */
  backoff: Backoff;
}

/**
 * Why a delivery must not run at all, before its task is looked up:
 * `"malformed"` (undecodable entry) or `"poison"` (delivered more than
 * `maxDeliveries` times without completing); null when it may run.
 *
 * @param delivery The delivery.
 * @param maxDeliveries The runner's `maxDeliveries`.
 * @returns The refusal reason, or null.
 */
export function refusal(delivery: PolicyDelivery, maxDeliveries: number): "malformed" | "poison" | null {
  if (delivery.malformed !== undefined) return "malformed";
  if (delivery.deliveryCount > maxDeliveries) return "poison";
  return null;
}

/**
 * Decide what becomes of a delivery: refused before running (malformed,
 * poison), not registered here (`spec` undefined: retried with the runner's
 * backoff up to `unknownTaskMaxRetry`, then unknown-task), or failed with
 * `error` (unrecoverable, out of retries, or retried after its backoff).
 *
 * @param delivery The delivery.
 * @param spec Its task, or undefined when not registered here.
 * @param error What the run threw (ignored for refusals and unknown tasks).
 * @param config The runner's options.
 * @param onBackoffError Called when the task's backoff function throws (the default backoff is used then).
 * @returns The step to carry out.
 */
export function nextStep(
  delivery: PolicyDelivery,
  spec: PolicyTask | undefined,
  error: unknown,
  config: PolicyConfig,
  onBackoffError: (error: unknown) => void = () => {},
): Step {
  const refused = refusal(delivery, config.maxDeliveries);
  if (refused !== null) return { kind: "dead", reason: refused };
  const attempt = delivery.attempt + 1;
  if (spec === undefined) {
    if (delivery.attempt >= config.unknownTaskMaxRetry) return { kind: "dead", reason: "unknown-task" };
    return { kind: "retry", delay: computeBackoff(config.backoff, attempt, error) };
  }
  if (isUnrecoverable(error)) return { kind: "dead", reason: "unrecoverable" };
  if (delivery.attempt >= spec.maxRetry) return { kind: "dead", reason: "max-retries" };
  try {
    return { kind: "retry", delay: computeBackoff(spec.backoff, attempt, error) };
  } catch (backoffError) {
    onBackoffError(backoffError);
    return { kind: "retry", delay: computeBackoff(DEFAULT_BACKOFF, attempt, error) };
  }
}
