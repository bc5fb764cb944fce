import { LUA_TIME, type LuaScript } from "./_lib.ts";

/**
 * Move due delayed tasks into the stream, at most `limit` per call. Atomic,
 * so concurrent promoters never move one task twice. A member that does not
 * decode is added as a malformed entry (never dropped).
 *
 * KEYS: 1 stream, 2 delayed set. ARGV: 1 limit.
 * Returns { promoted, next due ms or -1, server now ms }.
 */
export const promoteScript: LuaScript = {
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
