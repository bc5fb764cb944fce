// @ts-check
/**
 * Running one step of the test command: in its own process group, with its output streamed and
 * logged, and the whole group killed when it outlives its deadline or the command is interrupted.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createWriteStream, rmSync } from "node:fs";

/**
 * @typedef {object} RunResult
 * @property {number} code       exit code (127 when it could not start, 128 when a signal ended it)
 * @property {string} output     stdout and stderr as they came (the last 32-64 MiB)
 * @property {boolean} timedOut  killed at its deadline
 * @property {number} ms         wall time
 */

/** @type {import("node:child_process").ChildProcess | null} */
let current = null; // the child being waited on, for signal forwarding

/**
 * "1.2s", or "3m05s" from a minute on.
 *
 * @param {number} ms
 */
export const fmtMs = (ms) => (ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, "0")}s` : `${(ms / 1000).toFixed(1)}s`);

/**
 * Kill a child's whole process group, or the child alone when it has no group of its own.
 *
 * @param {import("node:child_process").ChildProcess} child
 */
export function killGroup(child) {
  try {
    if (child.pid === undefined) throw new Error("never started");
    process.kill(-child.pid, "SIGKILL");
  } catch {
    try { child.kill("SIGKILL"); } catch { /* already gone */ }
  }
}

/**
 * On SIGINT and SIGTERM: kill the running step's group, remove `dir`, and exit 130.
 *
 * @param {string} dir
 */
export function cleanUpOnSignals(dir) {
  for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => {
      if (current) killGroup(current);
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  }
}

/**
 * A function that gives each step the smaller of its own limit and what is left of `totalMs`,
 * counted from `started`.
 *
 * @param {number} started  a Date.now() value
 * @param {number} totalMs
 * @returns {(limitMs: number) => number}
 */
export function deadline(started, totalMs) {
  return (limitMs) => Math.min(limitMs, totalMs - (Date.now() - started));
}

/**
 * A positive number from the environment, or `dflt`.
 *
 * @param {string} name
 * @param {number} dflt
 */
export function intEnv(name, dflt) {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

/**
 * Run a command in its own process group, stream its output, keep a log, and kill the whole group
 * when it outlives `timeoutMs`.
 *
 * @param {string} title
 * @param {string} cmd
 * @param {string[]} cmdArgs
 * @param {object} options
 * @param {string} options.cwd
 * @param {Record<string, string>} [options.env]  added to this process's environment
 * @param {number} options.timeoutMs
 * @param {string} [options.logPath]              a file that gets a copy of the output
 * @returns {Promise<RunResult>}
 */
export function run(title, cmd, cmdArgs, { cwd, env = {}, timeoutMs, logPath }) {
  console.log(`\n=== ${title}`);
  console.log(`$ ${[cmd, ...cmdArgs].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
  const started = Date.now();
  const log = logPath ? createWriteStream(logPath) : null;
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, cmdArgs, {
      cwd,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    current = child;
    let output = "";
    let timedOut = false;
    /** @param {NodeJS.WriteStream} stream */
    const onData = (stream) => (/** @type {Buffer} */ chunk) => {
      const text = chunk.toString();
      output += text;
      if (output.length > 64 * 1024 * 1024) output = output.slice(-32 * 1024 * 1024);
      stream.write(text);
      log?.write(text);
    };
    child.stdout.on("data", onData(process.stdout));
    child.stderr.on("data", onData(process.stderr));
    const timer = setTimeout(() => {
      timedOut = true;
      const msg = `\n!!! ${title}: still running after ${fmtMs(timeoutMs)}; killing it\n`;
      process.stderr.write(msg);
      log?.write(msg);
      killGroup(child);
    }, timeoutMs);
    /** @param {number} code */
    const finish = (code) => {
      clearTimeout(timer);
      current = null;
      // Anything the run left behind in its process group (servers, workers) goes with it.
      if (child.pid !== undefined) {
        try { process.kill(-child.pid, "SIGKILL"); } catch { /* group already empty */ }
      }
      log?.end();
      resolvePromise({ code, output, timedOut, ms: Date.now() - started });
    };
    child.on("error", (err) => {
      output += String(err);
      process.stderr.write(`${title}: ${err.message}\n`);
      finish(127);
    });
    child.on("close", (code, signal) => finish(code ?? (signal ? 128 : 1)));
  });
}
