import { LUA_TIME, type LuaScript } from "./_lib.ts";

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
export const claimFailedHandlersScript: LuaScript = {
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
 * Remove a dead letter and its pending failed-handler call.
 *
 * KEYS: 1 dead-letter stream, 2 pending-handler set. ARGV: 1 dead letter id.
 * Returns 1, or 0 when there is no such dead letter.
 */
export const deleteDeadLetterScript: LuaScript = {
  name: "deleteDeadLetter",
  source: `
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('XDEL', KEYS[1], ARGV[1])
`,
};
