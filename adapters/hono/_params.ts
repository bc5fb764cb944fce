/**
 * Validation of the monitor's request parameters. Every value that reaches
 * the queue is bounded here first: ids and cursors by charset and length,
 * page sizes by range. A value that passes and that the transport still
 * cannot parse is told apart from a transport failure here too.
 *
 * @module
 */

import type { Context } from "hono";
import * as v from "valibot";
import type { DeadLetterStore } from "../../src/queue.ts";
import { MonitorError } from "./_http.ts";

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

/**
 * The one value of a query parameter. Parameters this monitor does not know
 * are ignored; known ones given twice are refused rather than guessed.
 *
 * @returns The value, or undefined when absent.
 * @throws {MonitorError} 400 when the parameter is given more than once.
 */
export function singleQuery(c: Context, name: string): string | undefined {
  const all = c.req.queries(name);
  if (all === undefined || all.length === 0) return undefined;
  if (all.length > 1) throw new MonitorError(400, "bad_request", `'${name}' must be given at most once.`);
  return all[0];
}

/**
 * The `:id` path parameter, checked.
 *
 * @returns The dead-letter id.
 * @throws {MonitorError} 400 when it is not an id.
 */
export function idParam(c: Context): string {
  const result = check(IdSchema, c.req.param("id"));
  if (!result.ok) throw new MonitorError(400, "bad_request", `Dead-letter id ${result.message}.`);
  return result.value;
}

/**
 * Whether the queue answers a plain read. Asked only after a call keyed by
 * request input (an id, a cursor) failed, to tell input the transport
 * cannot parse (the request's fault: 4xx) from a transport failure (503).
 */
export async function queueAnswers(queue: Pick<DeadLetterStore, "listDeadLetters">): Promise<boolean> {
  try {
    await queue.listDeadLetters({ limit: 1 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Run a transport call keyed by a dead-letter id; an id it cannot parse
 * counts as unknown.
 *
 * @param queue The queue, asked whether it answers when the call fails.
 * @param call The call.
 * @param unknown What the call answers for an unknown id.
 * @returns The call's answer, or `unknown`.
 */
export async function byId<T>(
  queue: Pick<DeadLetterStore, "listDeadLetters">,
  call: () => Promise<T>,
  unknown: T,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (await queueAnswers(queue)) return unknown;
    throw error;
  }
}
