/**
 * The counts script: a queue's counts for one group in one read.
 *
 * @module
 */
import type { QueueCounts } from "../../../src/queue.ts";
import type { QueueKeys } from "../keys.ts";
import type { LuaScript, ScriptCall } from "./_lib.ts";

/**
 * Queue counts for one group in a single consistent read.
 *
 * KEYS: 1 stream, 2 delayed set, 3 dead-letter stream. ARGV: 1 group.
 * Returns { waiting, inFlight, delayed, dead, consumers, group exists 1/0 }.
 */
export const script: LuaScript = {
  name: "counts",
  source: `
local len = redis.call('XLEN', KEYS[1])
local waiting, pending, consumers, found = len, 0, 0, 0
local info = redis.pcall('XINFO', 'GROUPS', KEYS[1])
if type(info) == 'table' and not info.err then
  for _, g in ipairs(info) do
    local f = {}
    for j = 1, #g, 2 do f[g[j]] = g[j + 1] end
    if f['name'] == ARGV[1] then
      found = 1
      pending = tonumber(f['pending']) or 0
      consumers = tonumber(f['consumers']) or 0
      local lag = f['lag']
      if type(lag) == 'number' then
        waiting = lag
      else
        waiting = len - pending
      end
    end
  end
end
if waiting < 0 then waiting = 0 end
return { waiting, pending, redis.call('ZCARD', KEYS[2]), redis.call('XLEN', KEYS[3]), consumers, found }
`,
};

/**
 * @param keys The queue's keys.
 * @param group The consumer group.
 * @returns The call.
 */
export function encode(keys: QueueKeys, group: string): ScriptCall {
  return { keys: [keys.stream, keys.delayed, keys.dead], args: [group] };
}

/**
 * @param reply The script's reply.
 * @returns The counts.
 */
export function decode(reply: unknown): QueueCounts {
  const r = reply as unknown[];
  return {
    waiting: Number(r[0]),
    inFlight: Number(r[1]),
    delayed: Number(r[2]),
    dead: Number(r[3]),
    consumers: Number(r[4]),
  };
}
