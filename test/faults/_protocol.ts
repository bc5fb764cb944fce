/**
 * What the fault tests and their worker child processes say to each other.
 * The child writes one JSON object per line on stdout (a {@linkcode
 * WorkerRecord}); the parent writes one {@linkcode WorkerCommand} per line on
 * the child's stdin. Every handler start, end and failed-handler call is
 * recorded this way, so the execution record lives outside the Redis under
 * test and survives the child being SIGKILLed.
 *
 * @module
 */

/** One task kind the worker registers; every kind runs the same action. */
export interface TaskSpec {
  name: string;
  /** Retries after the first run. @default 0 */
  maxRetry?: number;
  /** Reservation timeout in milliseconds. */
  reservationTimeout?: number;
  /** Per-run timeout in milliseconds. */
  timeout?: number;
  /** Unique by `payload.key`. */
  unique?: boolean;
  /** Milliseconds the unique lock is kept at least. */
  uniqueFor?: number;
  /** Fixed backoff between retries, in milliseconds. @default 10 */
  backoff?: number;
  /** Validate payloads with a schema requiring a numeric `i`. */
  schema?: boolean;
}

/** Configuration of one worker child, passed as JSON in `FAULT_WORKER`. */
export interface WorkerConfig {
  /** `redis://127.0.0.1:<port>` of the private server (or of a proxy). */
  redisUrl: string;
  prefix: string;
  queue: string;
  group: string;
  numWorkers: number;
  batchSize?: number;
  /** Shutdown grace period in milliseconds. */
  shutdownTimeout?: number;
  tasks: TaskSpec[];
  /**
   * When set, every ack is held back (the handler has resolved, the ack has
   * not been sent) and an `acking` record is written: the parent can kill
   * the process exactly between handler end and ack.
   */
  holdAcks?: boolean;
  /**
   * Hold every retry or dead-letter call: `before` it is sent, or `after`
   * the transport answered (before the engine sees the answer). A `failing`
   * record is written first, so the parent can kill inside the fail path.
   */
  holdFailures?: "before" | "after";
  /** How the failed-task handler behaves. @default "record" */
  failedHandler?: "record" | "throw" | "hang";
  /** Label echoed in every record. */
  label?: string;
  /** Start consuming; false makes a producer only. @default true */
  consume?: boolean;
  /** Runner `maxDeliveries` (crash-loop quarantine). */
  maxDeliveries?: number;
  /** Runner `maxPayloadBytes`. */
  maxPayloadBytes?: number;
  /** Milliseconds added to the runner's clock (a host whose clock is off). */
  clockOffset?: number;
  /**
   * Milliseconds by which the abort of a waiting receive reaches the
   * transport late (a slow network on the unblock path): a task added just
   * after `stop()` began is then still delivered to this runner.
   */
  slowAbort?: number;
}

/** How the generic action behaves, chosen per task by its payload. */
export type Behaviour =
  /** Sleep `ms` (honouring the signal) and succeed. */
  | "ok"
  /** Throw an Error. */
  | "fail"
  /** Never resolve, but reject when the signal aborts. */
  | "hang"
  /** Never resolve and ignore the signal. */
  | "hang-ignore"
  /** Block the event loop synchronously for `ms`, then succeed. */
  | "busy"
  /** `process.exit(1)` at once (a crash-looping task). */
  | "exit"
  /** Throw the odd value named by `odd`. */
  | "odd";

/** The payload every fault test dispatches. */
export interface WorkPayload {
  /** Sequence number, for reading records. */
  i: number;
  mode?: Behaviour;
  /** Milliseconds, for `ok` and `busy`. */
  ms?: number;
  /** Unique key, for unique task kinds. */
  key?: string;
  /** Which odd value to throw or return, for `odd`. */
  odd?: string;
  /**
   * Apply `mode` only on the worker with this label; elsewhere the task
   * sleeps `otherMs` and succeeds.
   */
  onlyLabel?: string;
  /** Milliseconds to sleep on workers other than `onlyLabel`. */
  otherMs?: number;
  /** Milliseconds to sleep (honouring the signal) before `mode` applies. */
  before?: number;
}

interface Base {
  /** Worker process id. */
  pid: number;
  /** Epoch milliseconds when written. */
  t: number;
  label?: string;
}

/** A line written by a worker child. */
export type WorkerRecord =
  | Base & { ev: "ready"; consumer?: string }
  | Base & { ev: "start"; id: string; name: string; attempt: number; i: number }
  | Base & { ev: "end"; id: string; name: string; attempt: number; i: number; ok: boolean; error?: string; aborted: boolean }
  | Base & { ev: "failed-handler"; id: string; name: string; attempt?: number; reason?: string; error?: string }
  | Base & { ev: "received"; ids: string[]; reclaimed: boolean }
  | Base & { ev: "acking"; ids: string[] }
  | Base & { ev: "failing"; id: string; op: "retry" | "deadLetter"; when: "before" | "after"; ok?: boolean }
  | Base & { ev: "ack"; results: { id: string; ok: boolean }[] }
  | Base & { ev: "heartbeat"; held: number; lost: number; lostIds: string[] }
  | Base & { ev: "runner"; name: string; id?: string; detail?: string }
  | Base & { ev: "dispatched"; ids: string[]; keys: string[]; errors: string[]; tag?: string }
  | Base & { ev: "stopping" }
  | Base & { ev: "stopped"; ms: number }
  | Base & { ev: "fatal"; message: string }
  | Base & { ev: "mem"; rss: number; heapUsed: number; loopDelayP99: number };

/** A line written by the parent on a worker's stdin. */
export type WorkerCommand =
  /** Graceful stop; the worker writes `stopped` and exits 0. */
  | { cmd: "stop" }
  /** Report memory and event-loop delay; the worker writes `mem`. */
  | { cmd: "mem" }
  /** Dispatch payloads of task `name`; the worker writes `dispatched`. */
  | { cmd: "dispatch"; name: string; payloads: WorkPayload[]; tag?: string; delay?: number };
