/**
 * Summarise V8 CPU profiles (`--cpu-prof` output): top functions by self
 * time, and self time per file, as percentages of the non-idle samples.
 *
 * Usage: `node bench/profile_summary.ts [--top K] [--cwd PREFIX] file.cpuprofile...`
 * (several files are merged).
 *
 * @module
 */
import process from "node:process";
import { readFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Self time per function and per file, in microseconds. */
export interface ProfileSummary {
  totalUs: number;
  idleUs: number;
  byFunction: Map<string, number>;
  byFile: Map<string, number>;
}

function shortUrl(url: string, root: string): string {
  let u = url.replace(/^file:\/\//, "");
  if (root && u.startsWith(root)) u = u.slice(root.length);
  // Runs execute from a temporary copy of the checkout.
  u = u.replace(/^.*\/taskrunner-bench-\d+\//, "");
  const nm = u.lastIndexOf("node_modules/");
  if (nm >= 0) u = u.slice(nm + "node_modules/".length);
  return u || "(native)";
}

/**
 * Add one profile's self times into `acc`.
 * @param profile a parsed `.cpuprofile`
 * @param root path prefix to strip from file URLs
 * @param acc accumulator
 */
export function accumulate(profile: CpuProfile, root: string, acc: ProfileSummary): void {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const cf = node.callFrame;
    acc.totalUs += us;
    if (cf.functionName === "(idle)") {
      acc.idleUs += us;
      continue;
    }
    const file = cf.url ? shortUrl(cf.url, root) : "";
    const key = file
      ? `${cf.functionName || "(anonymous)"}  ${file}:${cf.lineNumber + 1}`
      : cf.functionName || "(anonymous)";
    acc.byFunction.set(key, (acc.byFunction.get(key) ?? 0) + us);
    const fileKey = file || cf.functionName;
    acc.byFile.set(fileKey, (acc.byFile.get(fileKey) ?? 0) + us);
  }
}

/**
 * Render the summary as two Markdown tables.
 * @param acc the accumulated summary
 * @param top how many rows per table
 * @returns Markdown text
 */
export function render(acc: ProfileSummary, top: number): string {
  const busy = acc.totalUs - acc.idleUs;
  const pct = (us: number): string => ((100 * us) / busy).toFixed(1);
  const lines: string[] = [];
  lines.push(
    `Profiled ${(acc.totalUs / 1e6).toFixed(2)} s, of which ${(busy / 1e6).toFixed(2)} s busy (idle excluded from the percentages).`,
    "",
    "| self % | self ms | function  location |",
    "|---:|---:|---|",
  );
  const fns = [...acc.byFunction].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, us] of fns) lines.push(`| ${pct(us)} | ${(us / 1000).toFixed(0)} | \`${k}\` |`);
  lines.push("", "| self % | self ms | file |", "|---:|---:|---|");
  const files = [...acc.byFile].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, us] of files) lines.push(`| ${pct(us)} | ${(us / 1000).toFixed(0)} | \`${k}\` |`);
  return lines.join("\n");
}

if (process.argv[1]?.endsWith("profile_summary.ts")) {
  const args = process.argv.slice(2);
  let top = 25;
  let root = process.cwd() + "/";
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--top") top = Number(args[++i]);
    else if (args[i] === "--cwd") root = args[++i];
    else files.push(args[i]);
  }
  if (!files.length) {
    console.error("usage: node bench/profile_summary.ts [--top K] file.cpuprofile...");
    process.exit(2);
  }
  const acc: ProfileSummary = { totalUs: 0, idleUs: 0, byFunction: new Map(), byFile: new Map() };
  for (const f of files) accumulate(JSON.parse(readFileSync(f, "utf8")) as CpuProfile, root, acc);
  console.log(render(acc, top));
}
