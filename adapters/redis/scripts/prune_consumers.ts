/**
 * The prune-consumers script: delete idle consumers that own nothing.
 *
 * @module
 */
import type { QueueKeys } from "../keys.ts";
import { LUA_CONSUMERS, type LuaScript, type ScriptCall } from "./_lib.ts";

/**
 * Delete consumers left behind by crashed processes: those that own no
 * delivery and have not touched the group for `minIdle` ms. (Reads that
 * return nothing do not refresh a consumer's idle time, so a live but idle
 * consumer may be deleted too: it owns nothing, and its next read that
 * returns work recreates it.) A consumer that owns deliveries is never
 * deleted: its deliveries would become unclaimable.
 *
 * KEYS: 1 stream. ARGV: 1 group, 2 min idle ms, 3 consumer to keep.
 * Returns the number of consumers deleted.
 */
export const script: LuaScript = {
  name: "pruneConsumers",
  source: LUA_CONSUMERS + `
local all = consumers(KEYS[1], ARGV[1])
if not all then return 0 end
local min_idle = tonumber(ARGV[2])
local deleted = 0
for _, f in ipairs(all) do
  if f['name'] ~= ARGV[3] and tonumber(f['pending']) == 0 and tonumber(f['idle']) >= min_idle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    deleted = deleted + 1
  end
end
return deleted
`,
};

/**
 * @param keys The queue's keys.
 * @param group The consumer group.
 * @param minIdle Idle time, in ms, from which a consumer that owns nothing is deleted.
 * @param keep The consumer making the call (never deleted).
 * @returns The call.
 */
export function encode(keys: QueueKeys, group: string, minIdle: number, keep: string): ScriptCall {
  return { keys: [keys.stream], args: [group, String(Math.round(minIdle)), keep] };
}

/**
 * @param reply The script's reply.
 * @returns How many consumers were deleted.
 */
export function decode(reply: unknown): number {
  return Number(reply);
}
