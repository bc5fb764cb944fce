/**
 * The action routes' guard and handlers: replaying and deleting dead
 * letters, pausing and resuming the fleet. Every action request passes the
 * guard first.
 *
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { csrfProblem, fail } from "./_http.ts";
import { byId, idParam } from "./_params.ts";
import type { CorsOptions, MonitoredRunner } from "./options.ts";

/** What an action acts on. */
export interface ActionTarget {
  /** The runner (its queue holds the dead letters). */
  readonly runner: MonitoredRunner;
}

/** An action route's handler. */
export type ActionHandler = (c: Context, target: ActionTarget) => Promise<Response>;

/**
 * The middleware every action request passes: the `authorize` hook (false
 * or a throw: 403; fail closed), then the cross-site check.
 *
 * @param authorize The monitor's hook.
 * @param cors The monitor's CORS settings, whose origins are trusted.
 * @param onError Receives what the hook throws.
 * @returns The middleware.
 */
export function actionGuard(
  authorize: (c: Context) => boolean | Promise<boolean>,
  cors: CorsOptions | undefined,
  onError: (error: unknown) => void,
): MiddlewareHandler {
  return async (c, next) => {
    let allowed: boolean;
    try {
      allowed = await authorize(c);
    } catch (error) {
      onError(error); // a failing hook denies: fail closed
      allowed = false;
    }
    if (allowed !== true) return fail(c, 403, "forbidden", "This request may not perform actions.");
    const csrf = csrfProblem(c, cors);
    if (csrf !== null) return fail(c, 403, "csrf_rejected", csrf);
    await next();
  };
}

const unknownId = (c: Context) => fail(c, 404, "not_found", "No dead letter has this id.");

/** `POST /api/dead-letters/:id/replay`: run a dead letter again. */
export const replayDeadLetter: ActionHandler = async (c, { runner: { queue } }) => {
  const id = idParam(c);
  if (!(await byId(queue, () => queue.replayDeadLetter(id), false))) return unknownId(c);
  return c.json({ replayed: true, deadLetterId: id });
};

/** `DELETE /api/dead-letters/:id`: delete a dead letter. */
export const deleteDeadLetter: ActionHandler = async (c, { runner: { queue } }) => {
  const id = idParam(c);
  if (!(await byId(queue, () => queue.deleteDeadLetter(id), false))) return unknownId(c);
  return c.json({ deleted: true, deadLetterId: id });
};

/** `POST /api/pause`: pause consuming fleet-wide. */
export const pause: ActionHandler = async (c, { runner }) => {
  if (runner.pause) await runner.pause();
  else await runner.queue.setPaused(true);
  return c.json({ paused: true });
};

/** `POST /api/resume`: resume consuming fleet-wide. */
export const resume: ActionHandler = async (c, { runner }) => {
  if (runner.resume) await runner.resume();
  else await runner.queue.setPaused(false);
  return c.json({ paused: false });
};
