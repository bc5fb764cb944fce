/**
 * The claim-failed-handlers script: lease expired failed-handler calls.
 *
 * @module
 */
import type { DeadLetter } from "../../../src/queue.ts";
import { decodeDeadLetter, rangeEntries } from "../_codec.ts";
import type { QueueKeys } from "../keys.ts";
import { LUA_TIME, type LuaScript, type ScriptCall } from "./_lib.ts";

/**
 * Lease pending failed-handler calls whose lease has expired to the caller:
 * each claimed id gets a new expiry `now + lease`, so concurrent callers
 * never claim one call within the same lease. Ids whose dead letter is gone
 * are dropped from the set.
 *
 * KEYS: 1 pending-handler set, 2 dead-letter stream.
 * ARGV: 1 lease (ms), 2 count.
 * Returns the claimed dead letters as XRANGE entries.
 */
export const script: LuaScript = {
  name: "claimFailedHandlers",
  source: LUA_TIME + `
local now = now_ms()
local due = redis.call('ZRANGE', KEYS[1], '-inf', fmt(now), 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(due) do
  local e = redis.call('XRANGE', KEYS[2], id, id)
  if #e == 0 then
    redis.call('ZREM', KEYS[1], id)
  else
    redis.call('ZADD', KEYS[1], fmt(now + tonumber(ARGV[1])), id)
    out[#out + 1] = e[1]
  end
end
return out
`,
};

/**
 * @param keys The queue's keys.
 * @param lease The new lease of each claimed call, in ms (at least 1).
 * @param count Most calls to claim (at least 1).
 * @returns The call.
 */
export function encode(keys: QueueKeys, lease: number, count: number): ScriptCall {
  return {
    keys: [keys.handlers, keys.dead],
    args: [String(Math.max(1, Math.ceil(lease))), String(Math.max(1, Math.floor(count)))],
  };
}

/**
 * @param reply The script's reply.
 * @returns The dead letters whose handler call the caller now holds.
 */
export function decode(reply: unknown): DeadLetter[] {
  return rangeEntries(reply).map(([id, f]) => decodeDeadLetter(id, f));
}
