#!/usr/bin/env node
// @ts-check
// The project's test command (`npm test`). In order:
//   1. type checks: the whole project (tsconfig.json), the core alone with `"types": []`
//      (tsconfig.core.json), which proves src/ and mod.ts use no runtime-specific API, and the
//      scripts' JavaScript with its JSDoc types (tsconfig.scripts.json);
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
//   NODE20, NODE24, DENO, BUN paths of the runtimes, when not found where expected
//
// Which runtimes run a file: every runtime, except files under test/faults/, which run on Node only
// (node20 and node24), unless the file declares its runtimes in a comment in its first 30 lines:
//   // @runtimes node deno bun        ("node" = node20 and node24; also "all")
// The parts live in scripts/test/: plan.mjs (which files, which runtimes), runtimes.mjs (finding and
// running Node 20, Node 24, Deno and Bun), spawn.mjs (a step in its own process group, with a
// deadline), results.mjs (reading each runner's counts), checks.mjs (the checks).
//
// Tests see TASKRUNNER_TEST_RUNTIME (node20 | node24 | deno | bun) and TASKRUNNER_ARTIFACTS_DIR (an
// existing directory for screenshots and other files worth keeping: .ci/artifacts/). On Node 20 the
// tests run as compiled .js, so a test that spawns one of its own .ts files should take the extension
// from its own import.meta.url, and spawn process.execPath.

import { mkdirSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureRuntimeBinaries, provision, toolsFor } from "./provision.mjs";
import { checksBeforeTests, publishDryRun } from "./test/checks.mjs";
import { ALL_RUNTIMES, GROUPS, isRuntime, planRun } from "./test/plan.mjs";
import { notRun } from "./test/results.mjs";
import { knownVersion, runTests } from "./test/runtimes.mjs";
import { cleanUpOnSignals, deadline, fmtMs, intEnv } from "./test/spawn.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// Several runs may share a checkout: each run builds into its own directory and removes it at the end
// (TEST_KEEP_BUILD=1 keeps it). Logs go to .ci/artifacts/test-logs/ in CI, and to a per-run directory
// below it elsewhere.
const RUN_ID = `${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}-${process.pid}`;
const BUILD_DIR = join(root, ".test-build", `run-${process.pid}`);
const ARTIFACTS_DIR = join(root, ".ci", "artifacts");
const LOG_DIR = process.env.CI ? join(ARTIFACTS_DIR, "test-logs") : join(ARTIFACTS_DIR, "test-logs", RUN_ID);

// ---------------------------------------------------------------------------------------------- options

const args = process.argv.slice(2);
/** @param {string} name */
const flag = (name) => args.includes(`--${name}`);
/** @param {string} name @param {string} envName */
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
/** @param {string} p */
const normPath = (p) => relative(root, resolve(root, p)).split(sep).join("/");
const only = [...option("only", "TEST_ONLY"), ...args.filter((a) => !a.startsWith("--"))].map(normPath);
const exclude = option("exclude", "TEST_EXCLUDE").map(normPath);
const runtimes = option("runtimes", "TEST_RUNTIMES");
for (const r of runtimes) {
  if (!isRuntime(r)) {
    console.error(`test: unknown runtime "${r}"; expected some of ${ALL_RUNTIMES.join(", ")}`);
    process.exit(2);
  }
}
const selectedRuntimes = runtimes.length > 0 ? runtimes.filter(isRuntime) : ALL_RUNTIMES;
const runChecks = !flag("no-checks") && process.env.TEST_CHECKS !== "0";
const checksOnly = flag("checks-only");

const { testFiles, plan } = planRun(root, { only, exclude, runtimes: selectedRuntimes });
if (flag("list")) {
  for (const r of selectedRuntimes) {
    for (const g of GROUPS) {
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
cleanUpOnSignals(BUILD_DIR);
/** @type {import("./test/results.mjs").Result[]} */
const results = [];
const startedAll = Date.now();
/** @type {import("./test/runtimes.mjs").RunContext} */
const ctx = {
  root, buildDir: BUILD_DIR, logDir: LOG_DIR, artifactsDir: ARTIFACTS_DIR,
  budget: deadline(startedAll, intEnv("TEST_TOTAL_TIMEOUT_MIN", 65) * 60_000),
};

if (runChecks || checksOnly) await checksBeforeTests(ctx, results);

if (!checksOnly) {
  if (testFiles.length === 0) {
    console.log(`\n=== no test files match (only: ${only.join(",") || "-"}, exclude: ${exclude.join(",") || "-"})`);
    results.push(notRun("tests", "tests", "no test file found"));
  }
  for (const rt of selectedRuntimes) {
    for (const group of GROUPS) {
      const files = plan[rt][group];
      if (files.length > 0) results.push(await runTests(ctx, rt, group, files));
    }
    if (testFiles.length > 0 && plan[rt].main.length + plan[rt].faults.length === 0) {
      // A narrowed run may leave a runtime nothing to do; a full run may not.
      const narrowed = only.length > 0;
      results.push({ name: rt, kind: "tests", ok: narrowed, passed: 0, failed: narrowed ? 0 : 1, ms: 0, note: narrowed ? "no selected file runs on this runtime" : "no test file runs on this runtime" });
    }
  }
}

if (runChecks || checksOnly) await publishDryRun(ctx, results);

// ---------------------------------------------------------------------------------------------- summary

/** @param {string | number} s @param {number} n */
const pad = (s, n) => String(s).padEnd(n);
/** @param {string | number} s @param {number} n */
const padL = (s, n) => String(s).padStart(n);
console.log("\n================================ summary ================================");
for (const r of results) {
  const status = r.ok ? "ok  " : "FAIL";
  const counts = r.kind === "tests" ? `${padL(r.passed, 5)} passed ${padL(r.failed, 4)} failed` : " ".repeat(24);
  const version = r.kind === "tests" ? knownVersion(r.name.split(" ")[0]) : "";
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
