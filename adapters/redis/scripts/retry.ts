/**
 * The retry script: complete a delivery and schedule its task again.
 *
 * @module
 */
import type { Consumer, Delivery } from "../../../src/queue.ts";
import { taskFields } from "../_codec.ts";
import type { QueueKeys } from "../keys.ts";
import {
  LUA_COMPLETE,
  LUA_LOCK,
  LUA_OWNER_CHECK,
  LUA_OWNS,
  LUA_TIME,
  type LuaScript,
  type ScriptCall,
} from "./_lib.ts";

/**
 * Complete a delivery and schedule its task again, in one step, only if the
 * consumer still owns it. The task keeps its id, dispatchedAt and unique
 * lock (whose backstop TTL is extended past the delay).
 *
 * KEYS: 1 stream, 2 delayed set, 3 unique lock key (optional).
 * ARGV: 1 group, 2 consumer, 3 delivery id, 4 delivery count, 5 delay ms,
 * 6 delayed-added channel, 7 deleteOnAck, 8 lock token, then the new
 * entry's fields (without `rat`, which is set here).
 * Returns 1, or 0 when refused.
 */
export const script: LuaScript = {
  name: "retry",
  source: LUA_TIME + LUA_OWNS + LUA_LOCK + LUA_COMPLETE + LUA_OWNER_CHECK + `
local delay = tonumber(ARGV[5])
complete(stream, group, id, ARGV[7])
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'rat'
if delay > 0 then
  local due = now + delay
  fields[#fields + 1] = fmt(due)
  redis.call('ZADD', KEYS[2], fmt(due), cjson.encode(fields))
  redis.call('PUBLISH', ARGV[6], fmt(due))
else
  fields[#fields + 1] = fmt(now)
  redis.call('XADD', stream, '*', unpack(fields))
end
if KEYS[3] then lock_extend(KEYS[3], ARGV[8], delay) end
return 1
`,
};

/**
 * KEYS and ARGV for retrying `delivery` as its next attempt after `delay`.
 *
 * @param keys The queue's keys.
 * @param consumer The consumer that must still own the delivery.
 * @param delivery The delivery.
 * @param delay Milliseconds until the next attempt is ready (0: at once).
 * @param deleteOnAck Whether the completed entry is deleted.
 * @returns The call.
 */
export function encode(
  keys: QueueKeys,
  consumer: Consumer,
  delivery: Delivery,
  delay: number,
  deleteOnAck: boolean,
): ScriptCall {
  const callKeys = [keys.stream, keys.delayed];
  if (delivery.unique) callKeys.push(keys.unique(delivery.unique.key));
  const fields = taskFields({ ...delivery, attempt: delivery.attempt + 1 }, delivery.unique, delivery.dispatchedAt);
  return {
    keys: callKeys,
    args: [
      consumer.group,
      consumer.name,
      delivery.deliveryId,
      String(delivery.deliveryCount),
      String(Math.max(0, Math.round(delay))),
      keys.delayedChannel,
      deleteOnAck ? "1" : "0",
      delivery.unique?.token ?? "",
      ...fields,
    ],
  };
}

/**
 * @param reply The script's reply.
 * @returns Whether the retry was done (false: the consumer no longer owns the delivery).
 */
export function decode(reply: unknown): boolean {
  return Number(reply) === 1;
}
