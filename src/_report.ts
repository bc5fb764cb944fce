/**
 * Where a runner's events and errors go: its event emitter, and the one way
 * a failure is logged and reported as an `error` event (transport calls,
 * internal errors, user code that threw).
 *
 * @module
 */

import { clip, TaskRunnerError, toFailure, TransportError, UnrecoverableError } from "./errors.ts";
import { Emitter, type RunnerEvents } from "./events.ts";
import type { LogFields, Logger } from "./logger.ts";
import type { FailureRecord } from "./queue.ts";

/** Logs failures and emits them as `error` events; owns the runner's emitter. */
export class Reporter {
  /** The runner's event emitter; a listener that throws is reported here. */
  readonly emitter: Emitter<RunnerEvents>;
  #logger: Logger;

  /**
   * Create a reporter with an emitter that has no listeners.
   *
   * @param logger The runner's logger.
   */
  constructor(logger: Logger) {
    this.#logger = logger;
    this.emitter = new Emitter<RunnerEvents>((error, event) => {
      const message = `A '${String(event)}' listener threw`;
      // An `error` listener that throws is logged only: reporting it would emit again.
      this.threw(message, {}, error, event === "error" ? null : message);
    });
  }

  /**
   * Report a failed transport call, wrapped in a {@linkcode TransportError}
   * unless it already is one.
   *
   * @param operation The `MessageQueue` method that failed.
   * @param error What it threw.
   */
  transport(operation: string, error: unknown): void {
    this.report(asTransportError(operation, error));
  }

  /**
   * Log an error (with its cause's record) and emit it as an `error` event.
   *
   * @param error The error to report.
   */
  report(error: Error): void {
    this.#logger.error(error.message, { error: failureOf(error.cause ?? error) });
    this.emitError(error);
  }

  /**
   * User code (a listener, a hook, a handler) threw: log it, then emit a
   * {@linkcode TaskRunnerError} caused by it.
   *
   * @param logMessage The log line.
   * @param fields Fields logged before the error's record.
   * @param thrown What the user code threw.
   * @param errorMessage Message of the emitted error; null to only log.
   */
  threw(logMessage: string, fields: LogFields, thrown: unknown, errorMessage: string | null): void {
    this.#logger.error(logMessage, { ...fields, error: failureOf(thrown) });
    if (errorMessage !== null) this.emitError(new TaskRunnerError(errorMessage, { cause: thrown }));
  }

  /**
   * Emit an `error` event if anyone listens.
   *
   * @param error The error.
   */
  emitError(error: Error): void {
    if (this.emitter.has("error")) this.emitter.emit("error", error);
  }
}

/**
 * What a failed transport call threw, as a {@linkcode TransportError} (kept
 * as is when it already is one; the original stays as `cause`).
 *
 * @param operation The `MessageQueue` method that failed.
 * @param error What it threw.
 * @returns The error to report or throw.
 */
export function asTransportError(operation: string, error: unknown): TransportError {
  return error instanceof TransportError
    ? error
    : new TransportError(`Transport call '${operation}' failed: ${failureOf(error).message}`, { cause: error });
}

/** Longest error message or stack kept in a dead letter, in characters. */
const MAX_FAILURE_TEXT = 8_192;

/**
 * `toFailure`, made safe for hostile values (a revoked Proxy throws on any
 * inspection) and bounded in size, so recording a failure can never fail.
 *
 * @param thrown Any thrown value.
 * @returns Its failure record, name and texts clipped.
 */
export function failureOf(thrown: unknown): FailureRecord {
  let record: FailureRecord;
  try {
    record = toFailure(thrown);
  } catch {
    record = { name: "NonErrorThrown", message: "non-Error value thrown: (uninspectable value)" };
  }
  const name = typeof record.name === "string" ? record.name : "Error";
  const out: FailureRecord = { name: clip(name, 200), message: clip(String(record.message), MAX_FAILURE_TEXT) };
  if (typeof record.stack === "string") out.stack = clip(record.stack, MAX_FAILURE_TEXT);
  return out;
}

/**
 * Whether a thrown value is an {@linkcode UnrecoverableError}, safe for
 * hostile values.
 *
 * @param error Any thrown value.
 * @returns True for an `UnrecoverableError`.
 */
export function isUnrecoverable(error: unknown): boolean {
  try {
    return error instanceof UnrecoverableError;
  } catch {
    return false;
  }
}
