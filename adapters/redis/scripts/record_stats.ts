/**
 * The record-stats script: add a batch of statistics to the stats hash.
 *
 * @module
 */
import type { StatsDelta } from "../../../src/queue.ts";
import { statsFields } from "../_stats.ts";
import { chunks } from "../_util.ts";
import type { QueueKeys } from "../keys.ts";
import type { LuaScript, ScriptCall } from "./_lib.ts";

/**
 * Add a batch of statistics to the stats hash: integer counters with
 * HINCRBY, sums (fields starting "rs:" or "ws:") with HINCRBYFLOAT.
 *
 * KEYS: 1 stats hash. ARGV: field, increment, field, increment, ...
 * Returns the number of fields touched.
 */
export const script: LuaScript = {
  name: "recordStats",
  source: `
for i = 1, #ARGV, 2 do
  local f = ARGV[i]
  local kind = string.sub(f, 1, 3)
  if kind == 'rs:' or kind == 'ws:' then
    redis.call('HINCRBYFLOAT', KEYS[1], f, ARGV[i + 1])
  else
    redis.call('HINCRBY', KEYS[1], f, ARGV[i + 1])
  end
end
return #ARGV / 2
`,
};

/** Most ARGV per call (field/increment pairs), well under Lua's unpack limit. */
const MAX_ARGS = 4_000;

/**
 * The calls that add `delta` (one per 2000 fields; none for an empty delta).
 *
 * @param keys The queue's keys.
 * @param delta The statistics to add.
 * @returns The calls, to be made in order.
 */
export function encode(keys: QueueKeys, delta: StatsDelta): ScriptCall[] {
  const callKeys = [keys.stats];
  return chunks(statsFields(delta), MAX_ARGS).map((args) => ({ keys: callKeys, args }));
}
