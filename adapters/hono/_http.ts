/**
 * HTTP plumbing shared by the monitor's routes: the JSON error body, the
 * 404/405 answers, and the cross-site check of action requests.
 *
 * @module
 */

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { CorsOptions } from "./options.ts";
import type { MonitorErrorBody } from "./types.ts";

/** An error that becomes a JSON error response with its status and code. */
export class MonitorError extends Error {
  /** HTTP status. */
  readonly status: ContentfulStatusCode;
  /** Machine-readable code. */
  readonly code: string;
  /**
   * @param status HTTP status.
   * @param code Machine-readable code.
   * @param message Human-readable explanation.
   */
  constructor(status: ContentfulStatusCode, code: string, message: string) {
    super(message);
    this.name = "MonitorError";
    this.status = status;
    this.code = code;
  }
}

/**
 * The body of an error response.
 *
 * @param code Machine-readable code.
 * @param message Human-readable explanation.
 * @returns `{ error: { code, message } }`.
 */
export function errorBody(code: string, message: string): MonitorErrorBody {
  return { error: { code, message } };
}

/**
 * Answer with a JSON error.
 *
 * @returns The response.
 */
export function fail(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  return c.json(errorBody(code, message), status);
}

/** Answer 404 in JSON. @returns The response. */
export function notFound(c: Context): Response {
  return fail(c, 404, "not_found", "There is nothing here.");
}

/**
 * Answer 405 in JSON.
 *
 * @param allow The methods the path answers (`["GET", "HEAD"]`).
 * @returns The response, with an `Allow` header.
 */
export function notAllowed(c: Context, allow: readonly string[]): Response {
  c.header("Allow", allow.join(", "));
  const listed = allow.length > 1 ? `${allow.slice(0, -1).join(", ")} and ${allow[allow.length - 1]}` : allow.join("");
  return fail(c, 405, "method_not_allowed", `Only ${listed} ${allow.length > 1 ? "are" : "is"} allowed here.`);
}

/**
 * Why a state-changing request looks cross-site, or null when it is fine.
 * Browsers cannot send a JSON content type or a custom header cross-site
 * without a CORS preflight, which this monitor does not grant unless
 * configured.
 *
 * @param c The request's context.
 * @param cors The monitor's CORS settings, whose origins are trusted.
 * @returns What is wrong, or null.
 */
export function csrfProblem(c: Context, cors: CorsOptions | undefined): string | null {
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const marked = c.req.header("x-taskrunner-action") !== undefined;
  if (type !== "application/json" && !marked) {
    return "Action requests must have Content-Type: application/json or an X-TaskRunner-Action header.";
  }
  const site = c.req.header("sec-fetch-site");
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== "null") {
    let originHost: string | null = null;
    try {
      originHost = new URL(origin).host;
    } catch {
      return "The Origin header is malformed.";
    }
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    if (originHost === host) return null;
    if (corsAllows(cors, origin, c)) return null;
    return "Cross-origin action requests are refused.";
  }
  if (origin === "null") return "Action requests from opaque origins are refused.";
  if (site === "cross-site") return "Cross-site action requests are refused.";
  return null;
}

function corsAllows(cors: CorsOptions | undefined, origin: string, c: Context): boolean {
  if (cors === undefined) return false;
  const allowed = cors.origin;
  if (typeof allowed === "string") return allowed === origin;
  if (Array.isArray(allowed)) return allowed.includes(origin);
  try {
    return allowed(origin, c) === origin;
  } catch {
    return false;
  }
}
