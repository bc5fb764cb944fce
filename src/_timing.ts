/**
 * What a reservation timeout implies, in one place: how often held
 * deliveries are heartbeated, how often abandoned ones are looked for, and
 * how long a failed-task-handler call is leased. All durations in ms.
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

/** Heartbeat period of a reservation: a third of it (at least 1 ms), so two heartbeats may fail before it lapses. */
export function heartbeatPeriod(reservationTimeout: number): number {
  return Math.max(1, Math.floor(reservationTimeout / 3));
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
