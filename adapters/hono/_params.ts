/**
 * Validation of the monitor's request parameters and options. Every value
 * that reaches the queue is bounded here first: ids and cursors by charset
 * and length, page sizes by range.
 *
 * @module
 */

import * as v from "valibot";

/** Largest page of dead letters one request may ask for. */
export const MAX_PAGE_SIZE = 100;
/** Page size when `limit` is not given. */
export const DEFAULT_PAGE_SIZE = 20;

/**
 * A dead-letter id: what transports produce (stream entry ids, UUIDs,
 * counters), and nothing that could be a pattern, a path or markup.
 */
export const IdSchema: v.GenericSchema<string> = v.pipe(
  v.string(),
  v.minLength(1, "must not be empty"),
  v.maxLength(128, "must be at most 128 characters"),
  v.regex(/^[A-Za-z0-9._:-]+$/, "may contain only letters, digits and . _ : -"),
);

/** An opaque page cursor as handed out in `nextCursor`. */
export const CursorSchema: v.GenericSchema<string> = v.pipe(
  v.string(),
  v.minLength(1, "must not be empty"),
  v.maxLength(256, "must be at most 256 characters"),
  v.regex(/^[A-Za-z0-9._:~+/=-]+$/, "contains characters no cursor has"),
);

/** `limit` as it arrives in a query string: decimal digits, 1..MAX_PAGE_SIZE. */
export const LimitSchema: v.GenericSchema<string, number> = v.pipe(
  v.string(),
  v.regex(/^[0-9]{1,6}$/, "must be a whole number"),
  v.transform(Number),
  v.number(),
  v.minValue(1, "must be at least 1"),
  v.maxValue(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`),
);

/**
 * Check one value against a schema.
 *
 * @returns The parsed value, or the first issue's message.
 */
export function check<I, O>(
  schema: v.GenericSchema<I, O>,
  value: unknown,
): { ok: true; value: O } | { ok: false; message: string } {
  const result = v.safeParse(schema, value);
  if (result.success) return { ok: true, value: result.output };
  return { ok: false, message: result.issues[0].message };
}
