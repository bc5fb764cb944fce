/**
 * The heartbeat script: extend the reservations a consumer holds.
 *
 * @module
 */
import type { Consumer, DeliveryRef } from "../../../src/queue.ts";
import type { QueueKeys } from "../keys.ts";
import { LUA_LOCK, LUA_OWNS, LUA_TIME, type LockRef, type LuaScript, type ScriptCall } from "./_lib.ts";

/**
 * Extend the reservations a consumer holds: for each delivery still owned
 * with the same delivery count, reset its idle time (XCLAIM ... 0 JUSTID,
 * which keeps the delivery count) and extend its unique lock's backstop TTL.
 *
 * KEYS: 1 stream, then one key per unique lock.
 * ARGV: 1 group, 2 consumer, then per delivery: id, deliveryCount,
 * lockIndex (0: none), token.
 * Returns the ids no longer owned.
 */
export const script: LuaScript = {
  name: "heartbeat",
  source: LUA_TIME + LUA_OWNS + LUA_LOCK + `
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV, 4 do
  local id, count, lock, token = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local kept = false
  if owns(stream, group, consumer, id, count) then
    local c = redis.call('XCLAIM', stream, group, consumer, 0, id, 'JUSTID')
    kept = #c > 0
  end
  if kept then
    if lock > 0 then lock_extend(KEYS[lock], token, 0) end
  else
    lost[#lost + 1] = id
  end
end
return lost
`,
};

/**
 * KEYS and ARGV for extending the reservations of `deliveries` (at most the
 * batch limit).
 *
 * @param keys The queue's keys.
 * @param consumer The consumer that must still own them.
 * @param deliveries The deliveries.
 * @param held Locks of deliveries this queue received, by delivery id.
 * @returns The call.
 */
export function encode(
  keys: QueueKeys,
  consumer: Consumer,
  deliveries: readonly DeliveryRef[],
  held: ReadonlyMap<string, LockRef>,
): ScriptCall {
  const callKeys = [keys.stream];
  const args = [consumer.group, consumer.name];
  for (const d of deliveries) {
    const lock = held.get(d.deliveryId);
    let lockIndex = 0;
    if (lock) {
      callKeys.push(lock.key);
      lockIndex = callKeys.length;
    }
    args.push(d.deliveryId, String(d.deliveryCount), String(lockIndex), lock?.token ?? "");
  }
  return { keys: callKeys, args };
}

/**
 * @param reply The script's reply.
 * @returns The ids of the deliveries the consumer no longer owns.
 */
export function decode(reply: unknown): string[] {
  return (reply as unknown[]).map(String);
}
