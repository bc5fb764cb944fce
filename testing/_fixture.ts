import assert from "node:assert/strict";
import type { Consumer, MessageQueue, NewTask, UniqueLock } from "../src/queue.ts";
import type { ManualClock } from "./manual_clock.ts";

/**
 * A fresh, empty queue for one test, with what the suite needs to drive it.
 * The factory passed to `testMessageQueue` returns one per test.
 */
export interface QueueFixture {
  /** The transport under test; the suite closes it after each test. */
  queue: MessageQueue;
  /**
   * The clock the transport reads, when it can be driven by hand. The suite
   * then advances it instead of waiting; otherwise time passes for real.
   */
  clock?: ManualClock;
  /**
   * Let `ms` milliseconds of transport time pass, when neither `clock` nor a
   * real sleep fits (a transport with its own time source).
   */
  wait?(ms: number): Promise<void>;
  /**
   * Store one entry the transport cannot decode (as a foreign writer or
   * corrupt data would). Tests of malformed deliveries run only with it.
   */
  injectMalformed?(): Promise<void>;
  /**
   * Delete the stored entry of a delivery behind the transport's back (an
   * outside delete or trim). Tests of lost deliveries run only with it.
   */
  deleteEntry?(deliveryId: string): Promise<void>;
  /** Release what the factory set up (keys, servers); runs after close. */
  cleanup?(): Promise<void>;
}

/**
 * The optional `MessageQueue` members a transport declares. `true`: the
 * member's tests run and fail when the queue lacks it; `false`: they are
 * not registered; absent: they run and check the member when the queue
 * has it.
 */
export interface QueueCapabilities {
  /** `onDelayedAdded`, announcing new delayed tasks' due times. */
  onDelayedAdded?: boolean;
  /** `processInfo`, the host name and pid used to name consumers. */
  processInfo?: boolean;
  /** `release`, closing what consumers used once a runner stopped. */
  release?: boolean;
}

/**
 * Whether the tests of an optional member run, and the member itself when
 * the queue has it.
 *
 * @param declared What the transport declared for this member.
 * @param member The member as the queue under test has it.
 * @param what The member's name, for the failure message.
 * @returns The member, or undefined when the queue lacks it and did not declare it.
 */
export function optionalMember<M>(declared: boolean | undefined, member: M | undefined, what: string): M | undefined {
  assert.ok(
    member !== undefined || declared !== true,
    `the transport declares '${what}' but the queue has no such member`,
  );
  return member;
}

/** Reservation timeout used by the suite's tasks, in milliseconds. */
export const RESERVATION = 300;
/** Delay used by the suite's delayed tasks and retries, in milliseconds. */
export const DELAY = 200;
/** Margin added to waits so a deadline has surely passed, in milliseconds. */
export const MARGIN = 50;
/** The consumer group every test uses (created before each test). */
export const GROUP = "conformance";

/** What each test body gets: the fixture plus time and task helpers. */
export interface SuiteContext {
  fixture: QueueFixture;
  queue: MessageQueue;
  /** The optional members the transport declared. */
  capabilities: QueueCapabilities;
  /** Two members of {@linkcode GROUP}. */
  c1: Consumer;
  c2: Consumer;
  /** Let `ms` of transport time pass (manual clock, `wait`, or a real sleep). */
  advance(ms: number): Promise<void>;
  /** The transport's current time as the suite sees it, epoch ms. */
  now(): number;
  /** Allowed error when comparing transport instants with `now()`, in ms. */
  tolerance: number;
  /** A new task with a fresh id; fields may be overridden. */
  task(overrides?: Partial<NewTask>): NewTask;
  /** A unique-lock request with a fresh token. */
  lock(key: string, overrides?: Partial<UniqueLock>): UniqueLock;
}

let serial = 0;

/** Build the context of one test around a fixture. */
export function context(fixture: QueueFixture, capabilities: QueueCapabilities = {}): SuiteContext {
  const clock = fixture.clock;
  const advance = (ms: number): Promise<void> => {
    if (clock) return clock.advance(ms);
    if (fixture.wait) return fixture.wait(ms);
    return realSleep(ms);
  };
  const now = (): number => (clock ? clock.now() : Date.now());
  return {
    fixture,
    queue: fixture.queue,
    capabilities,
    c1: { group: GROUP, name: "consumer-1" },
    c2: { group: GROUP, name: "consumer-2" },
    advance,
    now,
    tolerance: clock ? 0 : 1_000,
    task(overrides: Partial<NewTask> = {}): NewTask {
      const n = ++serial;
      return {
        id: `task-${n}`,
        name: "job",
        body: JSON.stringify({ n }),
        attempt: 0,
        reservationTimeout: RESERVATION,
        dispatchedAt: now(),
        ...overrides,
      };
    },
    lock(key: string, overrides: Partial<UniqueLock> = {}): UniqueLock {
      return { key, token: `token-${++serial}`, holdFor: 0, ttl: 60_000, ...overrides };
    },
  };
}

/** Sleep in real time (timers of the host, not the transport's clock). */
export function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Await `promise`, failing with `message` if it has not settled within
 * `ms` of real time (so a broken wake-up fails instead of hanging).
 */
export async function settlesWithin<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message })), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Track whether a promise has settled yet. */
export function watch<T>(promise: Promise<T>): { readonly settled: boolean; promise: Promise<T> } {
  const state = { settled: false, promise };
  promise.then(() => (state.settled = true), () => (state.settled = true));
  return state;
}

/** Assert `actual` is within `tolerance` of `expected`. */
export function assertNear(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: expected ${expected} ± ${tolerance}, got ${actual}`,
  );
}
