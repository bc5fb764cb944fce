/**
 * Lua fragments shared by several scripts, the script descriptor type and
 * the shape of a call's KEYS and ARGV. Every script takes all the keys it
 * touches in KEYS (Cluster-safe: they share one hash tag) and reads time
 * from the server's `TIME`. Each script's file holds its Lua, its KEYS/ARGV
 * layout, and `encode`/`decode`, the only code that knows that layout.
 *
 * @module
 */

/** A Lua script; its KEYS and ARGV are documented beside it. */
export interface LuaScript {
  /** Short name, used in errors. */
  readonly name: string;
  /** Lua source. */
  readonly source: string;
}

/**
 * The KEYS and ARGV of one script call, built by the script's `encode`.
 * Every key shares the queue's hash tag, so a call is one Cluster slot.
 */
export interface ScriptCall {
  /** KEYS, the stream (or the script's first key) first: a cluster routes by it. */
  readonly keys: string[];
  /** ARGV. */
  readonly args: string[];
}

/** A unique lock a delivery holds: its key and the token that owns it. */
export interface LockRef {
  /** The lock's key. */
  readonly key: string;
  /** The token written by the add that took the lock. */
  readonly token: string;
}

/**
 * `now_ms()`: server time in epoch ms. `fmt(n)`: integer to string without
 * exponent notation.
 */
export const LUA_TIME = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fmt(n)
  return string.format('%d', n)
end
`;

/**
 * `owns(stream, group, consumer, id, count)`: whether `consumer` holds
 * delivery `id` with delivery count `count` (the fencing check; XCLAIM and
 * XACK do not check ownership themselves). A missing group counts as not owned.
 */
export const LUA_OWNS = `
local function owns(stream, group, consumer, id, count)
  local p = redis.pcall('XPENDING', stream, group, id, id, 1, consumer)
  if type(p) ~= 'table' or p.err or #p == 0 then return false end
  return tonumber(p[1][4]) == tonumber(count)
end
`;

/**
 * The start of a script that acts on one delivery only for its owner (retry,
 * dead letter): binds `stream` (KEYS[1]), `group`, `consumer` and `id`
 * (ARGV[1..3]), returns 0 unless `consumer` still holds delivery `id` with
 * delivery count ARGV[4], and binds `now` to the server time. Comes after
 * {@linkcode LUA_TIME} and {@linkcode LUA_OWNS}.
 */
export const LUA_OWNER_CHECK = `
local stream, group, consumer, id = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
if not owns(stream, group, consumer, id, ARGV[4]) then return 0 end
local now = now_ms()
`;

/**
 * `consumers(stream, group)`: the group's consumers, each as a table of its
 * XINFO CONSUMERS fields (`name`, `pending`, `idle`, ...), or nil when the
 * group (or the stream) does not exist.
 */
export const LUA_CONSUMERS = `
local function consumers(stream, group)
  local info = redis.pcall('XINFO', 'CONSUMERS', stream, group)
  if type(info) ~= 'table' or info.err then return nil end
  local out = {}
  for i, c in ipairs(info) do
    local f = {}
    for j = 1, #c, 2 do f[c[j]] = c[j + 1] end
    out[i] = f
  end
  return out
end
`;

/**
 * `prune(now)`: drop instances whose expiry (score in KEYS[1], the expiry
 * set) is before `now`, and their info in KEYS[2]. Comes after
 * {@linkcode LUA_TIME}.
 */
export const LUA_PRUNE_INSTANCES = `
local function prune(now)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. fmt(now))
  for _, id in ipairs(gone) do
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
  end
end
`;

/**
 * Unique locks. The value is `taskId\ntoken\ntakenAt\nholdFor\nttl`.
 * `lock_parse(v)` splits it; `lock_release(key, token, now)` releases by
 * token, keeping the lock until `takenAt + holdFor`; `lock_extend(key,
 * token, ms)` makes the lock live at least `ms` more when the token matches.
 */
export const LUA_LOCK = `
local function lock_parse(v)
  if not v then return nil end
  local id, tok, taken, hold, ttl = string.match(v, '^(.-)\\n(.-)\\n(%d+)\\n(%d+)\\n(%d+)$')
  if not id then return nil end
  return { id = id, token = tok, taken = tonumber(taken), hold = tonumber(hold), ttl = tonumber(ttl) }
end
local function lock_release(key, token, now)
  local l = lock_parse(redis.call('GET', key))
  if not l or l.token ~= token then return end
  local rest = l.taken + l.hold - now
  if rest > 0 then redis.call('PEXPIRE', key, fmt(rest)) else redis.call('DEL', key) end
end
local function lock_extend(key, token, extra)
  local l = lock_parse(redis.call('GET', key))
  if not l or l.token ~= token then return end
  local want = l.ttl + (extra or 0)
  if redis.call('PTTL', key) < want then redis.call('PEXPIRE', key, fmt(want)) end
end
`;

/**
 * `complete(stream, group, id, deleteOnAck)`: XACK, then XDEL unless another
 * consumer group has not yet received or acknowledged the entry.
 */
export const LUA_COMPLETE = `
local other_groups = nil
local function id_after(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am or not bm then return false end
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end
local function needed_elsewhere(stream, group, id)
  if other_groups == nil then
    other_groups = {}
    local info = redis.pcall('XINFO', 'GROUPS', stream)
    if type(info) == 'table' and not info.err then
      for _, g in ipairs(info) do
        local name, last
        for j = 1, #g, 2 do
          if g[j] == 'name' then name = g[j + 1] elseif g[j] == 'last-delivered-id' then last = g[j + 1] end
        end
        if name ~= group then other_groups[#other_groups + 1] = { name, last } end
      end
    end
  end
  for _, g in ipairs(other_groups) do
    if id_after(id, g[2]) then return true end
    local p = redis.call('XPENDING', stream, g[1], id, id, 1)
    if #p > 0 then return true end
  end
  return false
end
local function complete(stream, group, id, delete)
  redis.call('XACK', stream, group, id)
  if delete == '1' and not needed_elsewhere(stream, group, id) then
    redis.call('XDEL', stream, id)
  end
end
`;
