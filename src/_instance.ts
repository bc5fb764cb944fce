/**
 * A runner's presence in the fleet: its entry in the live-instance registry,
 * refreshed every `instanceInterval`, and the fleet-wide pause flag, polled
 * on the same beat. Pausing ends the receive calls waiting, and holds the
 * fetch loops until resumed.
 *
 * @module
 */

import type { EngineContext } from "./_context.ts";
import { type Gate, newGate, openGate } from "./_gate.ts";
import type { Reporter } from "./_report.ts";
import type { InstanceInfo, MessageQueue } from "./queue.ts";

/** The instance registration and pause state of one runner. */
export class InstanceRegistration {
  #queue: MessageQueue;
  #instanceInterval: number;
  #reporter: Reporter;
  #isStopping: () => boolean;
  #info: InstanceInfo | null = null;
  #paused = false;
  /** Resolved (and cleared) on resume or shutdown. */
  #pauseGate: Gate | null = null;
  /** Aborts the receive calls in flight (on pause and on shutdown). */
  #fetchAbort: AbortController = new AbortController();

  /**
   * Create an unregistered instance.
   *
   * @param ctx The runner (its `instanceInterval` is the refresh period; the registration lives three of them).
   * @param isStopping Whether the runner is stopping (a pause then leaves receive calls aborted).
   */
  constructor(ctx: EngineContext, isStopping: () => boolean) {
    this.#queue = ctx.queue;
    this.#instanceInterval = ctx.config.instanceInterval;
    this.#reporter = ctx.reporter;
    this.#isStopping = isStopping;
  }

  /** Id in the live-instance registry while registered; null otherwise. */
  get id(): string | null {
    return this.#info?.id ?? null;
  }

  /** Whether consuming is paused fleet-wide, as last seen. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Aborted when the receive calls in flight must end (pause or shutdown). */
  get fetchSignal(): AbortSignal {
    return this.#fetchAbort.signal;
  }

  /**
   * Wait until resumed (or shut down).
   *
   * @returns Resolves on resume or shutdown.
   */
  whenResumed(): Promise<void> {
    return (this.#pauseGate ??= newGate()).promise;
  }

  /** Arm a fresh fetch signal (on start). */
  arm(): void {
    this.#fetchAbort = new AbortController();
  }

  /**
   * Register in the live-instance registry, then read the pause flag (a
   * failure to read it is reported, not thrown).
   *
   * @param info This runner's entry.
   * @throws Whatever `registerInstance` throws; the instance is then unregistered.
   */
  async register(info: InstanceInfo): Promise<void> {
    this.#info = info;
    try {
      await this.#queue.registerInstance(info, this.#instanceInterval * 3);
    } catch (error) {
      this.#info = null;
      throw error;
    }
    try {
      this.#paused = await this.#queue.isPaused();
    } catch (error) {
      this.#reporter.transport("isPaused", error);
    }
  }

  /**
   * Refresh the registration with the busy count, and poll the pause flag.
   * Failures are reported, never thrown.
   *
   * @param busy Worker slots taken now.
   * @returns Resolves when done.
   */
  async tick(busy: number): Promise<void> {
    const info = this.#info;
    if (info === null) return;
    info.busy = busy;
    try {
      await this.#queue.registerInstance(info, this.#instanceInterval * 3);
    } catch (error) {
      this.#reporter.transport("registerInstance", error);
    }
    try {
      this.setPaused(await this.#queue.isPaused());
    } catch (error) {
      this.#reporter.transport("isPaused", error);
    }
  }

  /**
   * Follow the pause flag: pausing ends the receive calls waiting now, so
   * nothing more is taken; resuming releases the fetch loops.
   *
   * @param paused The flag.
   */
  setPaused(paused: boolean): void {
    if (paused === this.#paused) return;
    this.#paused = paused;
    if (paused) {
      this.#fetchAbort.abort();
      this.#fetchAbort = new AbortController();
      if (this.#isStopping()) this.#fetchAbort.abort();
    } else {
      openGate(this.#pauseGate);
      this.#pauseGate = null;
    }
  }

  /**
   * Shutting down: abort the receive calls and release paused fetch loops.
   *
   * @param reason The abort reason.
   */
  shutdown(reason: unknown): void {
    this.#fetchAbort.abort(reason);
    openGate(this.#pauseGate);
    this.#pauseGate = null;
  }

  /**
   * Leave the live-instance registry (failures are reported).
   *
   * @returns Resolves when done; null when not registered.
   */
  unregister(): Promise<void> | null {
    const info = this.#info;
    if (info === null) return null;
    return this.#queue.unregisterInstance(info.id).catch((e) => this.#reporter.transport("unregisterInstance", e));
  }

  /** Forget the registration (once stopped). */
  clear(): void {
    this.#info = null;
  }
}
