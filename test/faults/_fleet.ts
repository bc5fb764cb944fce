/**
 * The test process's own view of a queue under test: a producer (a
 * TaskRunner that never consumes) on its own connection, the queue for
 * inspection (dead letters, counts), and the worker children it manages.
 *
 * @module
 */
import { createClient } from "@redis/client";
import * as v from "valibot";
import { TaskRunner } from "../../mod.ts";
import { RedisStreamQueue } from "../../adapters/redis/mod.ts";
import type { DeadLetter, MessageQueue } from "../../src/queue.ts";
import { after, before } from "node:test";
import { RedisProcess, WorkerProcess, waitFor, type RedisProcessOptions } from "./_harness.ts";
import type { TaskSpec, WorkerConfig, WorkerRecord, WorkPayload } from "./_protocol.ts";
import type { DeadTask } from "./_ledger.ts";

/** Options for {@linkcode Fleet.open}. */
export interface FleetOptions {
  redisUrl: string;
  prefix: string;
  queue?: string;
  group?: string;
  tasks: TaskSpec[];
}

interface Client {
  close(): Promise<unknown>;
  destroy(): void;
}

/** A producer on its own connection: a TaskRunner that never consumes. */
export interface Producer {
  client: Client;
  queue: MessageQueue;
  producer: TaskRunner;
  close(): Promise<void>;
}

/** Open a producer on its own connection with the task kinds registered. */
export async function openProducer(options: FleetOptions): Promise<Producer> {
  const client = createClient({ url: options.redisUrl });
  client.on("error", () => {/* faults make connections fail; commands report it */});
  await client.connect();
  const queue = new RedisStreamQueue(client, {
    prefix: options.prefix,
    queue: options.queue ?? "q",
  }) as unknown as MessageQueue;
  const producer = new TaskRunner(queue, { consumerGroup: options.group ?? "g" } as never);
  for (const spec of options.tasks) {
    producer.registerTask({
      name: spec.name,
      maxRetry: spec.maxRetry ?? 0,
      unique: spec.unique,
      uniqueKey: spec.unique ? (p: WorkPayload) => p.key ?? String(p.i) : undefined,
      uniqueFor: spec.uniqueFor,
      reservationTimeout: spec.reservationTimeout,
      timeout: spec.timeout,
      schema: spec.schema ? v.looseObject({ i: v.number() }) : undefined,
      action: () => {
        throw new Error("the producer never runs tasks");
      },
    } as never);
  }
  return {
    client,
    queue,
    producer,
    async close() {
      try {
        await producer.stop();
      } catch { /* never started */ }
      try {
        await queue.close();
      } catch { /* down */ }
      try {
        await client.close();
      } catch {
        client.destroy();
      }
    },
  };
}

/** A producer, an inspector and a set of worker children on one queue. */
export class Fleet {
  readonly options: FleetOptions;
  readonly client: Client;
  readonly queue: MessageQueue;
  readonly producer: TaskRunner;
  readonly workers: WorkerProcess[] = [];
  /** Every id a dispatch returned (the "acknowledged" enqueues). */
  readonly accepted: string[] = [];

  private constructor(options: FleetOptions, client: Client, queue: MessageQueue, producer: TaskRunner) {
    this.options = options;
    this.client = client;
    this.queue = queue;
    this.producer = producer;
  }

  /** Connect the producer and register the task kinds (no consuming). */
  static async open(options: FleetOptions): Promise<Fleet> {
    const p = await openProducer(options);
    return new Fleet(options, p.client, p.queue, p.producer);
  }

  /** Spawn a worker child on this queue. */
  async spawn(overrides: Partial<WorkerConfig> = {}): Promise<WorkerProcess> {
    const worker = await WorkerProcess.start({
      redisUrl: this.options.redisUrl,
      prefix: this.options.prefix,
      queue: this.options.queue ?? "q",
      group: this.options.group ?? "g",
      numWorkers: 4,
      tasks: this.options.tasks,
      ...overrides,
    });
    this.workers.push(worker);
    return worker;
  }

  /** Dispatch payloads of `name` in chunks; returns the accepted ids. */
  async dispatch(name: string, payloads: readonly WorkPayload[], chunk = 200): Promise<string[]> {
    const ids: string[] = [];
    for (let k = 0; k < payloads.length; k += chunk) {
      const part = payloads.slice(k, k + chunk);
      ids.push(...await Promise.all(part.map((p) => this.producer.dispatch(name as never, p as never) as Promise<string>)));
    }
    this.accepted.push(...ids);
    return ids;
  }

  /**
   * Resolve once every id in `ids` has a successful handler end or a dead
   * letter, and the queue holds nothing (no waiting, in-flight or delayed
   * task): a task whose ack was lost has run again by then.
   */
  async settled(ids: readonly string[], timeout = 30_000): Promise<void> {
    await waitFor("every task to complete or be dead-lettered, and the queue to drain", async () => {
      const done = this.completedIds();
      const open = ids.filter((id) => !done.has(id));
      if (open.length > 0) {
        const dead = new Set((await this.deadTasks()).map((d) => d.id));
        if (!open.every((id) => dead.has(id))) return false;
      }
      const c = await this.queue.counts(this.options.group ?? "g");
      return c.waiting + c.inFlight + c.delayed === 0;
    }, timeout, 50);
    await this.handlersCalled();
  }

  /**
   * Wait (up to `timeout` ms, without failing) until every dead letter has
   * had its failed-task handler called: the call follows the dead-lettering
   * step, and one stranded by a crash is taken over by another runner later.
   * The exactly-once check itself is the caller's.
   */
  async handlersCalled(timeout = 10_000): Promise<void> {
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      const called = new Set(this.records().flatMap((r) => (r.ev === "failed-handler" ? [r.id] : [])));
      if ((await this.deadTasks()).every((d) => called.has(d.id))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Every record of every worker spawned so far. */
  records(): WorkerRecord[] {
    return this.workers.flatMap((w) => w.records);
  }

  /** Ids with a successful handler end, across workers. */
  completedIds(): Set<string> {
    const done = new Set<string>();
    for (const w of this.workers) for (const r of w.records) if (r.ev === "end" && r.ok) done.add(r.id);
    return done;
  }

  /** All dead letters (paged through). */
  async deadLetters(): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.queue.listDeadLetters({ cursor, limit: 500 });
      out.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }

  /** Dead letters in the checker's shape. */
  async deadTasks(): Promise<DeadTask[]> {
    return (await this.deadLetters()).map((d) => ({ id: d.id, reason: d.reason }));
  }

  /**
   * Ids the workers reported lost because their stored entry vanished
   * (runner `lost` events with reason `entry-missing`; a lost reservation
   * is not a lost task).
   */
  lostIds(): string[] {
    return this.records().flatMap((r) =>
      r.ev === "runner" && r.name === "lost" && r.detail === "entry-missing" && r.id ? [r.id] : []
    );
  }

  /** `fatal` records of every worker (uncaught errors, unhandled rejections). */
  fatals(): string[] {
    return this.workers.flatMap((w) => w.fatals());
  }

  /** Kill every worker still running and close the producer's connection. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.kill()));
    try {
      await this.producer.stop();
    } catch { /* never started */ }
    try {
      await this.queue.close();
    } catch { /* down */ }
    try {
      await this.client.close();
    } catch {
      this.client.destroy();
    }
  }

  /** The queue's keys under its hash tag, read with SCAN on the private server. */
  get tag(): string {
    return `{${this.options.prefix}:${this.options.queue ?? "q"}}`;
  }
}

/** What {@linkcode privateFleet} opens for one `describe` block. */
export interface PrivateFleet {
  readonly redis: RedisProcess;
  readonly fleet: Fleet;
}

/**
 * A private Redis and a fleet on it for the enclosing `describe` block: opened
 * in its `before` hook, closed (fleet first, then the server) in its `after`
 * hook. Read `redis` and `fleet` inside the tests, once the hook has run.
 */
export function privateFleet(options: Omit<FleetOptions, "redisUrl"> & { redis?: RedisProcessOptions }): PrivateFleet {
  let redis: RedisProcess | undefined;
  let fleet: Fleet | undefined;
  before(async () => {
    redis = await RedisProcess.start(options.redis);
    fleet = await Fleet.open({ ...options, redisUrl: redis.url });
  });
  after(async () => {
    await fleet?.close();
    await redis?.stop();
  });
  return {
    get redis(): RedisProcess {
      if (!redis) throw new Error("privateFleet: read before its before() hook ran");
      return redis;
    },
    get fleet(): Fleet {
      if (!fleet) throw new Error("privateFleet: read before its before() hook ran");
      return fleet;
    },
  };
}
