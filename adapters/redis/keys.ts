/**
 * Key layout of one queue. Every key starts with the hash tag
 * `{<prefix>:<queue>}`, so all keys of a queue live in one Redis Cluster
 * slot and every script can take them all in KEYS; user-supplied parts
 * (unique keys, once keys) come after the tag and cannot move a key to
 * another slot.
 *
 * | key | type | holds |
 * |---|---|---|
 * | `{p:q}:stream` | stream | outstanding tasks (ready or in flight); consumer groups |
 * | `{p:q}:delayed` | sorted set | delayed tasks and retries, scored by due time (ms) |
 * | `{p:q}:dead` | stream | dead letters with reason and error |
 * | `{p:q}:handlers` | sorted set | dead letter ids whose failed-task handler has not completed, scored by lease expiry (ms) |
 * | `{p:q}:unique:<key>` | string | unique lock: task id, token, taken-at, holdFor, ttl |
 * | `{p:q}:stats` | hash | fleet-wide counters, sums and histogram buckets |
 * | `{p:q}:instances` | sorted set | live runner instances, scored by expiry (ms) |
 * | `{p:q}:instance-info` | hash | instance id → last seen + info JSON |
 * | `{p:q}:paused` | string | present while consuming is paused |
 * | `{p:q}:once:<key>` | string | one-shot tokens (`claimOnce`), with a TTL |
 *
 * Pub/sub channel `{p:q}:delayed-added` carries the due time of each newly
 * delayed task, so promoters in other processes wake early.
 *
 * @module
 */

/** The keys (and channel) of one queue. */
export interface QueueKeys {
  /** The hash tag, `{prefix:queue}`. */
  readonly tag: string;
  readonly stream: string;
  readonly delayed: string;
  readonly dead: string;
  /** Pending failed-handler calls (dead letter ids by lease expiry). */
  readonly handlers: string;
  readonly stats: string;
  readonly instances: string;
  readonly instanceInfo: string;
  readonly paused: string;
  /** Pub/sub channel announcing newly delayed tasks. */
  readonly delayedChannel: string;
  /** Key of the unique lock for an engine lock key. */
  unique(key: string): string;
  /** Key of a one-shot token. */
  once(key: string): string;
}

/**
 * Build the key names of a queue.
 *
 * @param prefix Namespace shared by the application's queues.
 * @param queue Queue name.
 * @returns The key builder.
 */
export function queueKeys(prefix: string, queue: string): QueueKeys {
  const tag = `{${prefix}:${queue}}`;
  return {
    tag,
    stream: `${tag}:stream`,
    delayed: `${tag}:delayed`,
    dead: `${tag}:dead`,
    handlers: `${tag}:handlers`,
    stats: `${tag}:stats`,
    instances: `${tag}:instances`,
    instanceInfo: `${tag}:instance-info`,
    paused: `${tag}:paused`,
    delayedChannel: `${tag}:delayed-added`,
    unique: (key) => `${tag}:unique:${key}`,
    once: (key) => `${tag}:once:${key}`,
  };
}
