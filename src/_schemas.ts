/**
 * The valibot building blocks that option and definition checks are made
 * of, each with the message a user sees ("must be a positive integer"), and
 * the one way a failed check becomes a {@linkcode ConfigError}: "Cannot
 * create runner: 'numWorkers' must be a positive integer, got 0".
 *
 * Messages name what was expected; `toConfigError` adds the option's name
 * and the value given, so every boundary words its errors the same way.
 *
 * @module
 */

import * as v from "valibot";
import { ConfigError, describeValue, type ValidationIssue } from "./errors.ts";
import type { Backoff } from "./backoff.ts";

const POSITIVE_INT = "must be a positive integer";
const NON_NEGATIVE_INT = "must be a non-negative integer";
const POSITIVE_MS = "must be a positive finite number of milliseconds";
const NON_NEGATIVE_MS = "must be a non-negative finite number of milliseconds";
const NAME_MESSAGE = "must be a non-empty string of at most 200 characters";
const FUNCTION_MESSAGE = "must be a function";

/** A check that a value is a number and passes it on typed as one. */
export type NumberSchema = v.GenericSchema<number>;

/**
 * An integer >= 1.
 *
 * @param message What the user is told when the value is not one.
 * @returns The schema.
 */
export function positiveInt(message: string = POSITIVE_INT): NumberSchema {
  return v.pipe(v.number(message), v.integer(message), v.minValue(1, message));
}

/**
 * An integer >= 0.
 *
 * @returns The schema.
 */
export function nonNegativeInt(): NumberSchema {
  return v.pipe(v.number(NON_NEGATIVE_INT), v.integer(NON_NEGATIVE_INT), v.minValue(0, NON_NEGATIVE_INT));
}

/**
 * A finite duration in milliseconds, > 0, or >= `min` when `min` is given
 * (timers below a few ms would only spin).
 *
 * @param min The shortest duration accepted, in ms; 0 means "any positive".
 * @returns The schema.
 */
export function positiveMs(min = 0): NumberSchema {
  const message = min > 0 ? `must be a finite number of milliseconds >= ${min}` : POSITIVE_MS;
  return v.pipe(
    v.number(message),
    v.finite(message),
    min > 0 ? v.minValue(min, message) : v.gtValue(0, message),
  );
}

/**
 * A finite duration in milliseconds, >= 0.
 *
 * @returns The schema.
 */
export function nonNegativeMs(): NumberSchema {
  return v.pipe(v.number(NON_NEGATIVE_MS), v.finite(NON_NEGATIVE_MS), v.minValue(0, NON_NEGATIVE_MS));
}

/**
 * Any function (its signature is the caller's promise; it cannot be checked).
 *
 * @param message What the user is told when the value is not one.
 * @returns The schema.
 */
export function fn(message: string = FUNCTION_MESSAGE): v.FunctionSchema<string> {
  return v.function(message);
}

/** A name: 1 to 200 characters. */
export const nonEmptyString: v.GenericSchema<string> = v.pipe(
  v.string(NAME_MESSAGE),
  v.minLength(1, NAME_MESSAGE),
  v.maxLength(200, NAME_MESSAGE),
);

/**
 * An object whose members `keys` are all functions: a check of an injected
 * interface (a logger, a clock) by its shape.
 *
 * @param keys The members that must be functions.
 * @param message What the user is told when the value does not fit.
 * @returns The schema.
 */
export function withMethods<T>(keys: readonly string[], message: string): v.GenericSchema<T> {
  return v.custom<T>(
    (x) =>
      typeof x === "object" && x !== null &&
      keys.every((k) => typeof (x as Record<string, unknown>)[k] === "function"),
    message,
  );
}

function isBackoff(value: unknown): boolean {
  if (typeof value === "function") return true;
  if (typeof value !== "object" || value === null) return false;
  const b = value as Record<string, unknown>;
  const okMs = (x: unknown, required: boolean) =>
    x === undefined ? !required : typeof x === "number" && Number.isFinite(x) && x >= 0;
  const okJitter = (x: unknown) => x === undefined || (typeof x === "number" && x >= 0 && x <= 1);
  for (const key of Object.keys(b)) {
    if (!["type", "delay", "maxDelay", "jitter"].includes(key)) return false;
  }
  if (b.type === "exponential") return okMs(b.delay, false) && okMs(b.maxDelay, false) && okJitter(b.jitter);
  if (b.type === "fixed") return okMs(b.delay, true) && b.maxDelay === undefined && okJitter(b.jitter);
  return false;
}
const BACKOFF_MESSAGE =
  "must be a function (attempt, error) => ms, { type: \"exponential\", delay?, maxDelay?, jitter? } or { type: \"fixed\", delay, jitter? } (delays >= 0 ms, jitter 0 to 1)";

/** A {@linkcode Backoff}: a function, or an exponential or fixed policy with delays >= 0 ms and jitter 0 to 1. */
export const backoffSchema: v.GenericSchema<Backoff> = v.custom<Backoff>(isBackoff, BACKOFF_MESSAGE);

/**
 * Turn valibot's issues into the {@linkcode ConfigError} a user sees: its
 * message is the first issue, prefixed by what was being done.
 *
 * @param prefix What failed, e.g. "Cannot create runner".
 * @param issues The issues of a failed `safeParse`.
 * @param kind What the object's keys are called in messages ("unknown option 'x'").
 * @returns The error to throw, carrying every issue with its dotted path.
 */
export function toConfigError(
  prefix: string,
  issues: readonly v.BaseIssue<unknown>[],
  kind: "option" | "field",
): ConfigError {
  const mapped: ValidationIssue[] = issues.map((issue) => {
    const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
    if (issue.type === "strict_object") {
      return { path, message: `unknown ${kind} '${path}'` };
    }
    return { path, message: `'${path}' ${issue.message}, got ${describeValue(issue.input)}` };
  });
  const first = mapped[0];
  const message = first ? first.message : "invalid value";
  return new ConfigError(`${prefix}: ${message}`, mapped);
}
