#!/usr/bin/env node
// @ts-check
// Keeps the two export maps honest:
//   - deno.json and package.json export the same subpaths (package.json may add "./package.json");
//   - every deno.json target is a source file that exists and is published (publish.include);
//   - every package.json entry lists "types" first, then "default", and points at the dist/ build of
//     the very source file deno.json exports under the same key;
//   - package.json "files" ships dist/.
// With --built it also checks that every dist/ target exists and that each subpath resolves and loads
// through the package's own name (`import("@taskrunner/core/memory")`), on the Node running this script,
// and that a consumer project importing every subpath type-checks against dist/ (NodeNext and bundler).
//
// Usage: node scripts/check-exports.mjs [--built [--package=DIR]]
//   --package=DIR  a directory holding a copy of package.json and the build in DIR/dist (default: the
//                  repository itself, after `npm run build`)
// Exits 1 with one line per problem.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const built = process.argv.includes("--built");
const pkgArg = process.argv.find((a) => a.startsWith("--package="));
const pkgRoot = pkgArg ? resolve(pkgArg.slice("--package=".length)) : root;
/** @type {string[]} */
const problems = [];
/** @param {string} msg */
const problem = (msg) => problems.push(msg);

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));

/** deno.json "exports" may be a single string (".") or a map. */
const denoExports = typeof deno.exports === "string" ? { ".": deno.exports } : (deno.exports ?? {});
const pkgExports = pkg.exports ?? {};

const NPM_ONLY = new Set(["./package.json"]);
const denoKeys = Object.keys(denoExports).sort();
const pkgKeys = Object.keys(pkgExports).filter((k) => !NPM_ONLY.has(k)).sort();

for (const k of denoKeys) if (!pkgKeys.includes(k)) problem(`deno.json exports "${k}" but package.json does not`);
for (const k of pkgKeys) if (!denoKeys.includes(k)) problem(`package.json exports "${k}" but deno.json does not`);
if (!("./package.json" in pkgExports)) problem(`package.json exports lacks "./package.json"`);

// The field checks that JSR and npm rely on.
for (const field of ["name", "version", "license"]) {
  if (!deno[field]) problem(`deno.json lacks "${field}"`);
  if (!pkg[field]) problem(`package.json lacks "${field}"`);
}
if (deno.name !== pkg.name) problem(`names differ: deno.json "${deno.name}", package.json "${pkg.name}"`);
if (deno.version !== pkg.version) problem(`versions differ: deno.json "${deno.version}", package.json "${pkg.version}"`);
if (pkg.type !== "module") problem(`package.json "type" must be "module"`);
if (pkg.sideEffects !== false) problem(`package.json "sideEffects" must be false`);
if (!Array.isArray(pkg.files) || !pkg.files.some((/** @type {string} */ f) => f.replace(/^\.\//, "").replace(/\/$/, "") === "dist")) {
  problem(`package.json "files" must include "dist"`);
}

/** @param {string} p */
const rel = (p) => normalize(p.replace(/^\.\//, ""));
/** @type {string[]} */
const publishInclude = (deno.publish?.include ?? []).map((/** @type {string} */ p) => rel(p).replace(/\/$/, ""));
/** @type {string[]} */
const publishExclude = (deno.publish?.exclude ?? []).map((/** @type {string} */ p) => rel(p).replace(/\/$/, ""));
/** @param {string} file */
const published = (file) => {
  if (publishInclude.length === 0) return true;
  return publishInclude.some((inc) => file === inc || file.startsWith(inc + "/")) &&
    !publishExclude.some((exc) => file === exc || file.startsWith(exc + "/"));
};

for (const key of denoKeys) {
  const target = denoExports[key];
  if (typeof target !== "string" || !target.startsWith("./") || !target.endsWith(".ts")) {
    problem(`deno.json exports "${key}" must be a "./....ts" path, got ${JSON.stringify(target)}`);
    continue;
  }
  if (!existsSync(join(root, target))) problem(`deno.json exports "${key}" -> ${target}: file does not exist`);
  if (!published(rel(target))) problem(`deno.json exports "${key}" -> ${target}: not covered by publish.include`);
}

for (const key of Object.keys(pkgExports)) {
  const entry = pkgExports[key];
  if (key === "./package.json") {
    if (entry !== "./package.json") problem(`package.json exports "./package.json" must be "./package.json"`);
    continue;
  }
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    problem(`package.json exports "${key}" must be an object with "types" and "default", got ${JSON.stringify(entry)}`);
    continue;
  }
  const conditions = Object.keys(entry);
  if (conditions[0] !== "types") problem(`package.json exports "${key}": "types" must come first, got [${conditions.join(", ")}]`);
  if (conditions.at(-1) !== "default") problem(`package.json exports "${key}": "default" must come last, got [${conditions.join(", ")}]`);
  const source = denoExports[key];
  if (typeof source === "string" && source.endsWith(".ts")) {
    const base = "./dist/" + rel(source).replace(/\.ts$/, "");
    if (entry.types !== `${base}.d.ts`) problem(`package.json exports "${key}".types should be "${base}.d.ts" (built from ${source}), got "${entry.types}"`);
    if (entry.default !== `${base}.js`) problem(`package.json exports "${key}".default should be "${base}.js" (built from ${source}), got "${entry.default}"`);
  }
  if (built) {
    for (const [cond, target] of Object.entries(entry)) {
      if (typeof target === "string" && !existsSync(join(pkgRoot, target))) {
        problem(`package.json exports "${key}".${cond} -> ${target}: file does not exist after the build`);
      }
    }
  }
}

if (built && problems.length === 0) {
  // Resolve and load each subpath by the package's own name, exactly as a user's import would
  // (a module evaluated inside the package directory refers to the package by its name).
  const specifiers = pkgKeys.map((key) => pkg.name + key.slice(1));
  const probe = `
    for (const s of ${JSON.stringify(specifiers)}) {
      try {
        const ns = await import(s);
        if (Object.keys(ns).length === 0) console.log('import(' + JSON.stringify(s) + ') loaded a module with no exports');
      } catch (err) {
        console.log('import(' + JSON.stringify(s) + ') failed on Node ' + process.version + ': ' + (err?.message ?? err));
      }
    }`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", probe], { cwd: pkgRoot, encoding: "utf8" });
  for (const line of `${r.stdout ?? ""}`.split("\n").filter(Boolean)) problem(line);
  if (r.status !== 0) problem(`loading the built package failed: ${`${r.stderr ?? ""}${r.error ?? ""}`.trim()}`);
}

if (built && problems.length === 0) {
  // Type-check a consumer that imports every subpath from the built package the way an npm user's
  // project does (NodeNext and bundler resolution), so the published .d.ts files are proven to resolve.
  const consumer = join(root, ".test-build", `consumer-${process.pid}`);
  rmSync(consumer, { recursive: true, force: true });
  mkdirSync(join(consumer, "node_modules", "@taskrunner"), { recursive: true });
  symlinkSync(pkgRoot, join(consumer, "node_modules", ...pkg.name.split("/")), "dir");
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  const lines = pkgKeys.map((key, i) => `import * as m${i} from "${pkg.name + key.slice(1)}";`);
  lines.push(`export const loaded: number = [${pkgKeys.map((_, i) => `m${i}`).join(", ")}].length;`);
  writeFileSync(join(consumer, "index.ts"), lines.join("\n") + "\n");
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  // NodeNext also checks the .d.ts files themselves (skipLibCheck off); Bundler checks resolution only.
  for (const resolution of [["NodeNext", "NodeNext", "false"], ["ESNext", "Bundler", "true"]]) {
    const r = spawnSync(process.execPath, [
      tsc, "--noEmit", "--strict", "--skipLibCheck", resolution[2], "--target", "ES2022", "--lib", "ES2023,DOM",
      "--module", resolution[0], "--moduleResolution", resolution[1], "--types", "node",
      "--typeRoots", join(root, "node_modules", "@types"), join(consumer, "index.ts"),
    ], { cwd: consumer, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) {
      const out = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`.trim();
      problem(`a consumer with moduleResolution ${resolution[1]} does not type-check against dist/:\n${out}`);
    }
  }
  rmSync(consumer, { recursive: true, force: true });
}

if (problems.length > 0) {
  for (const p of problems) console.error(`export check: ${p}`);
  console.error(`export check: FAILED (${problems.length} problem${problems.length === 1 ? "" : "s"})`);
  process.exit(1);
}
console.log(
  `export check: ok (${denoKeys.length} subpaths: ${denoKeys.join(" ")}${built ? "; dist/ targets exist and load on Node " + process.version : ""})`,
);
