import { LUA_COMPLETE, LUA_LOCK, LUA_OWNER_CHECK, LUA_OWNS, LUA_TIME, type LuaScript } from "./_lib.ts";

/**
 * Complete a delivery, release its unique lock and record it in the
 * dead-letter stream, in one step, only if the consumer still owns it (so
 * exactly one caller per delivery gets the new id). With a handler lease,
 * the new dead letter's id also enters the pending-handler set, scored by
 * the lease's expiry.
 *
 * KEYS: 1 stream, 2 dead-letter stream, 3 pending-handler set, 4 unique
 * lock key (optional).
 * ARGV: 1 group, 2 consumer, 3 delivery id, 4 delivery count,
 * 5 deleteOnAck, 6 lock token, 7 handler lease (ms, 0 = none), then the
 * dead letter's fields (without `fat`, the failure time, which is set here).
 * Returns the dead letter id, or 0 when refused.
 */
export const deadLetterScript: LuaScript = {
  name: "deadLetter",
  source: LUA_TIME + LUA_OWNS + LUA_LOCK + LUA_COMPLETE + LUA_OWNER_CHECK + `
complete(stream, group, id, ARGV[5])
if KEYS[4] then lock_release(KEYS[4], ARGV[6], now) end
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'fat'
fields[#fields + 1] = fmt(now)
local dead_id = redis.call('XADD', KEYS[2], '*', unpack(fields))
local lease = tonumber(ARGV[7]) or 0
if lease > 0 then redis.call('ZADD', KEYS[3], fmt(now + lease), dead_id) end
return dead_id
`,
};
