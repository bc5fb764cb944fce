import { LUA_COMPLETE, LUA_LOCK, LUA_OWNS, LUA_TIME, type LuaScript } from "./_lib.ts";

/**
 * Complete a batch of deliveries: for each one still owned by the consumer
 * with the same delivery count, XACK + XDEL and release its unique lock by
 * token (honouring holdFor).
 *
 * KEYS: 1 stream, then one key per unique lock.
 * ARGV: 1 group, 2 consumer, 3 deleteOnAck ("1"/"0"), then per delivery:
 * id, deliveryCount, lockIndex (0: none), token.
 * Returns one 1/0 per delivery.
 */
export const ackScript: LuaScript = {
  name: "ack",
  keys: 1,
  variableKeys: true,
  source: LUA_TIME + LUA_OWNS + LUA_LOCK + LUA_COMPLETE + `
local now = now_ms()
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local out = {}
local n = 0
for i = 4, #ARGV, 4 do
  n = n + 1
  local id, count, lock, token = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  if owns(stream, group, consumer, id, count) then
    complete(stream, group, id, ARGV[3])
    if lock > 0 then lock_release(KEYS[lock], token, now) end
    out[n] = 1
  else
    out[n] = 0
  end
end
return out
`,
};
