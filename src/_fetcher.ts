/**
 * The fetch loops of a runner: each receives deliveries as its consumer, up
 * to the free worker slots, and hands them to the workers; plus the reclaim
 * pass, which takes over deliveries whose consumer stopped heartbeating.
 *
 * @module
 */

import type { AckBatcher } from "./_acks.ts";
import { type Clock, sleep } from "./clock.ts";
import type { ResolvedRunnerConfig } from "./config.ts";
import type { EngineContext } from "./_context.ts";
import type { ResolvedTask } from "./task.ts";
import type { Emitter, RunnerEvents } from "./events.ts";
import type { InstanceRegistration } from "./_instance.ts";
import type { Logger } from "./logger.ts";
import type { Consumer, Delivery, MessageQueue } from "./queue.ts";
import type { Reporter } from "./_report.ts";
import type { Reservations } from "./_reservations.ts";
import { transportBackoff } from "./backoff.ts";
import { reclaimPeriod, shortestReservation } from "./_timing.ts";
import type { Workers } from "./_worker.ts";

/** Receives and reclaims deliveries for one runner. */
export class Fetching {
  #queue: MessageQueue;
  #config: ResolvedRunnerConfig;
  #clock: Clock;
  #logger: Logger;
  #registry: Map<string, ResolvedTask>;
  #reporter: Reporter;
  #emitter: Emitter<RunnerEvents>;
  #instance: InstanceRegistration;
  #workers: Workers;
  #acks: AckBatcher;
  #reservations: Reservations;
  #ctx: EngineContext;

  /**
   * Create the fetch loops' shared state.
   *
   * @param ctx The runner (its registry's reservations set the reclaim period).
   * @param instance Registration and pause state.
   * @param workers The worker slots.
   * @param acks The acks (whether they get through).
   * @param reservations The held deliveries (whether heartbeats get through).
   */
  constructor(
    ctx: EngineContext,
    instance: InstanceRegistration,
    workers: Workers,
    acks: AckBatcher,
    reservations: Reservations,
  ) {
    this.#ctx = ctx;
    this.#queue = ctx.queue;
    this.#config = ctx.config;
    this.#clock = ctx.clock;
    this.#logger = ctx.logger;
    this.#registry = ctx.registry;
    this.#reporter = ctx.reporter;
    this.#emitter = ctx.reporter.emitter;
    this.#instance = instance;
    this.#workers = workers;
    this.#acks = acks;
    this.#reservations = reservations;
  }

  /**
   * Receive and run deliveries as `consumer` until `signal` aborts, never
   * taking more than the free worker slots; holds off while paused, and
   * while acks or heartbeats are not getting through.
   *
   * @param consumer The fetch loop's consumer.
   * @param signal Aborted on shutdown.
   * @returns Resolves when the loop has ended.
   */
  async run(consumer: Consumer, signal: AbortSignal): Promise<void> {
    const config = this.#config;
    const workers = this.#workers;
    let failures = 0;
    while (!signal.aborted) {
      if (this.#instance.paused) {
        await this.#instance.whenResumed();
        continue;
      }
      const free = workers.free;
      if (free <= 0) {
        await workers.whenSlotFreed();
        continue;
      }
      const ackStall = this.#acks.stalledFor(consumer);
      const heartbeatStall = this.#reservations.heartbeatStalledFor();
      const stalled = ackStall > heartbeatStall ? ackStall : heartbeatStall;
      if (stalled > 0) {
        // Acks or heartbeats are not getting through: new work would only
        // add duplicates once its reservations lapse. Wait for the path to heal.
        await this.#rest(stalled, signal);
        continue;
      }
      const count = free < config.batchSize ? free : config.batchSize;
      workers.reserve(count);
      let deliveries: Delivery[];
      try {
        deliveries = await this.#queue.receive(consumer, {
          count,
          block: config.blockDuration,
          signal: this.#instance.fetchSignal,
        });
        failures = 0;
      } catch (error) {
        workers.unreserve(count);
        if (signal.aborted) break;
        if (this.#instance.paused) continue;
        failures++;
        this.#reporter.transport("receive", error);
        await this.#rest(transportBackoff(failures), signal);
        continue;
      }
      workers.unreserve(count);
      if (signal.aborted) {
        // The read ended after stop() began (its abort reached the transport
        // late): a stopping runner starts nothing new. Untouched and not
        // heartbeated, these deliveries are reclaimed by a running runner.
        if (deliveries.length > 0) {
          this.#logger.info("Received tasks after shutdown began: left for another runner to reclaim", {
            count: deliveries.length,
          });
        }
        break;
      }
      for (let i = 0; i < deliveries.length; i++) workers.begin(consumer, deliveries[i]);
    }
  }

  /** Sleep on the runner clock; returns early (without throwing) on shutdown. */
  async #rest(ms: number, signal: AbortSignal): Promise<void> {
    try {
      await sleep(this.#clock, ms, signal);
    } catch {
      // shutdown
    }
  }

  /**
   * How often to look for deliveries to reclaim: half the shortest
   * reservation of the registered tasks, at least 5 ms.
   *
   * @returns The period in ms.
   */
  reclaimInterval(): number {
    return reclaimPeriod(shortestReservation(this.#config.reservationTimeout, this.#registry.values()));
  }

  /**
   * Take over deliveries whose consumer stopped heartbeating, up to the free
   * slots. Slots set aside for a receive call waiting on an empty queue are
   * counted as free here, or a quiet runner would never reclaim: if that
   * receive then returns work too, the runner runs up to `batchSize` tasks
   * over `numWorkers` for a moment.
   *
   * @param consumer The consumer to take them as.
   * @returns Resolves when done (failures are reported).
   */
  async reclaim(consumer: Consumer): Promise<void> {
    if (this.#instance.paused || !this.#ctx.isRunning()) return;
    const free = this.#config.numWorkers - this.#workers.busy;
    if (free <= 0) return;
    const count = free < this.#config.batchSize ? free : this.#config.batchSize;
    let result;
    try {
      result = await this.#queue.reclaim(consumer, count);
    } catch (error) {
      this.#reporter.transport("reclaim", error);
      return;
    }
    for (const deliveryId of result.lost) {
      this.#logger.error("A pending task's stored entry is gone (deleted outside the library)", { deliveryId });
      if (this.#emitter.has("lost")) {
        this.#emitter.emit("lost", { deliveryId, id: null, name: null, reason: "entry-missing" });
      }
    }
    for (const delivery of result.deliveries) {
      this.#logger.info("Reclaimed a task from a stalled consumer", {
        id: delivery.id,
        name: delivery.name,
        deliveryCount: delivery.deliveryCount,
      });
      if (this.#emitter.has("reclaimed")) {
        this.#emitter.emit("reclaimed", {
          id: delivery.id,
          name: delivery.name,
          deliveryId: delivery.deliveryId,
          deliveryCount: delivery.deliveryCount,
        });
      }
      this.#workers.begin(consumer, delivery);
    }
  }
}
