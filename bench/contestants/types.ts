/**
 * What each benchmark contestant provides: a producer and a worker, driven
 * by the child-process entry `bench/child.ts`.
 *
 * @module
 */

/** The payload of every benchmark task. */
export interface Payload {
  /** Sequence number. */
  i: number;
  /** Dispatch instant (epoch ms, sub-ms precision), set by latency scenarios. */
  t?: number;
  /** Due instant of a delayed task (epoch ms). */
  due?: number;
}

/** Connection settings shared by producer and worker. */
export interface Target {
  /** Redis URL of the private server (unused by the in-memory contestant). */
  url: string;
  /** Queue (stream) name. */
  queue: string;
  /**
   * Every run throws and is not retried: the task goes to the library's
   * store of failed tasks (kept, not removed), and `onCompleted` reports it.
   */
  fail?: boolean;
}

/** Dispatches tasks. */
export interface Producer {
  /** Add many tasks in one call (one pipeline / bulk call), each visible after `delay` ms when given (not the raw ceiling). */
  addBulk(payloads: readonly Payload[], delay?: number): Promise<void>;
  /** Add one task, visible after `delay` ms when given. */
  add(payload: Payload, delay?: number): Promise<void>;
  /** Close connections. */
  close(): Promise<void>;
}

/** Options of a worker. */
export interface WorkerOptions extends Target {
  /** Tasks run at once. */
  concurrency: number;
  /** Called at the start of every task with its payload and transport id. */
  handler: (payload: Payload, key: string) => void;
  /** Called when a task's completion (with `fail`: its failure) is recorded by the transport. */
  onCompleted: (key: string) => void;
}

/** Consumes tasks. */
export interface Worker {
  /** Begin consuming. */
  start(): Promise<void>;
  /** Stop consuming and close connections. */
  close(): Promise<void>;
}

/** A contestant: how to build its producer and worker. */
export interface Contestant {
  /** Version string shown in the report. */
  version(): string;
  /** Connected producer. */
  producer(target: Target): Promise<Producer>;
  /** Connected worker, not consuming until `start()`. */
  worker(options: WorkerOptions): Promise<Worker>;
}
