/**
 * The reclaim script: take over deliveries idle past their own reservation.
 *
 * @module
 */
import type { Consumer, Delivery } from "../../../src/queue.ts";
import { decodeDelivery } from "../_codec.ts";
import type { QueueKeys } from "../keys.ts";
import type { LuaScript, ScriptCall } from "./_lib.ts";

/**
 * Take over deliveries idle past their own reservation. Scans the group's
 * pending list from a cursor (XPENDING ... IDLE min, exclusive start), reads
 * each candidate's reservation (its `rt` field, or the one packed in `m`) and claims it with XCLAIM using that entry's
 * reservation as min-idle (re-checked atomically; increments the delivery
 * count). Pending ids whose entry no longer exists are acknowledged away and
 * reported as lost.
 *
 * XAUTOCLAIM is not used: it takes every entry idle past one threshold, so
 * tasks with a longer reservation than the smallest one would be stolen
 * from healthy workers.
 *
 * KEYS: 1 stream.
 * ARGV: 1 group, 2 consumer, 3 cursor ("-" or an id, exclusive), 4 count,
 * 5 scan limit, 6 min idle ms, 7 reservation ms for entries without `rt`.
 * Returns { next cursor ("-" when the scan wrapped), claimed, lost } where
 * claimed is a list of { id, fields, deliveryCount }; or { "NOGROUP" }.
 */
export const script: LuaScript = {
  name: "reclaim",
  source: `
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local start = ARGV[3]
if start ~= '-' then start = '(' .. start end
local want, scan = tonumber(ARGV[4]), tonumber(ARGV[5])
local pending = redis.pcall('XPENDING', stream, group, 'IDLE', tonumber(ARGV[6]), start, '+', scan)
if type(pending) ~= 'table' or pending.err then return { 'NOGROUP' } end
local claimed, lost = {}, {}
local cursor = '-'
for _, p in ipairs(pending) do
  if #claimed >= want then break end
  local id, idle, count = p[1], tonumber(p[3]), tonumber(p[4])
  cursor = id
  local e = redis.call('XRANGE', stream, id, id)
  if #e == 0 then
    redis.call('XACK', stream, group, id)
    lost[#lost + 1] = id
  else
    local fields = e[1][2]
    local rt = nil
    for j = 1, #fields, 2 do
      if fields[j] == 'rt' then rt = tonumber(fields[j + 1])
      elseif fields[j] == 'm' and rt == nil then rt = tonumber(string.match(fields[j + 1], '^%d+:(%d+):')) end
    end
    if rt == nil or rt < 0 then rt = tonumber(ARGV[7]) end
    rt = math.floor(rt)
    if idle >= rt then
      local c = redis.call('XCLAIM', stream, group, consumer, rt, id)
      if #c > 0 and c[1] then
        claimed[#claimed + 1] = { id, c[1][2], count + 1 }
      end
    end
  end
end
if #pending < scan and #claimed < want then cursor = '-' end
return { cursor, claimed, lost }
`,
};

/**
 * KEYS and ARGV for one reclaim pass. The scan reads ten candidates per
 * wanted delivery (100 to 1000), skipping entries idle less than the
 * shortest reservation seen.
 *
 * @param keys The queue's keys.
 * @param consumer The consumer taking over.
 * @param cursor Where the last pass stopped ("-": from the start).
 * @param want Most deliveries to take over (an integer >= 1).
 * @param shortestSeen Shortest reservation this queue has seen, ms (Infinity: none).
 * @param defaultReservation Reservation of entries that carry none, ms.
 * @returns The call.
 */
export function encode(
  keys: QueueKeys,
  consumer: Consumer,
  cursor: string,
  want: number,
  shortestSeen: number,
  defaultReservation: number,
): ScriptCall {
  const minIdle = Number.isFinite(shortestSeen) ? Math.floor(shortestSeen) : 0;
  const scan = Math.min(1_000, Math.max(100, want * 10));
  return {
    keys: [keys.stream],
    args: [
      consumer.group,
      consumer.name,
      cursor,
      String(want),
      String(scan),
      String(minIdle),
      String(defaultReservation),
    ],
  };
}

/** A reclaim pass's outcome. */
export interface ReclaimReply {
  /** Where the next pass starts ("-": the scan wrapped). */
  readonly cursor: string;
  /** The deliveries taken over, delivery count incremented. */
  readonly deliveries: Delivery[];
  /** Pending ids whose entry was gone (acknowledged away). */
  readonly lost: string[];
}

/**
 * @param reply The script's reply.
 * @param defaultReservation Reservation of entries that carry none, ms.
 * @returns The outcome, or null when the group does not exist.
 */
export function decode(reply: unknown, defaultReservation: number): ReclaimReply | null {
  const r = reply as unknown[];
  if (r[0] === "NOGROUP") return null;
  return {
    cursor: String(r[0]),
    deliveries: (r[1] as unknown[][]).map((c) => decodeDelivery(String(c[0]), c[1], Number(c[2]), defaultReservation)),
    lost: (r[2] as unknown[]).map(String),
  };
}
