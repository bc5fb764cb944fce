// @ts-check
/**
 * Which test files a run takes, and which runtimes run each of them.
 *
 * Every runtime runs a file, except files under test/faults/, which run on Node only (node20 and
 * node24), unless the file declares its runtimes in a comment in its first 30 lines:
 *   // @runtimes node deno bun        ("node" = node20 and node24; also "all")
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

/** @typedef {"node20" | "node24" | "deno" | "bun"} Runtime */
/** @typedef {"main" | "faults"} Group */
/** @typedef {Record<string, Record<Group, string[]>>} Plan  plan[runtime][group] = files */

/** @type {readonly Runtime[]} */
export const ALL_RUNTIMES = ["node20", "node24", "deno", "bun"];
/** @type {readonly Group[]} */
export const GROUPS = ["main", "faults"];
const FAULTS_DIR = "test/faults";
/** @type {readonly Runtime[]} */
const DEFAULT_FAULT_RUNTIMES = ["node20", "node24"];

/**
 * @param {string} word
 * @returns {word is Runtime}
 */
export const isRuntime = (word) => /** @type {readonly string[]} */ (ALL_RUNTIMES).includes(word);

/**
 * The files below `dir`, repo-relative with "/" separators; node_modules and dot entries are skipped.
 *
 * @param {string} root  the checkout
 * @param {string} dir
 * @param {string[]} [out]
 * @returns {string[]}
 */
export function walk(root, dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) walk(root, full, out);
    else out.push(relative(root, full).split(sep).join("/"));
  }
  return out;
}

/**
 * Whether `file` is `prefix` or lies below it.
 *
 * @param {string} file
 * @param {string} prefix
 */
const under = (file, prefix) => file === prefix || file.startsWith(prefix.replace(/\/$/, "") + "/");

/**
 * The runtimes a file's `@runtimes` comment names, or null when it has none.
 *
 * @param {string} root
 * @param {string} file  repo-relative
 * @returns {Runtime[] | null}
 */
export function declaredRuntimes(root, file) {
  const head = readFileSync(join(root, file), "utf8").split("\n").slice(0, 30);
  for (const line of head) {
    const m = /^\s*\/\/\s*@runtimes\b:?\s*(.*)$/.exec(line);
    if (!m) continue;
    /** @type {Set<Runtime>} */
    const set = new Set();
    for (const word of m[1].split(/[\s,]+/).filter(Boolean)) {
      if (word === "all") ALL_RUNTIMES.forEach((r) => set.add(r));
      else if (word === "node") { set.add("node20"); set.add("node24"); }
      else if (isRuntime(word)) set.add(word);
      else throw new Error(`${file}: unknown runtime "${word}" in its @runtimes comment`);
    }
    return [...set];
  }
  return null;
}

/**
 * The test files of a run, and which runtime runs which of them in which group.
 *
 * @param {string} root
 * @param {object} selection
 * @param {readonly string[]} selection.only      only files under these repo-relative paths (all when empty)
 * @param {readonly string[]} selection.exclude   no file under these
 * @param {readonly Runtime[]} selection.runtimes
 * @returns {{ testFiles: string[], plan: Plan }}
 */
export function planRun(root, { only, exclude, runtimes }) {
  const allTestFiles = walk(root, join(root, "test")).filter((f) => f.endsWith(".test.ts")).sort();
  const testFiles = allTestFiles
    .filter((f) => only.length === 0 || only.some((p) => under(f, p)))
    .filter((f) => !exclude.some((p) => under(f, p)));
  /** @param {string} f @returns {Group} */
  const groupOf = (f) => (under(f, FAULTS_DIR) ? "faults" : "main");
  /** @param {string} f */
  const runtimesOf = (f) => declaredRuntimes(root, f) ?? (groupOf(f) === "faults" ? DEFAULT_FAULT_RUNTIMES : ALL_RUNTIMES);
  /** @type {Plan} */
  const plan = {};
  for (const r of runtimes) {
    plan[r] = { main: [], faults: [] };
    for (const f of testFiles) if (runtimesOf(f).includes(r)) plan[r][groupOf(f)].push(f);
  }
  return { testFiles, plan };
}
