import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

/** The source tree (the test may run from a compiled copy, so the checkout's root is tried too). */
const src = [resolve(dirname(fileURLToPath(import.meta.url)), "../src"), resolve(process.cwd(), "src")]
  .find((dir) => existsSync(join(dir, "runner.ts"))) ?? resolve(process.cwd(), "src");

/** Relative imports (type-only ones too) of every module in src/, as a graph. */
function importGraph(): Map<string, string[]> {
  const files = readdirSync(src).filter((f) => f.endsWith(".ts")).map((f) => join(src, f));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const deps = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms)]
      .map((m) => resolve(dirname(file), m[1]))
      .filter((dep) => files.includes(dep));
    graph.set(file, deps);
  }
  return graph;
}

function circles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      if (state.get(dep) === "open") {
        found.push([...stack.slice(stack.indexOf(dep)), dep].map((f) => relative(src, f)).join(" -> "));
      } else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

describe("src/ imports", () => {
  it("the graph is read (sanity: the runner imports its parts)", () => {
    const graph = importGraph();
    const runner = graph.get(join(src, "runner.ts")) ?? [];
    assert.ok(runner.includes(join(src, "_worker.ts")));
  });

  it("have no circles", () => {
    assert.deepEqual(circles(importGraph()), []);
  });

  it("keep Execution and the timing formulas leaves: they import no part of the runner", () => {
    const graph = importGraph();
    for (const leaf of ["_execution.ts", "_timing.ts"]) {
      const parts = (graph.get(join(src, leaf)) ?? []).map((f) => relative(src, f)).filter((f) => f.startsWith("_"));
      assert.deepEqual(parts, [], `${leaf} imports ${parts.join(", ")}`);
    }
  });
});
