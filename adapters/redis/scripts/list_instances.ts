/**
 * The list-instances script: the live runner instances.
 *
 * @module
 */
import type { InstanceInfo } from "../../../src/queue.ts";
import type { QueueKeys } from "../keys.ts";
import { LUA_PRUNE_INSTANCES, LUA_TIME, type LuaScript, type ScriptCall } from "./_lib.ts";

/**
 * List live instances, pruning expired ones.
 *
 * KEYS: 1 expiry set, 2 info hash. Returns the stored "lastSeen\\njson" values.
 */
export const script: LuaScript = {
  name: "listInstances",
  source: LUA_TIME + LUA_PRUNE_INSTANCES + `
prune(now_ms())
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
if #ids == 0 then return {} end
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('HGET', KEYS[2], id)
  if v then out[#out + 1] = v end
end
return out
`,
};

/**
 * @param keys The queue's keys.
 * @returns The call.
 */
export function encode(keys: QueueKeys): ScriptCall {
  return { keys: [keys.instances, keys.instanceInfo], args: [] };
}

/**
 * @param reply The script's reply.
 * @returns The live instances; values that do not decode (foreign writes) are skipped.
 */
export function decode(reply: unknown): InstanceInfo[] {
  const out: InstanceInfo[] = [];
  for (const raw of reply as unknown[]) {
    const s = String(raw);
    const nl = s.indexOf("\n");
    try {
      const info = JSON.parse(s.slice(nl + 1)) as InstanceInfo;
      out.push({
        id: String(info.id),
        host: String(info.host),
        pid: Number(info.pid),
        workers: Number(info.workers),
        busy: Number(info.busy),
        startedAt: Number(info.startedAt),
        lastSeen: Number(s.slice(0, nl)),
      });
    } catch { /* a foreign value: skip it */ }
  }
  return out;
}
