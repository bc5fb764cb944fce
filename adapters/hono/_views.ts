/**
 * How dead letters and task events are shown: payloads and stacks only
 * when enabled, long texts shortened.
 *
 * @module
 */

import type { DeadLetter } from "../../src/queue.ts";
import type { MonitorDeadLetter } from "./types.ts";

/** Longest error message in a page of dead letters (the single view shows it whole). */
const MAX_MESSAGE_IN_LIST = 2000;

const encoder = new TextEncoder();

/**
 * Shorten a text for display: its first `max` characters and an ellipsis.
 *
 * @param text The text.
 * @param max Most characters kept.
 * @returns `text` itself when short enough, else its start and "…".
 */
export function shorten(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) + "…" : text;
}

/**
 * Convert a stored dead letter to its API shape.
 *
 * @param d The dead letter from the transport.
 * @param options `listing`: clip the message; `showPayloads`: include body and stack.
 * @returns The API shape.
 */
export function deadLetterView(
  d: DeadLetter,
  options: { listing: boolean; showPayloads: boolean },
): MonitorDeadLetter {
  const message = typeof d.error?.message === "string" ? d.error.message : String(d.error?.message ?? "");
  const view: MonitorDeadLetter = {
    deadLetterId: d.deadLetterId,
    id: d.id,
    name: d.name,
    attempt: d.attempt,
    reason: d.reason,
    error: {
      name: typeof d.error?.name === "string" ? d.error.name : "Error",
      message: options.listing ? shorten(message, MAX_MESSAGE_IN_LIST) : message,
    },
    dispatchedAt: d.dispatchedAt,
    failedAt: d.failedAt,
    body: options.showPayloads ? d.body : null,
    bodyBytes: encoder.encode(d.body ?? "").length,
  };
  if (options.showPayloads && typeof d.error?.stack === "string") view.error.stack = d.error.stack;
  return view;
}
