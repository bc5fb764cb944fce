/**
 * Fault harness: a private redis-server the test can SIGKILL, restart (with
 * or without AOF), SIGSTOP/SIGCONT and poke with admin commands, worker child
 * processes that report every execution on stdout, and small helpers (polling
 * waits, percentiles, the one-line figure).
 *
 * Everything here uses `node:` built-ins that Node, Deno and Bun all provide.
 *
 * @module
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { join, dirname } from "node:path";
import net from "node:net";
import { fileURLToPath } from "node:url";
import type { WorkerCommand, WorkerConfig, WorkerRecord } from "./_protocol.ts";
import { startRedis, type RedisServer } from "../_redis.ts";
import { onLines } from "../_lines.ts";

const here = dirname(fileURLToPath(import.meta.url));

/** Resolve once `check` returns a truthy value; reject after `timeout` ms. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeout = 10_000,
  interval = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}` + (last ? `: ${String(last)}` : ""));
    }
    await delay(interval);
  }
}

/** Sleep for real; fault tests measure real time. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The p-th percentile (0–100) of `values`, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Print the row's figure on one line, as the fault matrix asks. */
export function figure(row: number | string, text: string): void {
  console.log(`fault ${row}: ${text}`);
}

/** Which runtime runs this test file. */
export function runtime(): "node" | "deno" | "bun" {
  const g = globalThis as Record<string, unknown>;
  if (g.Deno) return "deno";
  if (g.Bun) return "bun";
  return "node";
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function canConnect(port: number, timeout = 200): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeout);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Persistence mode of a private server. */
export type Persistence = "none" | "aof-always" | "aof-everysec";

/** Options for {@linkcode RedisProcess.start}. */
export interface RedisProcessOptions {
  persistence?: Persistence;
  /** Extra `--name value` arguments. */
  args?: string[];
}

/**
 * A private redis-server (started by the shared test helper `test/_redis.ts`)
 * with the fault actions the matrix needs. Restarts reuse the port and the
 * directory, so an AOF written before a kill is replayed and clients
 * reconnect to the same address.
 */
export class RedisProcess {
  readonly server: RedisServer;
  readonly persistence: Persistence;
  #down = false;

  private constructor(server: RedisServer, persistence: Persistence) {
    this.server = server;
    this.persistence = persistence;
  }

  /** Start a fresh private server. */
  static async start(options: RedisProcessOptions = {}): Promise<RedisProcess> {
    const persistence = options.persistence ?? "none";
    const server = await startRedis({
      appendonly: persistence === "aof-always" ? "always" : persistence === "aof-everysec" ? "everysec" : undefined,
      args: options.args,
    });
    return new RedisProcess(server, persistence);
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return this.server.url;
  }

  /** TCP port. */
  get port(): number {
    return this.server.port;
  }

  /** Process id of the current server process. */
  get pid(): number {
    return this.server.pid;
  }

  /** SIGKILL the server and wait until its port refuses connections. */
  async kill(): Promise<void> {
    if (this.#down) return;
    try {
      this.server.kill("SIGCONT");
    } catch { /* gone */ }
    this.server.kill("SIGKILL");
    this.#down = true;
    await waitFor("redis-server to die", async () => !(await canConnect(this.port)), 5_000, 10);
  }

  /** Start the server again on the same port and directory. */
  async restart(): Promise<void> {
    await this.server.restart();
    this.#down = false;
  }

  /** Freeze the server (SIGSTOP): sockets stay open, nothing answers. */
  pause(): void {
    this.server.kill("SIGSTOP");
  }

  /** Thaw a frozen server (SIGCONT). */
  resume(): void {
    this.server.kill("SIGCONT");
  }

  /** Kill the server for good and remove its directory. */
  async stop(): Promise<void> {
    try {
      this.server.kill("SIGCONT");
    } catch { /* gone */ }
    await this.server.stop();
  }

  /**
   * Run one command with redis-cli and return its raw output, trimmed.
   * Rejects on a non-zero exit or after `timeout` ms.
   */
  cli(...args: string[]): Promise<string> {
    return this.cliTimeout(3_000, ...args);
  }

  /** {@linkcode cli} with an explicit timeout in milliseconds. */
  cliTimeout(timeout: number, ...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        "redis-cli",
        ["-h", "127.0.0.1", "-p", String(this.port), ...args],
        { timeout, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout) => (error ? reject(error) : resolve(String(stdout).trim())),
      );
    });
  }

  /** Run a command and parse an integer reply. */
  async int(...args: string[]): Promise<number> {
    const out = await this.cli(...args);
    const n = Number(out.replace(/^\(integer\) /, ""));
    if (!Number.isFinite(n)) throw new Error(`${args.join(" ")} returned ${out}`);
    return n;
  }

  /** One field of `INFO`, as a string ("" when absent). */
  async info(field: string): Promise<string> {
    const out = await this.cli("INFO");
    const line = out.split(/\r?\n/).find((l) => l.startsWith(field + ":"));
    return line ? line.slice(field.length + 1).trim() : "";
  }

  /** Keys matching `pattern` (SCAN, fine on a private test server). */
  async keys(pattern = "*"): Promise<string[]> {
    const out = await this.cli("--scan", "--pattern", pattern);
    return out ? out.split(/\r?\n/) : [];
  }
}

/** Command line that runs a script file with the runtime running this test. */
export function childCommand(script: string): [string, string[]] {
  switch (runtime()) {
    case "deno":
      return [process.execPath, ["run", "-A", "--quiet", script]];
    case "bun":
      return [process.execPath, ["run", script]];
    default:
      return [process.execPath, ["--no-warnings", script]];
  }
}

/**
 * A worker child process running a TaskRunner on RedisStreamQueue (see
 * `_worker.ts`). Its records are kept here, in the test process.
 */
export class WorkerProcess {
  readonly config: WorkerConfig;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every record this worker wrote, in order. */
  readonly records: WorkerRecord[] = [];
  /** Lines on stdout that were not records, and stderr. */
  readonly noise: string[] = [];
  /** Exit code or signal, once exited. */
  exit: { code: number | null; signal: string | null } | null = null;
  readonly exited: Promise<void>;
  #listeners = new Set<(r: WorkerRecord) => void>();

  private constructor(config: WorkerConfig, child: ChildProcess) {
    this.config = config;
    this.child = child;
    this.pid = child.pid!;
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve();
      })
    );
    onLines(child.stdout!, (line) => this.#line(line));
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => this.noise.push(chunk));
    child.stdin!.on("error", () => {/* the child died; commands go nowhere */});
  }

  /** Spawn a worker and wait for its `ready` record. */
  static async start(config: WorkerConfig, readyTimeout = 20_000): Promise<WorkerProcess> {
    // Compiled for Node 20 this file is .js, and so is the worker beside it.
    const ext = import.meta.url.endsWith(".js") ? ".js" : ".ts";
    const [cmd, args] = childCommand(join(here, `_worker${ext}`));
    const child = spawn(cmd, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, FAULT_WORKER: JSON.stringify(config) },
      cwd: join(here, "..", ".."),
    });
    const worker = new WorkerProcess(config, child);
    try {
      await worker.waitFor("ready", (r) => r.ev === "ready", readyTimeout);
    } catch (error) {
      worker.child.kill("SIGKILL");
      throw new Error(`worker did not start: ${String(error)}\n${worker.noise.join("")}`);
    }
    return worker;
  }

  #line(line: string): void {
    if (!line.startsWith("{")) {
      if (line.trim()) this.noise.push(line);
      return;
    }
    let record: WorkerRecord;
    try {
      record = JSON.parse(line) as WorkerRecord;
    } catch {
      this.noise.push(line);
      return;
    }
    this.records.push(record);
    for (const listener of this.#listeners) listener(record);
  }

  /** Call `listener` on every new record; returns an unsubscribe function. */
  onRecord(listener: (r: WorkerRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolve with the first record (past or future) matching `match`. */
  waitFor(what: string, match: (r: WorkerRecord) => boolean, timeout = 10_000): Promise<WorkerRecord> {
    const found = this.records.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`worker ${this.pid}: timed out after ${timeout} ms waiting for ${what}`));
      }, timeout);
      const off = this.onRecord((r) => {
        if (match(r)) {
          clearTimeout(timer);
          off();
          resolve(r);
        }
      });
      this.exited.then(() => {
        if (this.records.some(match)) return;
        clearTimeout(timer);
        off();
        reject(new Error(`worker ${this.pid} exited (${JSON.stringify(this.exit)}) while waiting for ${what}\n${this.noise.join("").slice(-2000)}`));
      });
    });
  }

  /** Send a command on stdin. */
  send(command: WorkerCommand): void {
    if (this.exit) return;
    this.child.stdin!.write(JSON.stringify(command) + "\n");
  }

  /** Send a signal (SIGKILL, SIGTERM, SIGSTOP, ...). */
  signal(signal: NodeJS.Signals): void {
    if (!this.exit) this.child.kill(signal);
  }

  /** SIGKILL and wait until the process is gone. */
  async kill(): Promise<void> {
    this.signal("SIGKILL");
    await this.exited;
  }

  /** Graceful stop; resolves with the time `stop()` took inside the worker. */
  async stop(timeout = 15_000): Promise<number> {
    this.send({ cmd: "stop" });
    const rec = await this.waitFor("stopped", (r) => r.ev === "stopped", timeout);
    await Promise.race([this.exited, delay(5_000)]);
    if (!this.exit) await this.kill();
    return (rec as { ms: number }).ms;
  }

  /** Records of one kind. */
  of<E extends WorkerRecord["ev"]>(ev: E): Extract<WorkerRecord, { ev: E }>[] {
    return this.records.filter((r) => r.ev === ev) as Extract<WorkerRecord, { ev: E }>[];
  }

  /** `fatal` records and anything on stderr, for P (process alive) checks. */
  fatals(): string[] {
    return this.of("fatal").map((r) => r.message);
  }
}

/** Make a fresh key prefix for one test. */
export function uniquePrefix(tag: string): string {
  return `tf${tag}${Math.random().toString(36).slice(2, 8)}`;
}
