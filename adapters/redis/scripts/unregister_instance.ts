/**
 * The unregister-instance script: remove an instance from the registry.
 *
 * @module
 */
import type { QueueKeys } from "../keys.ts";
import type { LuaScript, ScriptCall } from "./_lib.ts";

/**
 * Remove an instance from the registry.
 *
 * KEYS: 1 expiry set, 2 info hash. ARGV: 1 instance id.
 */
export const script: LuaScript = {
  name: "unregisterInstance",
  source: `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`,
};

/**
 * @param keys The queue's keys.
 * @param id The instance id.
 * @returns The call.
 */
export function encode(keys: QueueKeys, id: string): ScriptCall {
  return { keys: [keys.instances, keys.instanceInfo], args: [id] };
}
