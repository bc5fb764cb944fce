/**
 * The Redis Streams transport: `RedisStreamQueue` on `@redis/client` v6,
 * standalone or Cluster.
 *
 * @example
 * ```ts
 * import { RedisStreamQueue } from "@taskrunner/core/redis";
 * const queue = await RedisStreamQueue.connect("redis://127.0.0.1:6379", { queue: "emails" });
 * ```
 *
 * @module
 */
export { RedisStreamQueue, type RedisStreamQueueOptions } from "./queue.ts";
export { redactRedisUrl } from "./_util.ts";
export type {
  RedisClientCommon,
  RedisClientLike,
  RedisClusterClient,
  RedisCommandOptions,
  RedisStandaloneClient,
} from "./_connection.ts";
export { type QueueKeys, queueKeys } from "./keys.ts";
