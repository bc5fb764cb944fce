import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { median, percentile, summary } from "../bench/lib/stats.ts";
import { accumulate, type ProfileSummary, render } from "../bench/profile_summary.ts";

describe("bench statistics", () => {
  it("takes percentiles by nearest rank", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 95), 95);
    assert.equal(percentile(values, 99), 99);
    assert.equal(percentile(values, 100), 100);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it("takes the median of odd and even lists, ignoring non-finite values", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([5, NaN, 1]), 3);
    assert.ok(Number.isNaN(median([])));
  });

  it("summarises an unsorted sample", () => {
    const s = summary([5, 1, 4, 2, 3]);
    assert.deepEqual(s, { p50: 3, p95: 5, p99: 5, max: 5, n: 5 });
  });
});

describe("bench profile summary", () => {
  it("adds self time per function and per file, idle excluded from the share", () => {
    const frame = (functionName: string, url: string, lineNumber: number) => ({
      functionName,
      url,
      lineNumber,
      columnNumber: 0,
    });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame("(root)", "", -1), children: [2, 3, 4] },
        { id: 2, callFrame: frame("(idle)", "", -1) },
        { id: 3, callFrame: frame("hot", "file:///repo/src/a.ts", 9) },
        { id: 4, callFrame: frame("cold", "file:///repo/src/a.ts", 19) },
      ],
      samples: [2, 3, 3, 3, 4, 2],
      timeDeltas: [100, 100, 100, 100, 100, 300],
      startTime: 0,
      endTime: 800,
    };
    const acc: ProfileSummary = { totalUs: 0, idleUs: 0, byFunction: new Map(), byFile: new Map() };
    accumulate(profile, "/repo/", acc);
    assert.equal(acc.totalUs, 800);
    assert.equal(acc.idleUs, 400);
    assert.equal(acc.byFunction.get("hot  src/a.ts:10"), 300);
    assert.equal(acc.byFunction.get("cold  src/a.ts:20"), 100);
    assert.equal(acc.byFile.get("src/a.ts"), 400);
    const text = render(acc, 5);
    assert.match(text, /\| 75\.0 \| 0 \| `hot  src\/a\.ts:10` \|/);
    assert.match(text, /\| 100\.0 \| 0 \| `src\/a\.ts` \|/);
  });
});
