/**
 * Blocking reads, each consumer on its own duplicated connection (a blocked
 * XREADGROUP holds its connection, so it must not share the queue's).
 *
 * @module
 */
import { TransportError } from "../../src/errors.ts";
import type { Logger } from "../../src/logger.ts";
import type { Consumer } from "../../src/queue.ts";
import { Connection, type RedisClientLike } from "./_connection.ts";
import { ABORT_GRACE, withDeadline } from "./_util.ts";

/** How a blocking read ended without its reply. */
const STALLED: unique symbol = Symbol("stalled");
const ABORTED: unique symbol = Symbol("aborted");

interface Blocker {
  conn: Connection;
  ready: Promise<void>;
  /** `ready` has resolved: reads no longer wait on it. */
  connected: boolean;
  clientId: Promise<string> | null;
}

/** The blocking connections of one queue, by consumer name. */
export class BlockingReaders {
  #main: Connection;
  #stream: string;
  #name: string;
  #logger: Logger;
  #commandTimeout: number;
  #closing: AbortSignal;
  #blockers = new Map<string, Blocker>();

  /**
   * @param main The queue's connection (duplicated per consumer; sends CLIENT UNBLOCK).
   * @param stream The stream key (routes commands on a cluster).
   * @param name The queue's name, for messages.
   * @param logger Where connection errors go.
   * @param commandTimeout Extra wait beyond a window before a read is dropped, in ms.
   * @param closing Aborted when the queue closes: unblocks every read.
   */
  constructor(
    main: Connection,
    stream: string,
    name: string,
    logger: Logger,
    commandTimeout: number,
    closing: AbortSignal,
  ) {
    this.#main = main;
    this.#stream = stream;
    this.#name = name;
    this.#logger = logger;
    this.#commandTimeout = commandTimeout;
    this.#closing = closing;
  }

  #blocker(name: string): Blocker {
    let blocker = this.#blockers.get(name);
    if (!blocker) {
      const client = this.#main.client.duplicate() as RedisClientLike;
      client.on("error", (error: Error) => {
        if (blocker) blocker.clientId = null;
        if (!this.#closing.aborted) this.#logger.warn("redis blocking connection error", { queue: this.#name, error: error.message });
      });
      const conn = new Connection(client);
      const created: Blocker = { conn, ready: client.connect().then(() => { created.connected = true; }), connected: false, clientId: null };
      blocker = created;
      blocker.ready.catch(() => this.#blockers.delete(name));
      this.#blockers.set(name, blocker);
    }
    return blocker;
  }

  /**
   * Send one XREADGROUP BLOCK (`args`) on the consumer's own connection. An
   * abort (the caller's signal or close) sends CLIENT UNBLOCK, so the read
   * returns at once with nothing taken; without that permission it ends
   * with its window, or is dropped after a grace period.
   *
   * @param consumer Whose connection to use.
   * @param args The XREADGROUP command.
   * @param window Its BLOCK value, in ms.
   * @param signal Ends the wait early.
   * @returns The raw reply (null when nothing came).
   * @throws TransportError when the server does not answer in time.
   */
  async read(consumer: Consumer, args: string[], window: number, signal?: AbortSignal): Promise<unknown> {
    const blocker = this.#blocker(consumer.name);
    if (!blocker.connected) await withDeadline(blocker.ready, this.#commandTimeout, "connecting the blocking reader");
    const conn = blocker.conn;
    let clientId = blocker.clientId;
    if (clientId === null) {
      const asked = conn.send(this.#stream, ["CLIENT", "ID"]).then(String);
      blocker.clientId = clientId = asked;
      asked.catch(() => {
        if (blocker.clientId === asked) blocker.clientId = null;
      });
    }
    const read = conn.send(this.#stream, args);
    // The client's own timeout stops at the socket: bound the wait here. A
    // read that outlives its window by this margin means a dead or cut-off
    // connection; it is dropped and the next call opens a new one.
    // One promise settled by the reply, its failure, or giving up (a symbol).
    let giveUp: (outcome: unknown) => void = () => {};
    let fail: (error: unknown) => void = () => {};
    const settled = new Promise<unknown>((resolve, reject) => {
      giveUp = resolve;
      fail = reject;
    });
    read.then(giveUp, fail);
    let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => giveUp(STALLED), window + this.#commandTimeout);
    let unblocked = false;
    const onAbort = () => {
      if (unblocked) return;
      unblocked = true;
      clientId
        .then((id) => this.#main.send(this.#stream, ["CLIENT", "UNBLOCK", id]))
        .catch(() => {/* no permission or gone: the window ends the read */});
      // Normally the unblocked read answers at once; if it cannot, stop waiting.
      clearTimeout(timer);
      timer = setTimeout(() => giveUp(ABORTED), ABORT_GRACE);
    };
    signal?.addEventListener("abort", onAbort);
    this.#closing.addEventListener("abort", onAbort);
    if (signal?.aborted) onAbort();
    try {
      const outcome = await settled;
      if (outcome !== STALLED && outcome !== ABORTED) return outcome;
      this.#dropBlocker(consumer.name, blocker);
      if (outcome === ABORTED) return null;
      throw new TransportError(
        `Redis did not answer a ${window} ms blocking read within ${window + this.#commandTimeout} ms (${this.#name})`,
      );
    } catch (error) {
      blocker.clientId = null;
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.#closing.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Send one XREADGROUP without BLOCK (`args`) on the consumer's own
   * connection, if it is ready. It answers at once, so it needs no abort
   * handling; a connection that does not answer within the command timeout
   * is dropped, as a stalled blocking read's is.
   *
   * @param consumer Whose connection to use.
   * @param args The XREADGROUP command, without BLOCK.
   * @returns The raw reply; undefined when the connection is not ready (use {@linkcode read}).
   */
  readNow(consumer: Consumer, args: string[]): Promise<unknown> | undefined {
    const blocker = this.#blockers.get(consumer.name);
    if (blocker === undefined || !blocker.connected) return undefined;
    let answered = false;
    const read = blocker.conn.send(this.#stream, args).finally(() => answered = true);
    return withDeadline(read, this.#commandTimeout, `a read (${this.#name})`).catch((error: unknown) => {
      // Unanswered: the connection is dropped; failed: its id is asked again.
      if (answered) blocker.clientId = null;
      else this.#dropBlocker(consumer.name, blocker);
      throw error;
    });
  }

  #dropBlocker(name: string, blocker: Blocker): void {
    if (this.#blockers.get(name) === blocker) this.#blockers.delete(name);
    try {
      blocker.conn.client.destroy();
    } catch { /* already closed */ }
  }

  /**
   * Close the blocking connections of these consumers (destroying those
   * that do not answer); a later read opens a new one. Idempotent.
   *
   * @param names Consumer names.
   */
  async release(names: readonly string[]): Promise<void> {
    const blockers: Blocker[] = [];
    for (const name of names) {
      const blocker = this.#blockers.get(name);
      if (blocker === undefined) continue;
      this.#blockers.delete(name);
      blockers.push(blocker);
    }
    await Promise.all(blockers.map(shutBlocker));
  }

  /** Close every blocking connection (destroying those that do not answer). */
  async close(): Promise<void> {
    await this.release([...this.#blockers.keys()]);
  }
}

function shutBlocker(blocker: Blocker): Promise<void> {
  // A connection that is not ready (Redis down, still reconnecting) has
  // nothing to close gracefully: destroy it at once instead of waiting for a
  // server that may not come back, so stop() is not held up by it.
  if ("isReady" in blocker.conn.client && blocker.conn.client.isReady === false) {
    try {
      blocker.conn.client.destroy();
    } catch { /* already gone */ }
    return Promise.resolve();
  }
  return shutConnection(blocker.conn);
}

/**
 * Close a connection gracefully; a cut-off server never answers the pending
 * commands a graceful close waits for, so fall back to destroying it.
 */
export async function shutConnection(conn: Connection): Promise<void> {
  try {
    await withDeadline(conn.client.close(), ABORT_GRACE, "a connection close");
  } catch {
    try {
      conn.client.destroy();
    } catch { /* already gone */ }
  }
}
