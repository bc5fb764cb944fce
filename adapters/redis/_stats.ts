/**
 * Statistics in the stats hash. Fields: `c:`/`f:`/`r:`/`d:` + task name
 * (completed, failed, retried, dead counters), `rs:`/`ws:` + name (run and
 * wait time sums, ms, kept with HINCRBYFLOAT), `rt:<bucket>:`/`wt:<bucket>:`
 * + name (histogram bucket counts). The kind comes first, so any task name
 * round-trips.
 *
 * @module
 */
import type { StatsDelta, TaskStatsDelta } from "../../src/queue.ts";
import { emptyTaskDelta } from "../../src/stats.ts";
import { fieldRecord } from "./_codec.ts";

/** Flat field/increment list of a delta (zero increments left out). */
export function statsFields(delta: StatsDelta): string[] {
  const args: string[] = [];
  for (const [name, s] of Object.entries(delta.tasks)) {
    const add = (field: string, value: number) => {
      if (value) args.push(field + name, String(value));
    };
    add("c:", s.completed);
    add("f:", s.failed);
    add("r:", s.retried);
    add("d:", s.dead);
    add("rs:", s.runTimeSum);
    add("ws:", s.waitTimeSum);
    s.runTime.forEach((v, i) => add(`rt:${i}:`, v));
    s.waitTime.forEach((v, i) => add(`wt:${i}:`, v));
  }
  return args;
}

/** Fleet-wide totals from an HGETALL reply (RESP2 list or RESP3 map). */
export function parseStats(reply: unknown): StatsDelta {
  const tasks: Record<string, TaskStatsDelta> = {};
  const task = (name: string) => (tasks[name] ??= emptyTaskDelta());
  for (const [field, raw] of pairs(reply)) {
    const value = Number(raw);
    const m = /^(c|f|r|d|rs|ws):([\s\S]*)$/.exec(field);
    if (m) {
      const t = task(m[2]);
      if (m[1] === "c") t.completed += value;
      else if (m[1] === "f") t.failed += value;
      else if (m[1] === "r") t.retried += value;
      else if (m[1] === "d") t.dead += value;
      else if (m[1] === "rs") t.runTimeSum += value;
      else t.waitTimeSum += value;
      continue;
    }
    const h = /^(rt|wt):(\d+):([\s\S]*)$/.exec(field);
    if (h) {
      const t = task(h[3]);
      const i = Number(h[2]);
      const hist = h[1] === "rt" ? t.runTime : t.waitTime;
      if (i < hist.length) hist[i] += value;
    }
  }
  return { tasks };
}

function pairs(reply: unknown): Array<[string, string]> {
  const rec = fieldRecord(reply);
  return rec ? Object.entries(rec) : [];
}

