import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createMonitor, type MetricsSnapshot, renderPrometheus } from "../adapters/hono/mod.ts";
import { HISTOGRAM_BUCKETS } from "../src/queue.ts";
import { type Fixture, startFixture, waitFor } from "./_monitor_fixture.ts";

/**
 * Run `promtool check metrics` on `text`. A missing promtool fails the test:
 * `npm test` installs it (scripts/provision.mjs), and the exposition is never
 * left unchecked.
 */
function promtool(text: string): { status: number; output: string } {
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  if (run.error) {
    throw new Error(`promtool could not run (${run.error.message}); install the Debian package 'prometheus'`);
  }
  return { status: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
}

function assertPromtoolAccepts(text: string): void {
  const result = promtool(text);
  assert.equal(result.output.trim(), "", `promtool reported problems:\n${result.output}`);
  assert.equal(result.status, 0, `promtool exited ${result.status}`);
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict little parser of sample lines, to read values back. */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(m, `unparsable sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const body = m[2].slice(1, -1);
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let lm: RegExpExecArray | null;
      let consumed = 0;
      while ((lm = re.exec(body)) !== null) {
        labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, ch: string) => (ch === "n" ? "\n" : ch));
        consumed = re.lastIndex;
      }
      assert.equal(consumed, body.length, `unparsable labels: ${m[2]}`);
    }
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    samples.push({ name: m[1], labels, value });
  }
  return samples;
}

function find(samples: Sample[], name: string, labels: Record<string, string>): number {
  const hit = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(hit.length, 1, `expected one ${name}${JSON.stringify(labels)}, found ${hit.length}`);
  return hit[0].value;
}

describe("GET /metrics on a running runner", () => {
  let fx: Fixture;
  let text: string;
  let samples: Sample[];
  const queueName = 'metrics "q"\\x';
  before(async () => {
    fx = await startFixture(queueName);
    const app = createMonitor({ runner: fx.runner });
    await fx.dispatchOk(30);
    await fx.dispatchBoom("nope");
    await fx.dispatchBoom("nope again");
    await waitFor(async () => {
      const s = await fx.runner.stats();
      return s.totals.completed === 30 && s.totals.dead === 2;
    }, "30 completions and 2 dead letters");
    const res = await app.request("/metrics");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    text = await res.text();
    samples = parseSamples(text);
  });
  after(async () => {
    await fx.stop();
  });

  it("passes promtool check metrics and ends with a newline", () => {
    assert.ok(text.endsWith("\n"));
    assertPromtoolAccepts(text);
  });

  it("has HELP and TYPE for every family", () => {
    const families: Record<string, string> = {};
    for (const line of text.split("\n")) {
      const m = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line);
      if (m) families[m[1]] = m[2];
    }
    assert.equal(families.taskrunner_tasks_completed_total, "counter");
    assert.equal(families.taskrunner_tasks_failed_total, "counter");
    assert.equal(families.taskrunner_tasks_retried_total, "counter");
    assert.equal(families.taskrunner_tasks_dead_total, "counter");
    assert.equal(families.taskrunner_task_run_duration_seconds, "histogram");
    assert.equal(families.taskrunner_task_wait_duration_seconds, "histogram");
    assert.equal(families.taskrunner_queue_tasks, "gauge");
    assert.equal(families.taskrunner_instances, "gauge");
    assert.equal(families.taskrunner_workers, "gauge");
    assert.equal(families.taskrunner_queue_estimated_drain_seconds, "gauge");
    for (const name of Object.keys(families)) {
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, "m"));
    }
  });

  it("counts what the runner did, labelled by queue (escaped) and task", () => {
    const q = fx.queue.name;
    assert.ok(q.includes(queueName), `queue name ${q}`);
    assert.equal(find(samples, "taskrunner_tasks_completed_total", { queue: q, task: "ok" }), 30);
    assert.equal(find(samples, "taskrunner_tasks_completed_total", { queue: q, task: "boom" }), 0);
    assert.equal(find(samples, "taskrunner_tasks_failed_total", { task: "boom" }), 2);
    assert.equal(find(samples, "taskrunner_tasks_dead_total", { task: "boom" }), 2);
    assert.equal(find(samples, "taskrunner_queue_tasks", { state: "dead" }), 2);
    assert.equal(find(samples, "taskrunner_queue_tasks", { state: "waiting" }), 0);
    assert.equal(find(samples, "taskrunner_instances", {}), 1);
    assert.equal(find(samples, "taskrunner_workers", {}), 4);
    assert.equal(find(samples, "taskrunner_queue_estimated_drain_seconds", {}), 0);
    assert.ok(text.includes('queue="memory:metrics \\"q\\"\\\\x'), "queue label escaped");
  });

  it("renders run-time histograms in seconds with cumulative buckets, _sum and _count", () => {
    const name = "taskrunner_task_run_duration_seconds";
    const buckets = samples.filter((s) => s.name === `${name}_bucket` && s.labels.task === "ok");
    assert.deepEqual(
      buckets.map((b) => b.labels.le),
      [...HISTOGRAM_BUCKETS.map((ms) => String(ms / 1000)), "+Inf"],
    );
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, "cumulative");
    const count = find(samples, `${name}_count`, { task: "ok" });
    assert.equal(count, 30);
    assert.equal(buckets[buckets.length - 1].value, count);
    assert.equal(find(samples, `${name}_bucket`, { task: "ok", le: "0.001" }) < 30, true, "each run sleeps 2 ms");
    const sum = find(samples, `${name}_sum`, { task: "ok" });
    assert.ok(sum >= 30 * 0.0015 && sum < 30 * 1, `sum of 30 runs of ~2 ms in seconds, got ${sum}`);
    assert.equal(find(samples, "taskrunner_task_wait_duration_seconds_count", { task: "ok" }), 30);
  });
});

describe("renderPrometheus", () => {
  function snapshot(tasks: MetricsSnapshot["tasks"], queue = "q"): MetricsSnapshot {
    return {
      queue,
      waiting: 5,
      inFlight: 2,
      delayed: 1,
      dead: 0,
      consumers: 1,
      instances: 2,
      workers: 20,
      busy: 2,
      paused: false,
      estimatedDrainTime: 1500,
      longQueue: false,
      tasks,
    };
  }
  function task(completed: number, buckets: number[]): MetricsSnapshot["tasks"][string] {
    return {
      completed,
      failed: 1,
      retried: 1,
      dead: 0,
      runTimeSum: 1234,
      runTime: buckets,
      waitTimeSum: 10,
      waitTime: buckets,
    };
  }

  it("escapes backslash, quote and newline in label values so the parser reads them back", () => {
    const names = ['a"b', "back\\slash", "new\nline", "tab\tand ünïcødé ✓", "}{,=", ""];
    const b = new Array(HISTOGRAM_BUCKETS.length + 1).fill(0);
    b[2] = 1;
    const text = renderPrometheus(snapshot(Object.fromEntries(names.map((n) => [n, task(1, b)])), 'q"\\\n'));
    assertPromtoolAccepts(text);
    const samples = parseSamples(text);
    const seen = samples.filter((s) => s.name === "taskrunner_tasks_completed_total").map((s) => s.labels.task);
    assert.deepEqual(seen.sort(), [...names].sort());
    for (const s of samples) assert.equal(s.labels.queue, 'q"\\\n');
  });

  it("converts milliseconds to seconds and puts overflow only in +Inf", () => {
    const b = new Array(HISTOGRAM_BUCKETS.length + 1).fill(0);
    b[0] = 2; // <= 1 ms
    b[HISTOGRAM_BUCKETS.length] = 3; // > 300 s
    const samples = parseSamples(renderPrometheus(snapshot({ t: task(5, b) })));
    const run = (le: string) => find(samples, "taskrunner_task_run_duration_seconds_bucket", { task: "t", le });
    assert.equal(run("0.001"), 2);
    assert.equal(run("300"), 2);
    assert.equal(run("+Inf"), 5);
    assert.equal(find(samples, "taskrunner_task_run_duration_seconds_sum", { task: "t" }), 1.234);
    assert.equal(find(samples, "taskrunner_queue_estimated_drain_seconds", {}), 1.5);
    assert.equal(find(samples, "taskrunner_queue_tasks", { state: "in_flight" }), 2);
  });

  it("writes no drain sample while the estimate is unknown, and stays valid with no tasks", () => {
    const text = renderPrometheus({ ...snapshot({}), estimatedDrainTime: null });
    assertPromtoolAccepts(text);
    assert.ok(!parseSamples(text).some((s) => s.name === "taskrunner_queue_estimated_drain_seconds"));
    assert.match(text, /^# TYPE taskrunner_queue_estimated_drain_seconds gauge$/m);
  });

  it("is caught by promtool when broken (the check can fail)", () => {
    const text = renderPrometheus(snapshot({}));
    const broken = text.replace('queue="q"', 'queue="q\n"');
    assert.notEqual(promtool(broken).status, 0);
    const unterminated = promtool(text.slice(0, -1));
    assert.notEqual(unterminated.status, 0, "a missing final newline is an error");
  });
});
