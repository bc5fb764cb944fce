/**
 * The errors a caller can act on. Each sets `name`, keeps `cause`, and says
 * what was wrong and what was given.
 *
 * @module
 */

/** Base class of every error thrown by the library. */
export class TaskRunnerError extends Error {
  /** @param message What went wrong. @param options Standard `cause`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TaskRunnerError";
  }
}

/** One problem found by validation: a message and where. */
export interface ValidationIssue {
  message: string;
  /** Dotted path of the offending value ("" for the root). */
  path: string;
}

/** A config value or a payload failed validation. Carries the issues. */
export class ValidationError extends TaskRunnerError {
  /** The individual problems. */
  readonly issues: readonly ValidationIssue[];
  /** @param message Summary. @param issues Each problem. */
  constructor(message: string, issues: readonly ValidationIssue[], options?: ErrorOptions) {
    super(message, options);
    this.name = "ValidationError";
    this.issues = issues;
  }
}

/** A config option was given an invalid value. */
export class ConfigError extends ValidationError {
  /** @param message Names the option and the value given. */
  constructor(message: string, issues: readonly ValidationIssue[], options?: ErrorOptions) {
    super(message, issues, options);
    this.name = "ConfigError";
  }
}

/** A payload failed its task's schema (at dispatch or at execution). */
export class PayloadValidationError extends ValidationError {
  /** Task whose schema rejected the payload. */
  readonly taskName: string;
  /** @param taskName The task. @param issues What the schema reported. */
  constructor(taskName: string, issues: readonly ValidationIssue[], options?: ErrorOptions) {
    super(
      `Invalid payload for task '${taskName}': ${
        issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")
      }`,
      issues,
      options,
    );
    this.name = "PayloadValidationError";
    this.taskName = taskName;
  }
}

/** No task of this name is registered. */
export class UnknownTaskError extends TaskRunnerError {
  /** The name that was asked for. */
  readonly taskName: string;
  /** @param taskName The unregistered name. */
  constructor(taskName: string) {
    super(`Unknown task '${taskName}': register it with registerTask() first`);
    this.name = "UnknownTaskError";
    this.taskName = taskName;
  }
}

/** A unique task is already queued or running (or inside `uniqueFor`). */
export class DuplicateTaskError extends TaskRunnerError {
  /** The task name. */
  readonly taskName: string;
  /** The unique key that collided. */
  readonly uniqueKey: string;
  /** Id of the task holding the lock, when known. */
  readonly existingId: string | null;
  /** @param taskName Task. @param uniqueKey Key. @param existingId Holder. */
  constructor(taskName: string, uniqueKey: string, existingId: string | null) {
    super(
      `Task '${taskName}' with unique key '${uniqueKey}' is already dispatched` +
        (existingId ? ` (task ${existingId})` : ""),
    );
    this.name = "DuplicateTaskError";
    this.taskName = taskName;
    this.uniqueKey = uniqueKey;
    this.existingId = existingId;
  }
}

/**
 * Throw from a task action to fail the task at once, skipping any retries
 * left; it goes to the dead-letter store with this error.
 */
export class UnrecoverableError extends TaskRunnerError {
  /** @param message Why the task cannot succeed. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnrecoverableError";
  }
}

/** A task ran longer than its `timeout`; its signal was aborted. */
export class TaskTimeoutError extends TaskRunnerError {
  /** @param taskName Task. @param timeout The limit in milliseconds. */
  constructor(taskName: string, timeout: number) {
    super(`Task '${taskName}' timed out after ${timeout} ms`);
    this.name = "TaskTimeoutError";
  }
}

/** The worker lost its reservation (another consumer reclaimed the task). */
export class ReservationLostError extends TaskRunnerError {
  /** @param taskId The task whose reservation was lost. */
  constructor(taskId: string) {
    super(`Reservation of task ${taskId} was lost; another worker owns it now`);
    this.name = "ReservationLostError";
  }
}

/** The runner is stopping; the task will be redelivered. */
export class ShutdownError extends TaskRunnerError {
  constructor() {
    super("Runner is shutting down");
    this.name = "ShutdownError";
  }
}

/** The runner was asked to do something its state does not allow. */
export class RunnerStateError extends TaskRunnerError {
  /** @param message What was asked and the current state. */
  constructor(message: string) {
    super(message);
    this.name = "RunnerStateError";
  }
}

/** The transport failed (connection lost, server error). */
export class TransportError extends TaskRunnerError {
  /** @param message What failed. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TransportError";
  }
}

/**
 * Turn any thrown value (`throw 42`, `throw undefined`, an Error) into a
 * record that keeps what was thrown.
 */
export function toFailure(thrown: unknown): { name: string; message: string; stack?: string } {
  if (thrown instanceof Error) {
    const out: { name: string; message: string; stack?: string } = {
      name: thrown.name || "Error",
      message: thrown.message,
    };
    if (thrown.stack) out.stack = thrown.stack;
    return out;
  }
  let message: string;
  try {
    message = typeof thrown === "string" ? thrown : thrown === undefined ? "undefined" : JSON.stringify(thrown) ?? String(thrown);
  } catch {
    message = String(thrown);
  }
  return { name: "NonErrorThrown", message: `non-Error value thrown: ${message}` };
}

/**
 * Describe a value for an error message: numbers and strings literally,
 * other things by kind, so a message says what was given without dumping
 * a large or hostile value.
 *
 * @param value Anything.
 * @returns A short description such as `0`, `"ten"`, `NaN` or `a function`.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "bigint":
      return `${value}n`;
    case "string": {
      const s = JSON.stringify(value);
      return s.length > 60 ? `${s.slice(0, 57)}..."` : s;
    }
    case "function":
      return "a function";
    case "undefined":
      return "undefined";
    case "symbol":
    case "boolean":
      return String(value);
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  try {
    const s = JSON.stringify(value);
    if (s !== undefined && s.length <= 60) return s;
  } catch {
    // fall through
  }
  return "an object";
}

/**
 * Bound a text (a thrown message, a stack) so that recording or showing it
 * stays cheap; a clipped text says how long it was.
 *
 * @param text The text.
 * @param max Most characters returned (keep it well above 40, the note's size).
 * @returns `text` itself when short enough, else its start and a truncation note.
 */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 40)}... (${text.length} characters, truncated)`;
}
