/**
 * The deliveries a runner holds (running or awaiting their ack) and keeps
 * reserved: one heartbeat timer for all of them, every third of the
 * shortest reservation held, one heartbeat call per consumer; and what
 * happens when a reservation is lost to another consumer.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { EngineContext } from "./_context.ts";
import { ReservationLostError } from "./errors.ts";
import type { Emitter, LostEvent, RunnerEvents } from "./events.ts";
import type { Execution } from "./_execution.ts";
import type { Logger } from "./logger.ts";
import type { Reporter } from "./_report.ts";
import type { Consumer, Delivery, MessageQueue } from "./queue.ts";
import { heartbeatPeriod, MIN_STALL_PERIOD, shortestHeldReservation, stallPeriod } from "./_timing.ts";

/** Held deliveries of one runner, and their heartbeats. */
export class Reservations {
  /** Deliveries this runner owns and heartbeats, by delivery id. */
  #held: Map<string, Execution> = new Map();
  #queue: MessageQueue;
  #clock: Clock;
  #logger: Logger;
  #reporter: Reporter;
  #emitter: Emitter<RunnerEvents>;
  /** The runner's default reservation, in ms. */
  #reservationTimeout: number;

  #timer: unknown = null;
  #dueAt = Infinity;
  /** Period the armed heartbeat timer was set for, in ms. */
  #period = Infinity;
  /** Heartbeat calls in flight, and when the newest was sent. */
  #inFlight = 0;
  #sentAt = 0;

  /**
   * Create an empty set of reservations.
   *
   * @param ctx The runner (its failures and `lost` events are reported).
   */
  constructor(ctx: EngineContext) {
    this.#queue = ctx.queue;
    this.#clock = ctx.clock;
    this.#logger = ctx.logger;
    this.#reporter = ctx.reporter;
    this.#emitter = ctx.reporter.emitter;
    this.#reservationTimeout = ctx.config.reservationTimeout;
  }

  /**
   * The execution holding a delivery, if any.
   *
   * @param deliveryId The delivery's id.
   * @returns The execution, or undefined.
   */
  get(deliveryId: string): Execution | undefined {
    return this.#held.get(deliveryId);
  }

  /**
   * Hold a delivery (replacing any earlier execution of it).
   *
   * @param execution The execution of the delivery.
   */
  hold(execution: Execution): void {
    this.#held.set(execution.delivery.deliveryId, execution);
  }

  /** Forget every held delivery (once the runner stopped). */
  clear(): void {
    this.#held.clear();
  }

  /**
   * Stop holding a delivery (unless a fresher execution holds it now).
   *
   * @param execution The execution.
   */
  release(execution: Execution): void {
    const id = execution.delivery.deliveryId;
    if (this.#held.get(id) === execution) this.#held.delete(id);
  }

  /**
   * Another consumer owns the delivery now: abort the run, stop holding it,
   * log and emit `lost`. Once per execution.
   *
   * @param execution The execution.
   * @param reason Why it was lost.
   */
  markLost(execution: Execution, reason: LostEvent["reason"]): void {
    if (!execution.lose(new ReservationLostError(execution.id))) return;
    const id = execution.delivery.deliveryId;
    if (this.#held.get(id) === execution) this.#held.delete(id);
    this.#logger.warn("Lost the reservation of a task", { id: execution.id, name: execution.name, reason });
    if (this.#emitter.has("lost")) {
      this.#emitter.emit("lost", { deliveryId: id, id: execution.id, name: execution.name, reason });
    }
  }

  /**
   * Make sure the heartbeat timer fires within a third of `reservationTimeout`.
   *
   * @param reservationTimeout A reservation just taken, in ms.
   */
  arm(reservationTimeout: number): void {
    const period = heartbeatPeriod(reservationTimeout);
    // The armed timer already comes sooner: no clock read on the hot path.
    if (this.#timer !== null && period >= this.#period) return;
    const now = this.#clock.now();
    const due = now + period;
    if (this.#timer !== null && due >= this.#dueAt) return;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#dueAt = due;
    this.#period = period;
    this.#timer = this.#clock.setTimeout(() => this.#tick(), period);
  }

  /**
   * How long the fetch loops should hold off fetching because a heartbeat
   * call is stuck longer than the stall period.
   *
   * @returns The wait in ms (0: healthy).
   */
  heartbeatStalledFor(): number {
    if (this.#inFlight === 0) return 0;
    const age = this.#clock.now() - this.#sentAt;
    // The usual case, a call out for a few ms, costs no scan of the held set.
    if (age <= MIN_STALL_PERIOD) return 0;
    const period = this.shortestHeldPeriod();
    return age > period ? period : 0;
  }

  /**
   * The stall period of the shortest reservation held now (see `stallPeriod`).
   *
   * @returns Its heartbeat period, at least 10 ms.
   */
  shortestHeldPeriod(): number {
    return stallPeriod(shortestHeldReservation(this.#reservationTimeout, this.#held.values()));
  }

  /** Stop the heartbeat timer (on shutdown). */
  stop(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#dueAt = Infinity;
    this.#period = Infinity;
  }

  /**
   * `ctx.heartbeat()`: extend one reservation now.
   *
   * @param execution The execution.
   * @returns Resolves once extended (at once if already finished with).
   * @throws {ReservationLostError} When another consumer owns the delivery now.
   */
  async heartbeatOne(execution: Execution): Promise<void> {
    if (execution.lost) throw new ReservationLostError(execution.id);
    if (execution.finished) return;
    const lost = await this.#queue.heartbeat(execution.consumer, [execution.delivery]);
    if (lost.includes(execution.delivery.deliveryId)) {
      this.markLost(execution, "reservation-lost");
      throw new ReservationLostError(execution.id);
    }
  }

  #tick(): void {
    this.#timer = null;
    this.#dueAt = Infinity;
    this.#period = Infinity;
    if (this.#held.size === 0) return;
    const shortest = shortestHeldReservation(Infinity, this.#held.values());
    this.arm(shortest);
    // Normally one call at a time; but a call stuck in a reconnecting client
    // must not silence heartbeats until the reservations lapse, so another
    // goes out once the last is a whole period old (at most three pending).
    const now = this.#clock.now();
    if (
      this.#inFlight > 0 &&
      (now - this.#sentAt < heartbeatPeriod(shortest) || this.#inFlight >= 3)
    ) return;
    this.#inFlight++;
    this.#sentAt = now;
    void this.#send().finally(() => {
      this.#inFlight--;
    });
  }

  /** One heartbeat call per consumer, covering every delivery it holds. */
  async #send(): Promise<void> {
    const byConsumer = new Map<Consumer, Delivery[]>();
    for (const execution of this.#held.values()) {
      let list = byConsumer.get(execution.consumer);
      if (list === undefined) byConsumer.set(execution.consumer, list = []);
      list.push(execution.delivery);
    }
    await Promise.all(
      [...byConsumer].map(async ([consumer, deliveries]) => {
        let lost: string[];
        try {
          lost = await this.#queue.heartbeat(consumer, deliveries);
        } catch (error) {
          this.#reporter.transport("heartbeat", error);
          return;
        }
        for (const id of lost) {
          const execution = this.#held.get(id);
          // Not if the runner has reclaimed a fresh delivery of it since this call went out.
          if (execution !== undefined && deliveries.includes(execution.delivery)) {
            this.markLost(execution, "reservation-lost");
          }
        }
      }),
    );
  }
}
