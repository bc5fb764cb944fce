/**
 * One shape over a standalone `@redis/client` client and a cluster client:
 * raw commands routed by their first key, with the per-command timeout off
 * (the client's default 5 s timer per command costs half the throughput),
 * and Lua scripts by EVALSHA with an EVAL fallback on NOSCRIPT.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { LuaScript, ScriptCall } from "./scripts/_lib.ts";

/** Per-command options we pass (a subset of `@redis/client`'s). */
export interface RedisCommandOptions {
  /** Milliseconds before the client gives up waiting; 0 disables the timer. */
  timeout?: number;
}

/**
 * The members the queue uses that a standalone client and a cluster client
 * share; `Self` is the client's own type (what `duplicate()` returns).
 */
export interface RedisClientCommon<Self> {
  duplicate(): Self;
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): unknown;
  subscribe(channel: string, listener: (message: string, channel: string) => unknown): Promise<unknown>;
  on(event: "error", listener: (error: Error) => void): unknown;
  readonly isOpen: boolean;
}

/**
 * The part of a standalone `@redis/client` v6 client (`createClient()`) the
 * queue uses. The real client satisfies it.
 */
export interface RedisStandaloneClient extends RedisClientCommon<RedisStandaloneClient> {
  sendCommand(args: readonly string[], options?: RedisCommandOptions): Promise<unknown>;
  /** Connected and answering (false while reconnecting). */
  readonly isReady?: boolean;
}

/**
 * The part of a `@redis/client` v6 cluster client (`createCluster()`) the
 * queue uses. The real cluster client satisfies it.
 */
export interface RedisClusterClient extends RedisClientCommon<RedisClusterClient> {
  /** Present on cluster clients only; used to tell the two apart. */
  readonly masters: readonly unknown[];
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
    options?: RedisCommandOptions,
  ): Promise<unknown>;
}

/** A connected `@redis/client` client or cluster client. */
export type RedisClientLike = RedisStandaloneClient | RedisClusterClient;

const NO_TIMEOUT: RedisCommandOptions = Object.freeze({ timeout: 0 });
const shas = new WeakMap<LuaScript, string>();

function shaOf(script: LuaScript): string {
  let sha = shas.get(script);
  if (!sha) {
    sha = createHash("sha1").update(script.source).digest("hex");
    shas.set(script, sha);
  }
  return sha;
}

/** Whether an error is Redis's NOGROUP (or UNBLOCKED: the stream was deleted). */
export function isNoGroupError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith("NOGROUP") || message.startsWith("UNBLOCKED");
}

/** Commands over either client kind. */
export class Connection {
  /** The wrapped client. */
  readonly client: RedisClientLike;
  /** Whether it is a cluster client. */
  readonly cluster: boolean;

  /** @param client A standalone or cluster client. */
  constructor(client: RedisClientLike) {
    this.client = client;
    this.cluster = "masters" in client;
  }

  /**
   * Send one command, routed (on a cluster) by `key`.
   *
   * @param key The command's first key, or undefined for keyless commands.
   * @param args Command and arguments.
   * @param options Per-command options; no timeout timer by default.
   * @returns The raw reply.
   */
  send(key: string | undefined, args: string[], options: RedisCommandOptions = NO_TIMEOUT): Promise<unknown> {
    if (this.cluster) {
      return (this.client as RedisClusterClient).sendCommand(key, false, args, options);
    }
    return (this.client as RedisStandaloneClient).sendCommand(args, options);
  }

  /**
   * Load scripts into the server's cache ahead of their first use (on a
   * cluster, on the node serving `key`), so the first call pays no NOSCRIPT
   * round trip. Failures (an ACL without SCRIPT) are ignored: EVAL still works.
   *
   * @param key A key of the queue (routes the load on a cluster).
   * @param scripts The scripts.
   */
  async preload(key: string, scripts: readonly LuaScript[]): Promise<void> {
    await Promise.all(scripts.map((s) => this.send(key, ["SCRIPT", "LOAD", s.source]).catch(() => {})));
  }

  /**
   * Run a script by EVALSHA, loading it with EVAL when the server does not
   * have it (restart, failover, SCRIPT FLUSH).
   *
   * @param script The script.
   * @param call Its KEYS (all it touches; the first routes the call on a cluster) and ARGV.
   * @returns The script's reply.
   */
  async eval(script: LuaScript, call: ScriptCall): Promise<unknown> {
    const { keys, args } = call;
    const tail = [String(keys.length)].concat(keys, args);
    try {
      return await this.send(keys[0], ["EVALSHA", shaOf(script)].concat(tail));
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await this.send(keys[0], ["EVAL", script.source].concat(tail));
    }
  }
}
