/**
 * The dead-letter script: complete a delivery and record it as a dead letter.
 *
 * @module
 */
import type { Consumer, DeadLetterReason, Delivery, FailureRecord } from "../../../src/queue.ts";
import { deadLetterFields } from "../_codec.ts";
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
 * Complete a delivery, release its unique lock and record it in the
 * dead-letter stream, in one step, only if the consumer still owns it (so
 * exactly one caller per delivery gets the new id). With a handler lease,
 * the new dead letter's id also enters the pending-handler set, scored by
 * the lease's expiry.
 *
 * KEYS: 1 stream, 2 dead-letter stream, 3 pending-handler set, 4 unique
 * lock key (optional).
 * ARGV: 1 group, 2 consumer, 3 delivery id, 4 delivery count,
 * 5 deleteOnAck, 6 lock token, 7 handler lease (ms, 0 = none), then the
 * dead letter's fields (without `fat`, the failure time, which is set here).
 * Returns the dead letter id, or 0 when refused.
 */
export const script: LuaScript = {
  name: "deadLetter",
  source: LUA_TIME + LUA_OWNS + LUA_LOCK + LUA_COMPLETE + LUA_OWNER_CHECK + `
complete(stream, group, id, ARGV[5])
if KEYS[4] then lock_release(KEYS[4], ARGV[6], now) end
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'fat'
fields[#fields + 1] = fmt(now)
local dead_id = redis.call('XADD', KEYS[2], '*', unpack(fields))
local lease = tonumber(ARGV[7]) or 0
if lease > 0 then redis.call('ZADD', KEYS[3], fmt(now + lease), dead_id) end
return dead_id
`,
};

/**
 * KEYS and ARGV for dead-lettering `delivery`.
 *
 * @param keys The queue's keys.
 * @param consumer The consumer that must still own the delivery.
 * @param delivery The delivery.
 * @param reason Why it is dead.
 * @param error The last failure.
 * @param handlerLease Lease of the pending failed-handler call, in ms (0: none).
 * @param deleteOnAck Whether the completed entry is deleted.
 * @returns The call.
 */
export function encode(
  keys: QueueKeys,
  consumer: Consumer,
  delivery: Delivery,
  reason: DeadLetterReason,
  error: FailureRecord,
  handlerLease: number,
  deleteOnAck: boolean,
): ScriptCall {
  const callKeys = [keys.stream, keys.dead, keys.handlers];
  if (delivery.unique) callKeys.push(keys.unique(delivery.unique.key));
  return {
    keys: callKeys,
    args: [
      consumer.group,
      consumer.name,
      delivery.deliveryId,
      String(delivery.deliveryCount),
      deleteOnAck ? "1" : "0",
      delivery.unique?.token ?? "",
      String(Math.max(0, Math.ceil(handlerLease))),
      ...deadLetterFields(delivery, reason, error),
    ],
  };
}

/**
 * @param reply The script's reply.
 * @returns The new dead letter's id, or false when the consumer no longer owns the delivery.
 */
export function decode(reply: unknown): string | false {
  return typeof reply === "string" && reply !== "" ? reply : false;
}
