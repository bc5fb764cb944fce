/**
 * What a reservation timeout implies, in one place: how often held
 * deliveries are heartbeated, when stuck acks or heartbeats hold fetching
 * off, how often abandoned deliveries are looked for, and how long a
 * failed-task-handler call is leased. All durations in ms.
 *
 * @module
 */

/**
 * Shortest lease of a pending failed-task-handler call, in ms. The lease is
 * `max(reservationTimeout, MIN_HANDLER_LEASE)`: if the runner dies between
 * the dead letter and the end of the handler call, another runner calls the
 * handler once the lease has expired.
 */
export const MIN_HANDLER_LEASE = 5_000;

/** The lease of a handler call for a task with this reservation timeout, in ms. */
export function handlerLease(reservationTimeout: number): number {
  return Math.max(reservationTimeout, MIN_HANDLER_LEASE);
}

/**
 * When a handler call still running is completed anyway: at half its lease,
 * so no other runner starts it a second time while this one lives.
 */
export function handlerCompletionDelay(lease: number): number {
  return Math.floor(lease / 2);
}

/** Heartbeat period of a reservation: a third of it (at least 1 ms), so two heartbeats may fail before it lapses. */
export function heartbeatPeriod(reservationTimeout: number): number {
  return Math.max(1, Math.floor(reservationTimeout / 3));
}

/** Shortest {@linkcode stallPeriod}, in ms: a call out no longer than this is never a stall. */
export const MIN_STALL_PERIOD = 10;

/**
 * How long an ack or heartbeat call may be out before fetching holds off,
 * and how long it then holds off: the heartbeat period of the shortest
 * reservation held, at least {@linkcode MIN_STALL_PERIOD}.
 */
export function stallPeriod(shortestReservation: number): number {
  return Math.max(MIN_STALL_PERIOD, heartbeatPeriod(shortestReservation));
}

/** How often to look for deliveries to reclaim: half the shortest reservation, at least 5 ms. */
export function reclaimPeriod(shortestReservation: number): number {
  return Math.max(5, Math.floor(shortestReservation / 2));
}

/**
 * The shortest of a default reservation timeout and those of some items.
 *
 * @param fallback The default reservation timeout, in ms.
 * @param items Anything with a `reservationTimeout` in ms.
 * @returns The shortest, in ms.
 */
export function shortestReservation(fallback: number, items: Iterable<{ readonly reservationTimeout: number }>): number {
  let shortest = fallback;
  for (const item of items) if (item.reservationTimeout < shortest) shortest = item.reservationTimeout;
  return shortest;
}

/**
 * The shortest of a default reservation timeout and those of some held
 * deliveries.
 *
 * @param fallback The default reservation timeout, in ms (Infinity: none).
 * @param held Anything holding a delivery.
 * @returns The shortest, in ms.
 */
export function shortestHeldReservation(
  fallback: number,
  held: Iterable<{ readonly delivery: { readonly reservationTimeout: number } }>,
): number {
  let shortest = fallback;
  for (const item of held) {
    const rt = item.delivery.reservationTimeout;
    if (rt < shortest) shortest = rt;
  }
  return shortest;
}
