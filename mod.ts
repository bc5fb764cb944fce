/**
 * TaskRunner: distributed task execution on Redis Streams (or any
 * {@linkcode MessageQueue}), for Node, Deno and Bun.
 *
 * Register typed tasks, dispatch them (now, after a delay, or at an instant,
 * optionally unique), and run them with retries and backoff, per-task
 * timeouts, automatic heartbeats, dead letters, graceful shutdown and
 * fleet-wide statistics. Delivery is at-least-once: make actions idempotent.
 *
 * Transports live in their own entry points: `@taskrunner/core/memory`
 * (in-process) and `@taskrunner/core/redis` (Redis Streams); the monitor in
 * `@taskrunner/core/hono`; the conformance suite a transport proves itself
 * with, and `ManualClock`, in `@taskrunner/core/testing`.
 *
 * This entry point exports, in groups: the runner and its options; task
 * definitions and dispatch; events; backoff policies; statistics; errors;
 * the injected clock and logger; and the `MessageQueue` contract (its five
 * roles and the types they exchange) for transport authors.
 *
 * @example Register, start, dispatch, stop
 * ```ts
 * import { TaskRunner, UnrecoverableError } from "@taskrunner/core";
 * import { MemoryQueue } from "@taskrunner/core/memory";
 *
 * const runner = new TaskRunner(new MemoryQueue(), { consumerGroup: "example", numWorkers: 10, batchSize: 10 });
 * const hello = runner.registerTask({
 *   name: "hello",
 *   maxRetry: 3,
 *   action: async (payload: string, ctx) => {
 *     if (payload === "") throw new UnrecoverableError("nobody to greet");
 *     console.log(`hello ${payload} (task ${ctx.id}, attempt ${ctx.attempt})`);
 *   },
 * });
 * runner.on("completed", (e) => console.log(`${e.name} done in ${e.runTime} ms`));
 * await runner.start();
 * await hello.dispatch("world", { delay: 200 });
 * await runner.stop();
 * ```
 *
 * @module
 */

// The runner and its options.
export { type RunnerState, TaskRunner } from "./src/runner.ts";
export type { ResolvedRunnerConfig, RunnerConfig } from "./src/config.ts";

// Task definitions and dispatch.
export type {
  BulkDispatchItem,
  DispatchOptions,
  DispatchResult,
  FailedTask,
  FailedTaskHandler,
  TaskAction,
  TaskContext,
  TaskDefinition,
  TaskHandle,
} from "./src/task.ts";
export type { StandardSchemaV1 } from "./src/schema.ts";
export { DEFAULT_MAX_PAYLOAD_BYTES } from "./src/codec.ts";

// Events (`runner.on(type, listener)`).
export type {
  CompletedEvent,
  DeadEvent,
  FailedEvent,
  LostEvent,
  ReclaimedEvent,
  RetryingEvent,
  RunnerEvents,
} from "./src/events.ts";

// Backoff policies.
export {
  type Backoff,
  type BackoffFunction,
  computeBackoff,
  DEFAULT_BACKOFF,
  type ExponentialBackoff,
  type FixedBackoff,
} from "./src/backoff.ts";

// Statistics (`runner.stats()`).
export type { RunnerStats, TaskStats, TimingStats } from "./src/stats.ts";

// Errors.
export {
  ConfigError,
  DuplicateTaskError,
  PayloadValidationError,
  ReservationLostError,
  RunnerStateError,
  ShutdownError,
  TaskRunnerError,
  TaskTimeoutError,
  toFailure,
  TransportError,
  UnknownTaskError,
  UnrecoverableError,
  ValidationError,
  type ValidationIssue,
} from "./src/errors.ts";

// What the host injects: time and logging.
export { type Clock, systemClock, type TimerHandle } from "./src/clock.ts";
export { type LogFields, type Logger, silentLogger } from "./src/logger.ts";

// The transport contract, for transport authors.
export {
  type AddResult,
  type ClaimFailedHandlersOptions,
  type Consumer,
  DEAD_LETTER_REASONS,
  type DeadLetter,
  type DeadLetterOptions,
  type DeadLetterPage,
  type DeadLetterReason,
  type DeadLetterStore,
  type Delivery,
  type DeliveryRef,
  type DeliveryTransport,
  type FailedHandlerLeases,
  type FailureRecord,
  type FleetRegistry,
  HISTOGRAM_BUCKETS,
  type InstanceInfo,
  type MessageQueue,
  type NewTask,
  type PromoteResult,
  type QueueCounts,
  type ReceiveOptions,
  type ReclaimResult,
  type StatsDelta,
  type StatsStore,
  type TaskStatsDelta,
  type UniqueLock,
} from "./src/queue.ts";
