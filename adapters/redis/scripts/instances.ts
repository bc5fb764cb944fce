import { LUA_TIME, type LuaScript } from "./_lib.ts";

const PRUNE = `
local function prune(now)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. fmt(now))
  for _, id in ipairs(gone) do
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
  end
end
`;

/**
 * Register or refresh a live runner instance; its entry expires `ttl` ms
 * after this call, on the server's clock. Expired entries are pruned.
 *
 * KEYS: 1 expiry set (score = expiry ms), 2 info hash ("lastSeen\\njson").
 * ARGV: 1 instance id, 2 info JSON, 3 ttl ms.
 */
export const registerInstanceScript: LuaScript = {
  name: "registerInstance",
  source: LUA_TIME + PRUNE + `
local now = now_ms()
prune(now)
redis.call('ZADD', KEYS[1], fmt(now + tonumber(ARGV[3])), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], fmt(now) .. '\\n' .. ARGV[2])
return 1
`,
};

/**
 * List live instances, pruning expired ones.
 *
 * KEYS: 1 expiry set, 2 info hash. Returns the stored "lastSeen\\njson" values.
 */
export const listInstancesScript: LuaScript = {
  name: "listInstances",
  source: LUA_TIME + PRUNE + `
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
 * Remove an instance from the registry.
 *
 * KEYS: 1 expiry set, 2 info hash. ARGV: 1 instance id.
 */
export const unregisterInstanceScript: LuaScript = {
  name: "unregisterInstance",
  source: `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`,
};
