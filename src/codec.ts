/**
 * The payload codec: JSON text with a size limit.
 *
 * Payloads travel as JSON so every runtime and every transport can read them
 * and nothing executable is ever deserialised. Values JSON cannot represent
 * faithfully are refused at dispatch instead of being silently changed:
 * `BigInt`, functions, symbols, cyclic structures, `undefined` (at the top
 * level or as an array element), `NaN`/`Infinity`, `Map`, `Set`, `WeakMap`,
 * `WeakSet` and `Promise`. Object properties whose value is `undefined` are
 * omitted, as `JSON.stringify` does, and values with a `toJSON` method (such
 * as `Date`) are encoded through it.
 *
 * @module
 */

import type { ValidationIssue } from "./errors.ts";

/** Default maximum size of an encoded payload: 1 MiB (in UTF-8 bytes). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576;

/** Result of {@linkcode encodePayload}. */
export type EncodeResult =
  | { ok: true; body: string }
  | { ok: false; issues: ValidationIssue[] };

/** Result of {@linkcode decodePayload}. */
export type DecodeResult =
  | { ok: true; value: unknown }
  | { ok: false; issues: ValidationIssue[] };

/**
 * Encode a payload as JSON text, refusing values JSON would drop or change
 * and bodies larger than `maxBytes`.
 *
 * @param value The payload.
 * @param maxBytes Size limit of the encoded text, in UTF-8 bytes.
 * @returns The JSON text, or the problems found (never throws).
 *
 * @example Encode a payload
 * ```ts
 * const r = encodePayload({ to: "ada@example.com" }, 1024);
 * if (r.ok) console.log(r.body); // {"to":"ada@example.com"}
 * ```
 */
export function encodePayload(value: unknown, maxBytes: number): EncodeResult {
  // Most payloads are plain data: a quick scan clears them without building
  // paths; anything it cannot clear goes through the full check, which
  // finds and describes the problems.
  if (!isPlainData(value, 0, false)) {
    const issues: ValidationIssue[] = [];
    if (value !== null && typeof value === "object") {
      checkObject(value, "", issues, []);
    } else {
      checkPrimitive(value, "", issues, false);
    }
    if (issues.length > 0) return { ok: false, issues };
  }
  let body: string;
  try {
    body = JSON.stringify(value);
  } catch (error) {
    // A toJSON method that throws or returns something unencodable.
    return {
      ok: false,
      issues: [{ path: "", message: `cannot be encoded as JSON: ${String((error as Error)?.message ?? error)}` }],
    };
  }
  const size = byteLength(body, maxBytes);
  if (size > maxBytes) {
    return {
      ok: false,
      issues: [{ path: "", message: `encoded payload is ${size} bytes, over the limit of ${maxBytes} bytes` }],
    };
  }
  return { ok: true, body };
}

/**
 * Decode a payload body written by {@linkcode encodePayload}, refusing
 * bodies over `maxBytes` without parsing them.
 *
 * @param body JSON text.
 * @param maxBytes Size limit, in UTF-8 bytes.
 * @returns The value, or the problems found (never throws).
 */
export function decodePayload(body: string, maxBytes: number): DecodeResult {
  if (typeof body !== "string") {
    return { ok: false, issues: [{ path: "", message: "payload body is not a string" }] };
  }
  const size = byteLength(body, maxBytes);
  if (size > maxBytes) {
    return {
      ok: false,
      issues: [{ path: "", message: `payload is ${size} bytes, over the limit of ${maxBytes} bytes` }],
    };
  }
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (error) {
    return { ok: false, issues: [{ path: "", message: `payload is not valid JSON: ${(error as Error).message}` }] };
  }
}

/**
 * UTF-8 length of `text`, computed exactly only when the cheap bounds
 * (1 to 3 bytes per UTF-16 unit) cannot decide against `limit`.
 */
function byteLength(text: string, limit: number): number {
  // At most 3 bytes per UTF-16 unit: short texts are surely within the limit.
  if (text.length * 3 <= limit) return text.length;
  return utf8Length(text);
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Nesting depth past which the quick scan leaves a value to the full check (which detects cycles). */
const PLAIN_SCAN_DEPTH = 32;

/**
 * True when `value` surely passes the full check: strings, booleans, finite
 * numbers, null, and plain objects and arrays (prototype `Object.prototype`,
 * `null` or `Array.prototype`, no `toJSON`) of such values, no deeper than
 * {@linkcode PLAIN_SCAN_DEPTH}. False means "not sure", never "invalid".
 */
function isPlainData(value: unknown, depth: number, inObject: boolean): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "undefined":
      return inObject;
    case "object":
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= PLAIN_SCAN_DEPTH) return false;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) return false;
    const array = value as unknown[];
    for (let i = 0; i < array.length; i++) {
      if (!isPlainData(array[i], depth + 1, false)) return false;
    }
    return true;
  }
  if (proto !== Object.prototype && proto !== null) return false;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (!Object.prototype.hasOwnProperty.call(record, key)) continue;
    if (!isPlainData(record[key], depth + 1, true)) return false;
  }
  return true;
}

function join(path: string, key: string | number): string {
  return path === "" ? String(key) : `${path}.${key}`;
}

function checkPrimitive(value: unknown, path: string, issues: ValidationIssue[], inObject: boolean): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) {
        issues.push({ path, message: `${value} is not representable in JSON (it would become null)` });
      }
      return;
    case "bigint":
      issues.push({ path, message: "BigInt cannot be encoded as JSON (convert it to a string)" });
      return;
    case "function":
      issues.push({ path, message: "a function cannot be encoded as JSON" });
      return;
    case "symbol":
      issues.push({ path, message: "a symbol cannot be encoded as JSON" });
      return;
    case "undefined":
      if (!inObject) issues.push({ path, message: "undefined cannot be encoded as JSON" });
      return;
  }
}

function checkObject(value: object, path: string, issues: ValidationIssue[], stack: object[]): void {
  if (stack.includes(value)) {
    issues.push({ path, message: "cyclic structure cannot be encoded as JSON" });
    return;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return;
  if (
    value instanceof Map || value instanceof Set || value instanceof WeakMap || value instanceof WeakSet ||
    value instanceof Promise
  ) {
    issues.push({ path, message: `${value.constructor.name} cannot be encoded as JSON (it would become {})` });
    return;
  }
  stack.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item !== null && typeof item === "object") checkObject(item, join(path, i), issues, stack);
      else checkPrimitive(item, join(path, i), issues, false);
    }
  } else {
    for (const key in value) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
      const item: unknown = (value as Record<string, unknown>)[key];
      if (item !== null && typeof item === "object") checkObject(item, join(path, key), issues, stack);
      else checkPrimitive(item, join(path, key), issues, true);
    }
  }
  stack.pop();
}
