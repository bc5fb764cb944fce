/**
 * The delete-dead-letter script: remove a dead letter and its handler call.
 *
 * @module
 */
import type { QueueKeys } from "../keys.ts";
import type { LuaScript, ScriptCall } from "./_lib.ts";

/**
 * Remove a dead letter and its pending failed-handler call.
 *
 * KEYS: 1 dead-letter stream, 2 pending-handler set. ARGV: 1 dead letter id.
 * Returns 1, or 0 when there is no such dead letter.
 */
export const script: LuaScript = {
  name: "deleteDeadLetter",
  source: `
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('XDEL', KEYS[1], ARGV[1])
`,
};

/**
 * @param keys The queue's keys.
 * @param deadLetterId A canonical stream id.
 * @returns The call.
 */
export function encode(keys: QueueKeys, deadLetterId: string): ScriptCall {
  return { keys: [keys.dead, keys.handlers], args: [deadLetterId] };
}

/**
 * @param reply The script's reply.
 * @returns Whether the dead letter existed and was removed.
 */
export function decode(reply: unknown): boolean {
  return Number(reply) === 1;
}
