/**
 * The remove-consumer script: delete a consumer that owns nothing.
 *
 * @module
 */
import type { Consumer } from "../../../src/queue.ts";
import type { QueueKeys } from "../keys.ts";
import { LUA_CONSUMERS, type LuaScript, type ScriptCall } from "./_lib.ts";

/**
 * Delete a consumer from its group only when it owns no delivery (a
 * consumer deleted with pending entries would lose them for good).
 *
 * KEYS: 1 stream. ARGV: 1 group, 2 consumer.
 * Returns 1 when removed or absent, 0 when it still owns deliveries.
 */
export const script: LuaScript = {
  name: "removeConsumer",
  source: LUA_CONSUMERS + `
local all = consumers(KEYS[1], ARGV[1])
if not all then return 1 end
for _, f in ipairs(all) do
  if f['name'] == ARGV[2] then
    if tonumber(f['pending']) > 0 then return 0 end
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
    return 1
  end
end
return 1
`,
};

/**
 * @param keys The queue's keys.
 * @param consumer The consumer to delete.
 * @returns The call.
 */
export function encode(keys: QueueKeys, consumer: Consumer): ScriptCall {
  return { keys: [keys.stream], args: [consumer.group, consumer.name] };
}

/**
 * @param reply The script's reply.
 * @returns Whether the consumer is gone (false: it still owns deliveries).
 */
export function decode(reply: unknown): boolean {
  return Number(reply) === 1;
}
