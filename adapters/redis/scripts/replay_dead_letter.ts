/**
 * The replay script: move a dead letter back into the queue.
 *
 * @module
 */
import type { QueueKeys } from "../keys.ts";
import { LUA_TIME, type LuaScript, type ScriptCall } from "./_lib.ts";

/**
 * Remove a dead letter (and its pending failed-handler call) and add its
 * task again (attempt 0, ready now, same task id), atomically.
 *
 * KEYS: 1 stream, 2 dead-letter stream, 3 pending-handler set.
 * ARGV: 1 dead letter id.
 * Returns 1, or 0 when there is no such dead letter.
 */
export const script: LuaScript = {
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

/**
 * @param keys The queue's keys.
 * @param deadLetterId A canonical stream id.
 * @returns The call.
 */
export function encode(keys: QueueKeys, deadLetterId: string): ScriptCall {
  return { keys: [keys.stream, keys.dead, keys.handlers], args: [deadLetterId] };
}

/**
 * @param reply The script's reply.
 * @returns Whether the dead letter existed and was replayed.
 */
export function decode(reply: unknown): boolean {
  return Number(reply) === 1;
}
