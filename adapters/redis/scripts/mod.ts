/**
 * The Lua scripts of the Redis transport, one per file, each exported as a
 * namespace: `script` (the Lua, with its KEYS/ARGV layout documented),
 * `encode(...)` (that layout's KEYS and ARGV from typed values) and, where
 * the reply is read, `decode(reply, ...)`.
 *
 * @module
 */
export type { LockRef, LuaScript, ScriptCall } from "./_lib.ts";
export * as add from "./add.ts";
export * as ack from "./ack.ts";
export * as heartbeat from "./heartbeat.ts";
export * as reclaim from "./reclaim.ts";
export * as retry from "./retry.ts";
export * as deadLetter from "./dead_letter.ts";
export * as claimFailedHandlers from "./claim_failed_handlers.ts";
export * as deleteDeadLetter from "./delete_dead_letter.ts";
export * as promote from "./promote.ts";
export * as replayDeadLetter from "./replay_dead_letter.ts";
export * as counts from "./counts.ts";
export * as removeConsumer from "./remove_consumer.ts";
export * as pruneConsumers from "./prune_consumers.ts";
export * as recordStats from "./record_stats.ts";
export * as registerInstance from "./register_instance.ts";
export * as unregisterInstance from "./unregister_instance.ts";
export * as listInstances from "./list_instances.ts";
