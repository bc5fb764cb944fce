import { LUA_LOCK, LUA_OWNS, LUA_TIME, type LuaScript } from "./_lib.ts";

/**
 * Extend the reservations a consumer holds: for each delivery still owned
 * with the same delivery count, reset its idle time (XCLAIM ... 0 JUSTID,
 * which keeps the delivery count) and extend its unique lock's backstop TTL.
 *
 * KEYS: 1 stream, then one key per unique lock.
 * ARGV: 1 group, 2 consumer, then per delivery: id, deliveryCount,
 * lockIndex (0: none), token.
 * Returns the ids no longer owned.
 */
export const heartbeatScript: LuaScript = {
  name: "heartbeat",
  source: LUA_TIME + LUA_OWNS + LUA_LOCK + `
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV, 4 do
  local id, count, lock, token = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local kept = false
  if owns(stream, group, consumer, id, count) then
    local c = redis.call('XCLAIM', stream, group, consumer, 0, id, 'JUSTID')
    kept = #c > 0
  end
  if kept then
    if lock > 0 then lock_extend(KEYS[lock], token, 0) end
  else
    lost[#lost + 1] = id
  end
end
return lost
`,
};
