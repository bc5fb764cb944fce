/**
 * The add script: a batch of tasks, each atomically with its unique lock.
 *
 * @module
 */
import type { AddResult, NewTask } from "../../../src/queue.ts";
import { taskFields } from "../_codec.ts";
import type { QueueKeys } from "../keys.ts";
import { LUA_TIME, type LuaScript, type ScriptCall } from "./_lib.ts";

/**
 * Add a batch of tasks, each atomically with its unique lock.
 *
 * KEYS: 1 stream, 2 delayed set, then one key per unique lock.
 * ARGV: 1 delayed-added channel, 2 task count, then per task:
 * delay, lockIndex (0: none, else index into KEYS), token, holdFor, ttl,
 * dispatchedAt ("" = server now), field count, fields...
 * Returns one string per task: "+" added, or "-<existing task id>" refused.
 */
export const script: LuaScript = {
  name: "add",
  source: LUA_TIME + `
local now = now_ms()
local out = {}
local i = 3
local first_due = nil
for t = 1, tonumber(ARGV[2]) do
  local delay = tonumber(ARGV[i])
  local lock = tonumber(ARGV[i + 1])
  local token, hold, ttl, dat = ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local nf = tonumber(ARGV[i + 6])
  local fields = {}
  for k = 1, nf do fields[k] = ARGV[i + 6 + k] end
  i = i + 7 + nf
  local accepted = true
  if lock > 0 then
    local value = fields[2] .. '\\n' .. token .. '\\n' .. fmt(now) .. '\\n' .. hold .. '\\n' .. ttl
    if not redis.call('SET', KEYS[lock], value, 'NX', 'PX', ttl) then
      local held = redis.call('GET', KEYS[lock])
      out[t] = '-' .. ((held and string.match(held, '^(.-)\\n')) or '')
      accepted = false
    end
  end
  if accepted then
    if dat == '' then dat = fmt(now) end
    fields[#fields + 1] = 'dat'
    fields[#fields + 1] = dat
    fields[#fields + 1] = 'rat'
    if delay > 0 then
      local due = now + delay
      fields[#fields + 1] = fmt(due)
      redis.call('ZADD', KEYS[2], fmt(due), cjson.encode(fields))
      if first_due == nil or due < first_due then first_due = due end
    else
      fields[#fields + 1] = fmt(now)
      redis.call('XADD', KEYS[1], '*', unpack(fields))
    end
    out[t] = '+'
  end
end
if first_due then redis.call('PUBLISH', ARGV[1], fmt(first_due)) end
return out
`,
};

/**
 * KEYS and ARGV for adding `tasks` (at most the batch limit).
 *
 * @param keys The queue's keys.
 * @param tasks Tasks with a unique lock or a delay (plain ones are XADDed directly).
 * @returns The call.
 */
export function encode(keys: QueueKeys, tasks: readonly NewTask[]): ScriptCall {
  const callKeys = [keys.stream, keys.delayed];
  const args = [keys.delayedChannel, String(tasks.length)];
  for (const task of tasks) {
    let lockIndex = 0;
    if (task.unique) {
      callKeys.push(keys.unique(task.unique.key));
      lockIndex = callKeys.length;
    }
    const fields = taskFields(task, task.unique);
    const u = task.unique;
    args.push(
      String(Math.max(0, Math.round(task.delay ?? 0))),
      String(lockIndex),
      u?.token ?? "",
      String(Math.max(0, Math.round(u?.holdFor ?? 0))),
      String(Math.max(1, Math.round(u?.ttl ?? 1))),
      task.dispatchedAt === undefined ? "" : String(Math.round(task.dispatchedAt)),
      String(fields.length),
      ...fields,
    );
  }
  return { keys: callKeys, args };
}

/**
 * Append one result per task to `into`: added, or refused as a duplicate
 * with the id of the task holding the lock.
 *
 * @param reply The script's reply.
 * @param tasks The tasks it was called with, in order.
 * @param into Where the results go.
 */
export function decode(reply: unknown, tasks: readonly NewTask[], into: AddResult[]): void {
  const out = reply as unknown[];
  for (let i = 0; i < tasks.length; i++) {
    const r = String(out[i]);
    into.push(
      r === "+" ? { ok: true, id: tasks[i].id } : { ok: false, reason: "duplicate", existingId: r.length > 1 ? r.slice(1) : null },
    );
  }
}
