// @ts-check
/**
 * The checks of the test command, each counted as one test: type checks, the npm build, the export
 * maps, the in-memory example on each runtime that runs .ts, and `deno publish --dry-run`.
 *
 * @module
 */
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { checkResult, notRun } from "./results.mjs";
import { runtime } from "./runtimes.mjs";
import { run } from "./spawn.mjs";

/** @typedef {import("./results.mjs").Result} Result */
/** @typedef {import("./runtimes.mjs").RunContext} RunContext */

/**
 * Run one check, within `limitMs` and what is left of the run, into `results`.
 *
 * @param {RunContext} ctx
 * @param {Result[]} results
 * @param {string} name
 * @param {string} cmd
 * @param {string[]} cmdArgs
 * @param {number} [limitMs]
 * @returns {Promise<boolean>} whether it passed
 */
async function check(ctx, results, name, cmd, cmdArgs, limitMs = 10 * 60_000) {
  const timeoutMs = ctx.budget(limitMs);
  if (timeoutMs <= 0) {
    results.push(notRun(name, "check", "not started: TEST_TOTAL_TIMEOUT_MIN used up"));
    return false;
  }
  const logPath = join(ctx.logDir, `check-${name.replace(/[^a-z0-9]+/gi, "-")}.log`);
  const r = await run(name, cmd, cmdArgs, { cwd: ctx.root, timeoutMs, logPath });
  const result = checkResult(name, r);
  results.push(result);
  return result.ok;
}

/**
 * The checks that come before the tests: type checks, build, export maps, examples.
 *
 * @param {RunContext} ctx
 * @param {Result[]} results  gets one row per check
 */
export async function checksBeforeTests(ctx, results) {
  const { root, buildDir } = ctx;
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  await check(ctx, results, "typecheck (tsconfig.json)", process.execPath, [tsc, "-p", "tsconfig.json"]);
  await check(ctx, results, "typecheck core, types: [] (tsconfig.core.json)", process.execPath, [tsc, "-p", "tsconfig.core.json"]);
  await check(ctx, results, "typecheck scripts/ (tsconfig.scripts.json)", process.execPath, [tsc, "-p", "tsconfig.scripts.json"]);
  // The npm build goes into a package directory of this run's own (package.json + dist/), so the
  // export check loads exactly what this run built, and dist/ of the checkout is left alone.
  const pkgDir = join(buildDir, "package");
  rmSync(pkgDir, { recursive: true, force: true });
  mkdirSync(pkgDir, { recursive: true });
  copyFileSync(join(root, "package.json"), join(pkgDir, "package.json"));
  symlinkSync(join(root, "node_modules"), join(pkgDir, "node_modules"), "dir");
  const built = await check(ctx, results, "build dist/ (tsconfig.build.json)", process.execPath, [
    tsc, "-p", "tsconfig.build.json", "--outDir", join(pkgDir, "dist"),
  ]);
  const node20 = runtime(root, "node20");
  await check(ctx, results, "export maps", node20?.bin ?? process.execPath, [
    join(root, "scripts", "check-exports.mjs"), ...(built ? ["--built", `--package=${pkgDir}`] : []),
  ]);
  // The README's first command after `npm install`: the in-memory example, on each runtime that runs .ts.
  if (existsSync(join(root, "examples", "basic.ts"))) {
    const node24 = runtime(root, "node24"), deno = runtime(root, "deno"), bun = runtime(root, "bun");
    if (node24) await check(ctx, results, "example on Node 24 (npm run example)", node24.bin, ["examples/basic.ts"], 2 * 60_000);
    if (deno) await check(ctx, results, "example on Deno (deno run -A)", deno.bin, ["run", "-A", "examples/basic.ts"], 2 * 60_000);
    if (bun) await check(ctx, results, "example on Bun (bun run)", bun.bin, ["run", "examples/basic.ts"], 2 * 60_000);
  }
}

/**
 * `deno publish --dry-run` (JSR's "no slow types"), after the tests.
 *
 * @param {RunContext} ctx
 * @param {Result[]} results  gets its row
 */
export async function publishDryRun(ctx, results) {
  const deno = runtime(ctx.root, "deno");
  if (deno) {
    await check(ctx, results, "deno publish --dry-run", deno.bin, ["publish", "--dry-run", "--allow-dirty"], 5 * 60_000);
  } else {
    results.push(notRun("deno publish --dry-run", "check", "deno not found"));
  }
}
