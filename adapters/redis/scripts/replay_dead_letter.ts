import { LUA_TIME, type LuaScript } from "./_lib.ts";

/**
 * Remove a dead letter (and its pending failed-handler call) and add its
 * task again (attempt 0, ready now, same task id), atomically.
 *
 * KEYS: 1 stream, 2 dead-letter stream, 3 pending-handler set.
 * ARGV: 1 dead letter id.
 * Returns 1, or 0 when there is no such dead letter.
 */
export const replayDeadLetterScript: LuaScript = {
  name: "replayDeadLetter",
  source: LUA_TIME + `
local e = redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1])
if #e == 0 then return 0 end
local src = e[1][2]
local get = {}
for j = 1, #src, 2 do get[src[j]] = src[j + 1] end
local fields = { 'id', get['id'] or '', 'name', get['name'] or '', 'body', get['body'] or '',
  'attempt', '0', 'rt', get['rt'] or '', 'dat', get['dat'] or fmt(now_ms()), 'rat', fmt(now_ms()) }
redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('XDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
`,
};
