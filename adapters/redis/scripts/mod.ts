/**
 * The Lua scripts of the Redis transport, one per file. A script converted
 * to its own codec is exported as a namespace: `script` (the Lua),
 * `encode(...)` (its KEYS and ARGV) and `decode(reply, ...)`.
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
export { claimFailedHandlersScript, deleteDeadLetterScript } from "./failed_handlers.ts";
export * as promote from "./promote.ts";
export * as replayDeadLetter from "./replay_dead_letter.ts";
export * as counts from "./counts.ts";
export * as removeConsumer from "./remove_consumer.ts";
export * as pruneConsumers from "./prune_consumers.ts";
export { recordStatsScript } from "./record_stats.ts";
export { listInstancesScript, registerInstanceScript, unregisterInstanceScript } from "./instances.ts";
