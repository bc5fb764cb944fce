/**
 * A task definition from type to resolved form: what `registerTask` takes,
 * its schema and defaults (`parseTaskDefinition`), the resolved task the
 * engine runs, the context an action receives, typed dispatch handles, and
 * turning a dispatch into a task for the transport (`prepareTask`, with
 * Standard Schema payload validation).
 *
 * @module
 */

import * as v from "valibot";
import { encodePayload } from "./codec.ts";
import {
  ConfigError,
  describeValue,
  type DuplicateTaskError,
  PayloadValidationError,
  ValidationError,
  type ValidationIssue,
} from "./errors.ts";
import type { Backoff } from "./backoff.ts";
import { backoffSchema, fn, nonNegativeInt, nonNegativeMs, positiveMs, toConfigError } from "./_schemas.ts";
import type { DeadLetterReason, FailureRecord, NewTask } from "./queue.ts";
import type { StandardSchemaV1 } from "./schema.ts";

/** Extra time-to-live of a unique lock beyond the dispatch delay, in ms (crash backstop). */
const UNIQUE_BACKSTOP = 86_400_000;
/** Longest unique key accepted from `uniqueKey`, in characters. */
const MAX_UNIQUE_KEY_LENGTH = 1_000;
/** The Web Crypto object, looked up once (on Node `globalThis.crypto` is a getter). */
const webCrypto: Crypto = globalThis.crypto;

/** What a task's action receives besides its payload. */
export interface TaskContext {
  /** Task id, stable across retries (the id `dispatch` returned). */
  readonly id: string;
  /** Task name. */
  readonly name: string;
  /**
   * Failed runs before this one, 0-based: 0 on the first run, 1 on the first
   * retry. A run interrupted by a crash does not count (it is redelivered
   * with the same attempt).
   */
  readonly attempt: number;
  /**
   * Aborted when the task's `timeout` passes (reason `TaskTimeoutError`),
   * when this runner loses the reservation (`ReservationLostError`), and when
   * shutdown's grace period ends (`ShutdownError`).
   */
  readonly signal: AbortSignal;
  /**
   * Extend this task's reservation now (runs are heartbeated automatically
   * every `reservationTimeout / 3`; call this before a long synchronous stretch).
   * @throws {ReservationLostError} When another runner owns the task now.
   */
  heartbeat(): Promise<void>;
}

/** A task's action: do the work; throw (anything) to fail the run. */
export type TaskAction<P> = (payload: P, ctx: TaskContext) => unknown;

/**
 * What `registerTask` takes. `P` is the payload the action receives; with a
 * `schema` it is the schema's output type. All durations are milliseconds.
 */
export interface TaskDefinition<P> {
  /** Unique name; 1 to 200 of letters, digits and `_ . : / @ -`. */
  name: string;
  /** The work. Throw to fail the run; `UnrecoverableError` skips retries. */
  action: TaskAction<P>;
  /**
   * Retries after the first run: `maxRetry: N` allows N + 1 runs; 0 means a
   * failed run goes straight to the dead-letter store.
   * @default the runner's `maxRetry` (3)
   */
  maxRetry?: number;
  /**
   * How long a delivery may go without a heartbeat before another runner may
   * reclaim it, in ms (>= 10). Running tasks are heartbeated every third of it.
   * @default the runner's `reservationTimeout` (30_000)
   */
  reservationTimeout?: number;
  /**
   * Refuse a dispatch while an identical task (same `uniqueKey`) is queued or
   * running, and until `uniqueFor` has passed since the last accepted one.
   * @default false
   */
  unique?: boolean;
  /**
   * The identity of a payload for `unique` (requires `unique: true`).
   * @default every task of this name is identical
   */
  uniqueKey?: (payload: P) => string;
  /**
   * Minimum time a unique lock is held after dispatch, in ms, even if the
   * task completes sooner (requires `unique: true`). 0: released on completion.
   * @default 0
   */
  uniqueFor?: number;
  /**
   * Longest run, in ms: then `ctx.signal` aborts, the worker slot is freed
   * even if the action never settles, and the run counts as failed.
   * @default none
   */
  timeout?: number;
  /** Wait before each retry. @default the runner's `backoff` */
  backoff?: Backoff;
  /**
   * A Standard Schema (valibot, zod, arktype) for the payload, checked at
   * dispatch and again before the action runs. The action receives the
   * schema's output; dispatch takes its input and stores the input as given.
   */
  schema?: StandardSchemaV1<unknown, P>;
}

/** When a dispatched task becomes ready. Give at most one of the two. */
export interface DispatchOptions {
  /** Run no sooner than this many ms from now. @default 0 */
  delay?: number;
  /** Run no sooner than this instant (epoch ms or a `Date`). */
  at?: number | Date;
}

/** One item of a bulk dispatch. */
export interface BulkDispatchItem<P = unknown> {
  /** Registered task name. */
  name: string;
  /** The payload. */
  payload: P;
  /** Delay or due time. */
  options?: DispatchOptions;
}

/**
 * Per-item outcome of a bulk dispatch: the task id, or the duplicate that
 * kept it out. Other problems (unknown name, invalid payload) reject the
 * whole call before anything is added.
 */
export type DispatchResult =
  | { readonly ok: true; readonly id: string }
  | { readonly ok: false; readonly error: DuplicateTaskError };

/** A registered task: its name and typed dispatch functions. */
export interface TaskHandle<P> {
  /** The task name. */
  readonly name: string;
  /**
   * Add one task.
   * @param payload The payload (checked against the schema when there is one).
   * @param options Delay or due time.
   * @returns The task id.
   * @throws {PayloadValidationError} The payload fails its schema or is not JSON-encodable.
   * @throws {DuplicateTaskError} A unique task with the same key is queued, running or within `uniqueFor`.
   */
  dispatch(payload: P, options?: DispatchOptions): Promise<string>;
  /**
   * Add many tasks of this name in one transport call.
   * @param items Payloads and options.
   * @returns Per-item results, in input order.
   * @throws {PayloadValidationError} Any payload is invalid (nothing is added).
   */
  dispatchBulk(items: readonly { payload: P; options?: DispatchOptions }[]): Promise<DispatchResult[]>;
}

/** A task that went to the dead-letter store, as given to `failedTaskHandler`. */
export interface FailedTask {
  /** Task id. */
  id: string;
  /** Task name. */
  name: string;
  /** The decoded payload, or undefined when it could not be decoded. */
  payload: unknown;
  /** The encoded payload as stored. */
  body: string;
  /** Failed runs counted, including the last one. */
  attempt: number;
  /** Why it was dead-lettered. */
  reason: DeadLetterReason;
  /** The last error as recorded in the dead-letter store. */
  failure: FailureRecord;
}

/**
 * Called once per dead-lettered task with the last real error: whatever
 * the action threw (which may be a non-Error such as `42`), or a
 * `TaskRunnerError` describing why the task could not run. When the call is
 * taken over from a runner that died after dead-lettering the task, the
 * error is an `Error` rebuilt from the recorded `failure` (name, message,
 * stack).
 */
export type FailedTaskHandler = (task: FailedTask, error: unknown) => void | Promise<void>;

/** Characters allowed in task names (they become part of storage keys). */
export const TASK_NAME_PATTERN: RegExp = /^[A-Za-z0-9_.:/@-]{1,200}$/;

const TASK_NAME_MESSAGE = "must be 1 to 200 characters among letters, digits and _ . : / @ -";
const STANDARD_SCHEMA_MESSAGE = "must be a Standard Schema (valibot, zod, arktype, ...)";

const taskDefinitionSchema = v.strictObject({
  name: v.pipe(v.string(TASK_NAME_MESSAGE), v.regex(TASK_NAME_PATTERN, TASK_NAME_MESSAGE)),
  action: fn(),
  maxRetry: v.optional(nonNegativeInt()),
  reservationTimeout: v.optional(positiveMs(10)),
  unique: v.optional(v.boolean("must be a boolean")),
  uniqueKey: v.optional(fn()),
  uniqueFor: v.optional(nonNegativeMs()),
  timeout: v.optional(positiveMs()),
  backoff: v.optional(backoffSchema),
  schema: v.optional(
    v.custom<StandardSchemaV1>(
      (x) =>
        (typeof x === "object" || typeof x === "function") && x !== null &&
        typeof (x as { "~standard"?: { validate?: unknown } })["~standard"]?.validate === "function",
      STANDARD_SCHEMA_MESSAGE,
    ),
  ),
});

/**
 * The runner-wide values a task definition falls back to for the fields it
 * leaves out (the runner's `maxRetry`, `reservationTimeout` and `backoff`).
 */
export interface TaskDefaults {
  /** Retries after the first run. */
  maxRetry: number;
  /** Reservation timeout, in ms. */
  reservationTimeout: number;
  /** Wait before each retry. */
  backoff: Backoff;
}

/** A task definition with every default applied (internal to the runner). */
export interface ResolvedTask {
  name: string;
  // deno-lint-ignore no-explicit-any
  action: (payload: any, ctx: any) => unknown;
  maxRetry: number;
  reservationTimeout: number;
  unique: boolean;
  uniqueKey: ((payload: never) => string) | undefined;
  uniqueFor: number;
  timeout: number | undefined;
  backoff: Backoff;
  schema: StandardSchemaV1 | undefined;
}

/**
 * Check a task definition and apply the defaults.
 *
 * `unique` without `uniqueFor` is allowed: the lock is then held while the
 * task is queued or running and released when it completes or is
 * dead-lettered. `uniqueKey` and `uniqueFor` without `unique: true` are
 * refused, since they would silently do nothing.
 *
 * @param definition The definition given to `registerTask`.
 * @param defaults The values of fields the definition leaves out (the runner's).
 * @returns The resolved definition.
 * @throws {ConfigError} Naming the task, the field and the value given.
 */
export function parseTaskDefinition(definition: TaskDefinition<never>, defaults: TaskDefaults): ResolvedTask {
  if (typeof definition !== "object" || definition === null) {
    throw new ConfigError(`Cannot register task: definition must be an object, got ${describeValue(definition)}`, []);
  }
  const label = typeof definition.name === "string" ? `'${definition.name}'` : describeValue(definition.name);
  const result = v.safeParse(taskDefinitionSchema, definition);
  if (!result.success) throw toConfigError(`Cannot register task ${label}`, result.issues, "field");
  const d = result.output;
  if (!d.unique && (d.uniqueKey !== undefined || d.uniqueFor !== undefined)) {
    const field = d.uniqueKey !== undefined ? "uniqueKey" : "uniqueFor";
    throw new ConfigError(`Cannot register task ${label}: '${field}' requires 'unique: true'`, [
      { path: field, message: "requires 'unique: true'" },
    ]);
  }
  return {
    name: d.name,
    action: d.action as ResolvedTask["action"],
    maxRetry: d.maxRetry ?? defaults.maxRetry,
    reservationTimeout: d.reservationTimeout ?? defaults.reservationTimeout,
    unique: d.unique ?? false,
    uniqueKey: d.uniqueKey as ((payload: never) => string) | undefined,
    uniqueFor: d.uniqueFor ?? 0,
    timeout: d.timeout,
    backoff: d.backoff ?? defaults.backoff,
    schema: d.schema,
  };
}

/** Outcome of {@linkcode validateWithSchema}. */
export type SchemaCheck = { ok: true; value: unknown } | { ok: false; issues: ValidationIssue[] };

/**
 * Validate a value against a Standard Schema.
 *
 * @param schema The schema.
 * @param value The value to check.
 * @returns The schema's output, or its issues with dotted paths.
 */
export async function validateWithSchema(schema: StandardSchemaV1, value: unknown): Promise<SchemaCheck> {
  let result = schema["~standard"].validate(value);
  if (result instanceof Promise) result = await result;
  return schemaCheck(result);
}

/**
 * {@linkcode validateWithSchema} without a promise when the schema answers
 * synchronously (most do): the check itself, or a promise of it.
 */
function validateSyncOrAsync(schema: StandardSchemaV1, value: unknown): SchemaCheck | Promise<SchemaCheck> {
  const result = schema["~standard"].validate(value);
  if (result instanceof Promise) return result.then(schemaCheck);
  return schemaCheck(result);
}

function schemaCheck(result: StandardSchemaV1.Result<unknown>): SchemaCheck {
  if (result.issues) {
    return {
      ok: false,
      issues: result.issues.map((issue) => ({
        message: issue.message,
        path: (issue.path ?? [])
          .map((p) => String(typeof p === "object" && p !== null ? p.key : p))
          .join("."),
      })),
    };
  }
  return { ok: true, value: result.value };
}

/** A dispatch ready for the transport. */
export interface PreparedTask {
  /** The task to add. */
  task: NewTask;
  /** The key `uniqueKey` returned ("" without one); undefined for non-unique tasks. */
  uniqueKey: string | undefined;
}

/**
 * Turn a dispatch into a task for the transport: check the payload against
 * the schema, encode it, resolve the delay, and build the unique lock.
 *
 * Synchronous unless the task's schema validates asynchronously: a task
 * without a schema (or with a synchronous one) is prepared without a promise,
 * and its errors are thrown; with an asynchronous schema the result is a
 * promise and its errors are rejections.
 *
 * @param spec The registered task.
 * @param payload The payload given to dispatch.
 * @param options Delay or due time.
 * @param now The runner clock's time, epoch ms.
 * @param maxPayloadBytes Size limit of the encoded payload, UTF-8 bytes.
 * @returns The task to add and the user-level unique key (if unique).
 * @throws {PayloadValidationError} Schema failure, unencodable value or oversize body.
 * @throws {ValidationError} Invalid options or a bad `uniqueKey` result.
 */
export function prepareTask(
  spec: ResolvedTask,
  payload: unknown,
  options: DispatchOptions | undefined,
  now: number,
  maxPayloadBytes: number,
): PreparedTask | Promise<PreparedTask> {
  if (spec.schema === undefined) return buildTask(spec, payload, payload, options, now, maxPayloadBytes);
  const checked = validateSyncOrAsync(spec.schema, payload);
  if (checked instanceof Promise) {
    return checked.then((c) => buildChecked(spec, payload, c, options, now, maxPayloadBytes));
  }
  return buildChecked(spec, payload, checked, options, now, maxPayloadBytes);
}

function buildChecked(
  spec: ResolvedTask,
  payload: unknown,
  checked: SchemaCheck,
  options: DispatchOptions | undefined,
  now: number,
  maxPayloadBytes: number,
): PreparedTask {
  if (!checked.ok) throw new PayloadValidationError(spec.name, checked.issues);
  return buildTask(spec, payload, checked.value, options, now, maxPayloadBytes);
}

/** The transport task of a dispatch whose payload passed the schema (`value`: the schema's output). */
function buildTask(
  spec: ResolvedTask,
  payload: unknown,
  value: unknown,
  options: DispatchOptions | undefined,
  now: number,
  maxPayloadBytes: number,
): PreparedTask {
  const encoded = encodePayload(payload, maxPayloadBytes);
  if (!encoded.ok) throw new PayloadValidationError(spec.name, encoded.issues);
  const delay = delayOf(spec.name, options, now);
  const task: NewTask = {
    id: webCrypto.randomUUID(),
    name: spec.name,
    body: encoded.body,
    attempt: 0,
    reservationTimeout: spec.reservationTimeout,
    dispatchedAt: now,
  };
  if (delay > 0) task.delay = delay;
  let uniqueKey: string | undefined;
  if (spec.unique) {
    if (spec.uniqueKey !== undefined) {
      const key: unknown = (spec.uniqueKey as (p: unknown) => unknown)(value);
      if (typeof key !== "string" || key.length > MAX_UNIQUE_KEY_LENGTH) {
        throw new ValidationError(
          `Cannot dispatch '${spec.name}': uniqueKey must return a string of at most ${MAX_UNIQUE_KEY_LENGTH} characters, got ${
            describeValue(key)
          }`,
          [{ path: "uniqueKey", message: "must return a string" }],
        );
      }
      uniqueKey = key;
    } else {
      uniqueKey = "";
    }
    task.unique = {
      // Task names cannot contain "|", so name and key never run together ambiguously.
      key: spec.uniqueKey !== undefined ? `${spec.name}|${uniqueKey}` : spec.name,
      token: webCrypto.randomUUID(),
      holdFor: spec.uniqueFor,
      ttl: Math.max(spec.uniqueFor, delay + UNIQUE_BACKSTOP),
    };
  }
  return { task, uniqueKey };
}

function delayOf(name: string, options: DispatchOptions | undefined, now: number): number {
  if (options === undefined) return 0;
  if (typeof options !== "object" || options === null) {
    throw new ValidationError(`Cannot dispatch '${name}': options must be an object, got ${describeValue(options)}`, []);
  }
  const { delay, at } = options;
  if (delay !== undefined && at !== undefined) {
    throw new ValidationError(`Cannot dispatch '${name}': give 'delay' or 'at', not both`, [
      { path: "delay", message: "conflicts with 'at'" },
    ]);
  }
  if (delay !== undefined) {
    if (typeof delay !== "number" || !Number.isFinite(delay) || delay < 0) {
      throw new ValidationError(
        `Cannot dispatch '${name}': 'delay' must be a non-negative finite number of milliseconds, got ${
          describeValue(delay)
        }`,
        [{ path: "delay", message: "must be a non-negative finite number of milliseconds" }],
      );
    }
    return delay;
  }
  if (at !== undefined) {
    const ms = at instanceof Date ? at.getTime() : at;
    if (typeof ms !== "number" || !Number.isFinite(ms)) {
      throw new ValidationError(
        `Cannot dispatch '${name}': 'at' must be a valid Date or epoch milliseconds, got ${describeValue(at)}`,
        [{ path: "at", message: "must be a valid Date or epoch milliseconds" }],
      );
    }
    return Math.max(0, ms - now);
  }
  return 0;
}
