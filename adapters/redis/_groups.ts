/**
 * The consumer groups of one queue's stream: the server check done once
 * before the first group is created (Redis >= 7.0, `maxmemory-policy`),
 * group creation, and recreating a group that vanished (NOGROUP).
 *
 * @module
 */
import { TransportError } from "../../src/errors.ts";
import type { Logger } from "../../src/logger.ts";
import type { Connection } from "./_connection.ts";

/** Creates, remembers and recreates the consumer groups of one stream. */
export class Groups {
  #conn: Connection;
  #stream: string;
  #queueName: string;
  #logger: Logger;
  #checked: Promise<void> | null = null;
  #known = new Set<string>();
  #recovering = new Map<string, Promise<void>>();

  /**
   * @param conn Commands to Redis.
   * @param stream The stream key.
   * @param queueName The queue's name, for logs.
   * @param logger Where warnings go.
   */
  constructor(conn: Connection, stream: string, queueName: string, logger: Logger) {
    this.#conn = conn;
    this.#stream = stream;
    this.#queueName = queueName;
    this.#logger = logger;
  }

  /**
   * Check the server once (a failed check is tried again on the next
   * call), then create `group` if missing and remember it.
   *
   * @throws TransportError when Redis is older than 7.0.
   */
  async init(group: string): Promise<void> {
    this.#checked ??= this.#checkServer().catch((error) => {
      this.#checked = null;
      throw error;
    });
    await this.#checked;
    await this.#create(group);
    this.#known.add(group);
  }

  /** Whether `group` was created by {@linkcode Groups.init} on this queue. */
  has(group: string): boolean {
    return this.#known.has(group);
  }

  /**
   * Recreate a group that vanished (stream deleted, group destroyed,
   * restart without persistence); concurrent calls for one group share one
   * attempt, and only the first logs.
   *
   * @param group The group.
   * @param cause What showed it missing, for the log.
   */
  recover(group: string, cause: unknown): Promise<void> {
    let pending = this.#recovering.get(group);
    if (!pending) {
      this.#logger.error(
        "consumer group missing (stream deleted, group destroyed, or Redis restarted without persistence): recreating it; tasks that were in flight may be lost",
        { queue: this.#queueName, group, error: cause instanceof Error ? cause.message : String(cause) },
      );
      pending = this.#create(group).finally(() => this.#recovering.delete(group));
      this.#recovering.set(group, pending);
    }
    return pending;
  }

  async #create(group: string): Promise<void> {
    try {
      await this.#conn.send(this.#stream, ["XGROUP", "CREATE", this.#stream, group, "0", "MKSTREAM"]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("BUSYGROUP")) throw error;
    }
  }

  async #checkServer(): Promise<void> {
    let server: string;
    try {
      server = String(await this.#conn.send(this.#stream, ["INFO", "server"]));
    } catch (error) {
      this.#logger.warn("cannot read INFO to check the Redis version", {
        queue: this.#queueName,
        error: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    const version = /redis_version:(\d+)\.(\d+)/.exec(server);
    if (version && Number(version[1]) < 7) {
      throw new TransportError(
        `RedisStreamQueue needs Redis >= 7.0 (XAUTOCLAIM/XPENDING semantics, exclusive ranges); server reports ${
          version[1]
        }.${version[2]}`,
      );
    }
    try {
      const memory = String(await this.#conn.send(this.#stream, ["INFO", "memory"]));
      const policy = /maxmemory_policy:(\S+)/.exec(memory)?.[1];
      if (policy && policy !== "noeviction") {
        this.#logger.warn(
          `Redis maxmemory-policy is '${policy}': under memory pressure Redis may evict queue keys (tasks, unique locks) silently; set it to 'noeviction'`,
          { queue: this.#queueName, policy },
        );
      }
    } catch { /* INFO memory refused by ACL: nothing to check */ }
  }
}
