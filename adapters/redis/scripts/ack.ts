/**
 * The ack script: complete a batch of deliveries and release their locks.
 *
 * @module
 */
import type { Consumer, Delivery, DeliveryRef } from "../../../src/queue.ts";
import { idRange } from "../_util.ts";
import type { QueueKeys } from "../keys.ts";
import { LUA_COMPLETE, LUA_LOCK, LUA_OWNS, LUA_TIME, type LockRef, type LuaScript, type ScriptCall } from "./_lib.ts";

/**
 * Complete a batch of deliveries: for each one still owned by the consumer
 * with the same delivery count, XACK + XDEL and release its unique lock by
 * token (honouring holdFor).
 *
 * Ownership of the whole batch is read with one XPENDING over the batch's id
 * range filtered by consumer (per-entry XPENDING only if that reply was cut
 * short); the owned ids are acknowledged and deleted with one XACK and one
 * XDEL.
 *
 * KEYS: 1 stream, then one key per unique lock.
 * ARGV: 1 group, 2 consumer, 3 deleteOnAck ("1"/"0"), 4 XPENDING limit,
 * 5 lowest and 6 highest well-formed delivery id ("" when none), 7 number
 * of deliveries n, then n pairs (id, deliveryCount), then one triple per
 * unique lock: delivery index (1-based), KEYS index, token.
 * Returns one 1/0 per delivery.
 */
export const script: LuaScript = {
  name: "ack",
  source: LUA_TIME + LUA_OWNS + LUA_LOCK + LUA_COMPLETE + `
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local out = {}
local lo, hi, n = ARGV[5], ARGV[6], tonumber(ARGV[7])
local held = {}
local full = false
if lo ~= '' then
  local limit = tonumber(ARGV[4])
  local p = redis.pcall('XPENDING', stream, group, lo, hi, limit, consumer)
  if type(p) ~= 'table' or p.err then
    for k = 1, n do out[k] = 0 end
    return out
  end
  for _, e in ipairs(p) do held[e[1]] = tonumber(e[4]) end
  full = #p >= limit
end
local done = {}
for k = 1, n do
  local id, count = ARGV[6 + 2 * k], tonumber(ARGV[7 + 2 * k])
  local ok = held[id] == count
  if not ok and full and held[id] == nil then ok = owns(stream, group, consumer, id, count) end
  if ok then
    held[id] = nil -- a second ack of the same id in this batch is refused
    done[#done + 1] = id
    out[k] = 1
  else
    out[k] = 0
  end
end
local locks = {}
for i = 8 + 2 * n, #ARGV, 3 do
  if out[tonumber(ARGV[i])] == 1 then locks[#locks + 1] = { KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2] } end
end
if #done > 0 then
  redis.call('XACK', stream, group, unpack(done))
  if ARGV[3] == '1' then
    local del = {}
    for _, id in ipairs(done) do
      if not needed_elsewhere(stream, group, id) then del[#del + 1] = id end
    end
    if #del > 0 then redis.call('XDEL', stream, unpack(del)) end
  end
end
if #locks > 0 then
  local now = now_ms()
  for _, l in ipairs(locks) do lock_release(l[1], l[2], now) end
end
return out
`,
};

/**
 * KEYS and ARGV for acknowledging `deliveries` (at most the batch limit).
 * Ownership is read with one XPENDING over the batch's id range; the
 * consumer also owns its other running and prefetched deliveries there,
 * hence the limit above the batch size.
 *
 * @param keys The queue's keys.
 * @param consumer The consumer acknowledging.
 * @param deliveries The deliveries; a delivery's own `unique` names its lock.
 * @param held Locks of deliveries this queue received, by delivery id (for refs without `unique`).
 * @param deleteOnAck Whether acknowledged entries are deleted.
 * @returns The call.
 */
export function encode(
  keys: QueueKeys,
  consumer: Consumer,
  deliveries: readonly (DeliveryRef & Pick<Delivery, "unique">)[],
  held: ReadonlyMap<string, LockRef>,
  deleteOnAck: boolean,
): ScriptCall {
  const callKeys = [keys.stream];
  const [lo, hi] = idRange(deliveries);
  const n = deliveries.length;
  const args = [consumer.group, consumer.name, deleteOnAck ? "1" : "0", String(n * 4 + 1_000), lo, hi, String(n)];
  for (const d of deliveries) args.push(d.deliveryId, String(d.deliveryCount));
  for (let i = 0; i < n; i++) {
    const d = deliveries[i];
    let key: string;
    let token: string;
    if (d.unique) {
      key = keys.unique(d.unique.key);
      token = d.unique.token;
    } else {
      const lock = held.get(d.deliveryId);
      if (!lock) continue;
      key = lock.key;
      token = lock.token;
    }
    callKeys.push(key);
    args.push(String(i + 1), String(callKeys.length), token);
  }
  return { keys: callKeys, args };
}

/**
 * Append whether each delivery was acknowledged (false: refused, not owned).
 *
 * @param reply The script's reply.
 * @param n How many deliveries the call carried.
 * @param into Where the results go.
 */
export function decode(reply: unknown, n: number, into: boolean[]): void {
  const out = reply as unknown[];
  for (let i = 0; i < n; i++) into.push(Number(out[i]) === 1);
}
