/**
 * The promote script: move due delayed tasks into the stream.
 *
 * @module
 */
import type { QueueKeys } from "../keys.ts";
import { LUA_TIME, type LuaScript, type ScriptCall } from "./_lib.ts";

/**
 * Move due delayed tasks into the stream, at most `limit` per call. Atomic,
 * so concurrent promoters never move one task twice. A member that does not
 * decode is added as a malformed entry (never dropped).
 *
 * KEYS: 1 stream, 2 delayed set. ARGV: 1 limit.
 * Returns { promoted, next due ms or -1, server now ms }.
 */
export const script: LuaScript = {
  name: "promote",
  source: LUA_TIME + `
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', fmt(now), 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  local ok, fields = pcall(cjson.decode, member)
  if ok and type(fields) == 'table' and #fields >= 2 and #fields % 2 == 0 then
    redis.call('XADD', KEYS[1], '*', unpack(fields))
  else
    redis.call('XADD', KEYS[1], '*', 'garbled', member)
  end
  redis.call('ZREM', KEYS[2], member)
end
local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local next_due = -1
if #nxt > 0 then next_due = tonumber(nxt[2]) end
return { #due, next_due, now }
`,
};

/**
 * @param keys The queue's keys.
 * @param limit Most tasks to move in this call.
 * @returns The call.
 */
export function encode(keys: QueueKeys, limit: number): ScriptCall {
  return { keys: [keys.stream, keys.delayed], args: [String(limit)] };
}

/** What one promote call did. */
export interface PromoteReply {
  /** Tasks moved. */
  readonly moved: number;
  /** Due time of the next delayed task (epoch ms), or null when none is left. */
  readonly nextDueAt: number | null;
  /** Server time (epoch ms). */
  readonly now: number;
}

/**
 * @param reply The script's reply.
 * @returns What the call did.
 */
export function decode(reply: unknown): PromoteReply {
  const [moved, next, now] = reply as unknown[];
  return { moved: Number(moved), nextDueAt: Number(next) < 0 ? null : Number(next), now: Number(now) };
}
