import type { LuaScript } from "./_lib.ts";

/**
 * Add a batch of statistics to the stats hash: integer counters with
 * HINCRBY, sums (fields starting "rs:" or "ws:") with HINCRBYFLOAT.
 *
 * KEYS: 1 stats hash. ARGV: field, increment, field, increment, ...
 * Returns the number of fields touched.
 */
export const recordStatsScript: LuaScript = {
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
