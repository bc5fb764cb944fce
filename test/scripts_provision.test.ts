/**
 * The provisioning plan of `npm test` (scripts/provision.mjs): which tools a
 * run needs, and what it does when they are missing.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, chmodSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onPath, planProvision, toolsFor, TOOLS, type Tool } from "../scripts/provision.mjs";

const tool = (name: string): Tool => TOOLS.find((t) => t.name === name)!;
const base = { enabled: true, isRoot: true, hasSudo: false, hasAptGet: true };

describe("planProvision", () => {
  it("does nothing when every needed tool is there", () => {
    assert.deepEqual(planProvision({ ...base, missing: [] }), { action: "none" });
    assert.deepEqual(planProvision({ ...base, missing: [], enabled: false, isRoot: false }), { action: "none" });
  });

  it("installs exactly the missing packages as root, in one line that says why", () => {
    const plan = planProvision({ ...base, missing: [tool("promtool"), tool("chromium")] });
    assert.equal(plan.action, "install");
    assert.equal(plan.sudo, false);
    assert.deepEqual(plan.tools.flatMap((t: Tool) => t.packages), ["prometheus", "chromium", "fonts-liberation"]);
    assert.equal(plan.line.split("\n").length, 1);
    assert.match(plan.line, /installing prometheus chromium fonts-liberation with apt-get/);
    assert.match(plan.line, /promtool: the metrics test/);
    assert.doesNotMatch(plan.line, /redis-server/);
  });

  it("installs through sudo when not root but sudo needs no password", () => {
    const plan = planProvision({ ...base, isRoot: false, hasSudo: true, missing: [tool("redis-server")] });
    assert.equal(plan.action, "install");
    assert.equal(plan.sudo, true);
  });

  it("stops with one line naming the exact packages when apt-get cannot run", () => {
    const all = [tool("redis-server"), tool("promtool"), tool("chromium")];
    for (const facts of [
      { isRoot: false, hasSudo: false, reason: /not root and no passwordless sudo/ },
      { hasAptGet: false, reason: /apt-get not found/ },
      { enabled: false, reason: /TEST_PROVISION=0/ },
    ]) {
      const plan = planProvision({ ...base, ...facts, missing: all });
      assert.equal(plan.action, "stop");
      assert.equal(plan.line.split("\n").length, 1);
      assert.match(plan.line, /install the packages redis-server prometheus chromium fonts-liberation/);
      assert.match(plan.line, facts.reason);
    }
  });
});

describe("toolsFor", () => {
  it("needs redis-server for any test, promtool and chromium only for the files that use them", () => {
    const names = (files: string[]) => toolsFor(files).map((t: Tool) => t.name);
    assert.deepEqual(names([]), []);
    assert.deepEqual(names(["test/engine_stats.test.ts"]), ["redis-server"]);
    assert.deepEqual(names(["test/monitor_metrics.test.ts"]), ["redis-server", "promtool"]);
    assert.deepEqual(names(["test/dashboard.test.ts", "test/memory.test.ts"]), ["redis-server", "chromium"]);
  });
});

describe("onPath", () => {
  it("finds only executable files in the PATH's directories", () => {
    const dir = mkdtempSync(join(tmpdir(), "provision-"));
    try {
      mkdirSync(join(dir, "bin"));
      writeFileSync(join(dir, "bin", "tool-x"), "#!/bin/sh\n");
      chmodSync(join(dir, "bin", "tool-x"), 0o755);
      writeFileSync(join(dir, "bin", "plain"), "data");
      chmodSync(join(dir, "bin", "plain"), 0o644);
      const path = ["", join(dir, "nowhere"), join(dir, "bin")].join(process.platform === "win32" ? ";" : ":");
      assert.equal(onPath("tool-x", path), true);
      assert.equal(onPath("plain", path), false);
      assert.equal(onPath("absent", path), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
