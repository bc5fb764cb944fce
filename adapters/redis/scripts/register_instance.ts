/**
 * The register-instance script: register or refresh a live runner instance.
 *
 * @module
 */
import type { InstanceInfo } from "../../../src/queue.ts";
import type { QueueKeys } from "../keys.ts";
import { LUA_PRUNE_INSTANCES, LUA_TIME, type LuaScript, type ScriptCall } from "./_lib.ts";

/**
 * Register or refresh a live runner instance; its entry expires `ttl` ms
 * after this call, on the server's clock. Expired entries are pruned.
 *
 * KEYS: 1 expiry set (score = expiry ms), 2 info hash ("lastSeen\\njson").
 * ARGV: 1 instance id, 2 info JSON, 3 ttl ms.
 */
export const script: LuaScript = {
  name: "registerInstance",
  source: LUA_TIME + LUA_PRUNE_INSTANCES + `
local now = now_ms()
prune(now)
redis.call('ZADD', KEYS[1], fmt(now + tonumber(ARGV[3])), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], fmt(now) .. '\\n' .. ARGV[2])
return 1
`,
};

/**
 * @param keys The queue's keys.
 * @param info The instance (`lastSeen` is set by the script).
 * @param ttl Milliseconds until the entry expires unless refreshed (at least 1).
 * @returns The call.
 */
export function encode(keys: QueueKeys, info: InstanceInfo, ttl: number): ScriptCall {
  const json = JSON.stringify({
    id: info.id,
    host: info.host,
    pid: info.pid,
    workers: info.workers,
    busy: info.busy,
    startedAt: info.startedAt,
  });
  return { keys: [keys.instances, keys.instanceInfo], args: [info.id, json, String(Math.max(1, Math.round(ttl)))] };
}
