// @ts-check
/**
 * What a step of the test command came to: the pass/fail counts read from each runner's report
 * (Node's spec reporter, Deno's JUnit file, Bun's summary), and the summary row of the step.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { fmtMs } from "./spawn.mjs";

/** @typedef {{ passed: number, failed: number, skipped: number }} Counts */

/**
 * One row of the summary; a check counts as one test.
 *
 * @typedef {object} Result
 * @property {string} name
 * @property {"check" | "tests"} kind
 * @property {boolean} ok
 * @property {number} passed
 * @property {number} failed
 * @property {number} [skipped]
 * @property {number} ms
 * @property {string} note
 */

/**
 * The totals of Node's test runner (spec reporter: "ℹ tests 12"; TAP: "# tests 12"), the last ones
 * printed; null when it printed none.
 *
 * @param {string} output
 * @returns {Counts | null}
 */
export function parseNode(output) {
  /** @param {string} key */
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

/**
 * The leaf test cases of the JUnit file `deno test --junit-path` wrote; null when there is none.
 *
 * @param {string} xmlPath
 * @returns {Counts | null}
 */
export function parseDenoJunit(xmlPath) {
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

/**
 * The totals of `bun test` (" 12 pass", " 0 fail"), the last ones printed; null when it printed none.
 *
 * @param {string} output
 * @returns {Counts | null}
 */
export function parseBun(output) {
  /** @param {RegExp} re */
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

/**
 * A step that did not run, counted as one failure.
 *
 * @param {string} name
 * @param {"check" | "tests"} kind
 * @param {string} note  why
 * @returns {Result}
 */
export const notRun = (name, kind, note) => ({ name, kind, ok: false, passed: 0, failed: 1, ms: 0, note });

/**
 * A check passes when its command exits 0 within its limit.
 *
 * @param {string} name
 * @param {import("./spawn.mjs").RunResult} r
 * @returns {Result}
 */
export function checkResult(name, r) {
  const ok = r.code === 0 && !r.timedOut;
  return { name, kind: "check", ok, passed: ok ? 1 : 0, failed: ok ? 0 : 1, ms: r.ms, note: r.timedOut ? "timed out" : ok ? "" : `exit ${r.code}` };
}

/**
 * A runtime's run over a group of files passes when the runner exits 0 within its limit, reports no
 * failure, and ran at least one test. A timeout, or a failing exit with no failed test reported,
 * counts as one more failure.
 *
 * @param {string} name
 * @param {import("./spawn.mjs").RunResult} r
 * @param {Counts | null} parsed  what the runner reported
 * @param {number} timeoutMs      the run's limit
 * @returns {Result}
 */
export function testsResult(name, r, parsed, timeoutMs) {
  const counts = parsed ?? { passed: 0, failed: 0, skipped: 0 };
  let note = "";
  if (r.timedOut) { note = `killed after ${fmtMs(timeoutMs)}`; counts.failed += 1; }
  else if (r.code !== 0 && counts.failed === 0) { note = `runner exited ${r.code} with no failed test reported`; counts.failed = 1; }
  if (counts.skipped > 0) note = [note, `${counts.skipped} skipped`].filter(Boolean).join("; ");
  const ok = r.code === 0 && !r.timedOut && counts.failed === 0 && counts.passed > 0;
  if (counts.passed === 0 && !r.timedOut) note = [note, "ran no test"].filter(Boolean).join("; ");
  return { name, kind: "tests", ok, ...counts, ms: r.ms, note };
}
