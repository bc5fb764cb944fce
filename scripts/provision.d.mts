/**
 * The types of scripts/provision.mjs, for the TypeScript files that import it (the test of its
 * plan, the benchmark). provision.mjs checks itself against them (tsconfig.scripts.json).
 *
 * @module
 */

/** A program the suite or the benchmark needs from the system. */
export interface Tool {
  /** program looked up on the PATH */
  name: string;
  /** Debian packages that bring it */
  packages: string[];
  /** whether apt may add the packages' recommended packages */
  recommends: boolean;
  /** what needs it, for the one-line message */
  why: string;
}

/** What to do about missing tools. */
export type ProvisionPlan =
  | { action: "none" }
  | { action: "install"; tools: Tool[]; sudo: boolean; line: string }
  | { action: "stop"; tools: Tool[]; line: string };

/** The facts `planProvision` decides on. */
export interface ProvisionFacts {
  /** the needed tools not found */
  missing: readonly Tool[];
  /** false when TEST_PROVISION=0 */
  enabled: boolean;
  isRoot: boolean;
  /** passwordless sudo works */
  hasSudo: boolean;
  /** apt-get is on the PATH */
  hasAptGet: boolean;
}

/** redis-server, promtool and chromium. */
export const TOOLS: readonly Tool[];
/** GNU time, with which the benchmark reads workers' peak RSS. */
export const GNU_TIME: Tool;
/** Decide what to do about missing tools. */
export function planProvision(facts: ProvisionFacts): ProvisionPlan;
/** The tools a run over these repo-relative test files needs. */
export function toolsFor(testFiles: readonly string[]): Tool[];
/** Whether `name` is an executable file in one of the PATH's directories. */
export function onPath(name: string, path: string): boolean;
/** Make sure the given tools are on the PATH, installing them with apt-get when allowed. */
export function provision(needed: readonly Tool[], env?: NodeJS.ProcessEnv): boolean;
/** Run the Deno and Bun packages' install scripts when npm skipped them; returns what is still not runnable. */
export function ensureRuntimeBinaries(root: string): string[];
