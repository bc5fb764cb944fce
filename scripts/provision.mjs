// @ts-check
/**
 * What `npm test` and `npm run bench` need from the system, and how they get it.
 *
 * The suite needs three programs that npm cannot bring: `redis-server` (the Redis tests start private
 * servers), `promtool` (the metrics test checks the Prometheus exposition with it) and `chromium` (the
 * dashboard test renders the page headless). When one is missing and apt-get can run (as root, or with
 * passwordless sudo), they are installed once, with one line saying what and why; otherwise the run
 * stops at once with one line naming the exact packages. A missing tool never skips a test.
 *
 * Environment:
 *   TEST_PROVISION=0       never install; a missing tool stops the run with the package line
 *   TEST_PROVISION_PATH    the PATH used to look the tools up (default: PATH); lets a run act as if a
 *                          tool were absent
 *
 * `planProvision` is pure (tested in test/scripts_provision.test.ts); `provision` carries a plan out.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * @typedef {object} Tool
 * @property {string} name          program looked up on the PATH
 * @property {string[]} packages    Debian packages that bring it
 * @property {boolean} recommends   whether apt may add the packages' recommended packages
 * @property {string} why           what needs it, for the one-line message
 */

/** @type {readonly Tool[]} */
export const TOOLS = Object.freeze([
  { name: "redis-server", packages: ["redis-server"], recommends: false, why: "the Redis tests start private servers" },
  { name: "promtool", packages: ["prometheus"], recommends: false, why: "the metrics test checks /metrics with promtool" },
  {
    name: "chromium",
    packages: ["chromium", "fonts-liberation"],
    recommends: true,
    why: "the dashboard test renders the page in headless Chromium",
  },
]);

/**
 * GNU time, with which the benchmark reads workers' peak RSS (`/usr/bin/time -v`); the benchmark
 * installs it when it can and samples RSS itself when it cannot.
 *
 * @type {Tool}
 */
export const GNU_TIME = Object.freeze({
  name: "time",
  packages: ["time"],
  recommends: false,
  why: "the benchmark reads workers' peak RSS with /usr/bin/time -v",
});

/**
 * @typedef {{ action: "none" }
 *   | { action: "install", tools: Tool[], sudo: boolean, line: string }
 *   | { action: "stop", tools: Tool[], line: string }} ProvisionPlan
 */

/**
 * Decide what to do about missing tools.
 *
 * @param {object} facts
 * @param {readonly Tool[]} facts.missing  the needed tools not found
 * @param {boolean} facts.enabled          false when TEST_PROVISION=0
 * @param {boolean} facts.isRoot
 * @param {boolean} facts.hasSudo          passwordless sudo works
 * @param {boolean} facts.hasAptGet        apt-get is on the PATH
 * @returns {ProvisionPlan}
 */
export function planProvision({ missing, enabled, isRoot, hasSudo, hasAptGet }) {
  if (missing.length === 0) return { action: "none" };
  const tools = [...missing];
  const names = tools.map((t) => t.name).join(", ");
  const packages = tools.flatMap((t) => t.packages).join(" ");
  if (enabled && hasAptGet && (isRoot || hasSudo)) {
    const why = tools.map((t) => `${t.name}: ${t.why}`).join("; ");
    return {
      action: "install",
      tools,
      sudo: !isRoot,
      line: `provision: installing ${packages} with apt-get (missing ${why})`,
    };
  }
  const reason = !enabled ? "TEST_PROVISION=0" : !hasAptGet ? "apt-get not found" : "not root and no passwordless sudo";
  return {
    action: "stop",
    tools,
    line: `provision: missing ${names}; install the packages ${packages} (${reason})`,
  };
}

/**
 * The tools a run needs: redis-server whenever tests run, promtool and chromium when the files that
 * use them are selected.
 *
 * @param {readonly string[]} testFiles  repo-relative test files of the run
 * @returns {Tool[]}
 */
export function toolsFor(testFiles) {
  if (testFiles.length === 0) return [];
  const need = new Set(["redis-server"]);
  if (testFiles.some((f) => f.endsWith("monitor_metrics.test.ts"))) need.add("promtool");
  if (testFiles.some((f) => f.endsWith("dashboard.test.ts"))) need.add("chromium");
  return TOOLS.filter((t) => need.has(t.name));
}

/**
 * Whether `name` is an executable file in one of the PATH's directories.
 *
 * @param {string} name
 * @param {string} path
 */
export function onPath(name, path) {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/**
 * @param {string} cmd
 * @param {string[]} args
 */
function runQuiet(cmd, args) {
  const r = spawnSync(cmd, args, {
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  return { ok: r.status === 0, output: `${r.stdout ?? ""}${r.stderr ?? ""}`, error: r.error };
}

/**
 * Make sure the given tools are on the PATH, installing them with apt-get when allowed. Returns true
 * when all are there; otherwise prints one line saying what to install and returns false.
 *
 * @param {readonly Tool[]} needed
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {boolean}
 */
export function provision(needed, env = process.env) {
  const path = env.TEST_PROVISION_PATH ?? env.PATH ?? "";
  const missing = needed.filter((t) => !onPath(t.name, path));
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const plan = planProvision({
    missing,
    enabled: env.TEST_PROVISION !== "0",
    isRoot,
    hasSudo: !isRoot && missing.length > 0 && runQuiet("sudo", ["-n", "true"]).ok,
    hasAptGet: onPath("apt-get", env.PATH ?? ""),
  });
  if (plan.action === "none") return true;
  console.log(plan.line);
  if (plan.action === "stop") return false;
  const prefix = plan.sudo ? ["sudo", "-n"] : [];
  /** @param {string[]} args */
  const apt = (args) => {
    const [cmd, ...rest] = [...prefix, "apt-get", "-o", "DPkg::Lock::Timeout=300", ...args];
    return runQuiet(cmd, rest);
  };
  const update = apt(["update", "-qq"]);
  if (!update.ok) {
    console.log(`provision: apt-get update failed:\n${update.output.trim()}`);
    return false;
  }
  for (const recommends of [false, true]) {
    const packages = plan.tools.filter((t) => t.recommends === recommends).flatMap((t) => t.packages);
    if (packages.length === 0) continue;
    const r = apt(["install", "-y", "-qq", ...(recommends ? [] : ["--no-install-recommends"]), ...packages]);
    if (!r.ok) {
      console.log(`provision: apt-get install ${packages.join(" ")} failed:\n${r.output.trim().split("\n").slice(-15).join("\n")}`);
      return false;
    }
  }
  const still = plan.tools.filter((t) => !onPath(t.name, path));
  if (still.length > 0) {
    console.log(`provision: still missing after the install: ${still.map((t) => t.name).join(", ")}`);
    return false;
  }
  return true;
}

/**
 * The Deno and Bun binaries come in npm packages whose install scripts place them; when npm skipped
 * those scripts, run them. Returns the names that are still not runnable.
 *
 * @param {string} root  the checkout
 * @returns {string[]}
 */
export function ensureRuntimeBinaries(root) {
  const broken = [];
  for (const [name, script] of [["deno", "install.cjs"], ["bun", "install.js"]]) {
    const bin = join(root, "node_modules", ".bin", name);
    if (runQuiet(bin, ["--version"]).ok) continue;
    const dir = join(root, "node_modules", name);
    if (existsSync(join(dir, script))) {
      console.log(`provision: the ${name} binary is not in place; running its package's install script`);
      const r = spawnSync(process.execPath, [script], { cwd: dir, stdio: "inherit" });
      if (r.status === 0 && runQuiet(bin, ["--version"]).ok) continue;
    }
    broken.push(name);
  }
  return broken;
}

// provision.d.mts declares this module for TypeScript importers; this line keeps the two in step
// (tsconfig.scripts.json): every export is there, with a type its declaration accepts.
/** @satisfies {typeof import("./provision.mjs")} */ ({ TOOLS, GNU_TIME, planProvision, toolsFor, onPath, provision, ensureRuntimeBinaries });
