import { LUA_COMPLETE, LUA_LOCK, LUA_OWNS, LUA_TIME, type LuaScript } from "./_lib.ts";

/**
 * Complete a delivery, release its unique lock and record it in the
 * dead-letter stream, in one step, only if the consumer still owns it (so
 * exactly one caller per delivery gets 1).
 *
 * KEYS: 1 stream, 2 dead-letter stream, 3 unique lock key (optional).
 * ARGV: 1 group, 2 consumer, 3 delivery id, 4 delivery count,
 * 5 deleteOnAck, 6 lock token, then the dead letter's fields (without
 * `fat`, the failure time, which is set here).
 * Returns 1, or 0 when refused.
 */
export const deadLetterScript: LuaScript = {
  name: "deadLetter",
  keys: 2,
  variableKeys: true,
  source: LUA_TIME + LUA_OWNS + LUA_LOCK + LUA_COMPLETE + `
local stream, group, consumer, id = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
if not owns(stream, group, consumer, id, ARGV[4]) then return 0 end
local now = now_ms()
complete(stream, group, id, ARGV[5])
if KEYS[3] then lock_release(KEYS[3], ARGV[6], now) end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'fat'
fields[#fields + 1] = fmt(now)
redis.call('XADD', KEYS[2], '*', unpack(fields))
return 1
`,
};
