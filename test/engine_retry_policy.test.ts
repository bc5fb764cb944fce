import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UnrecoverableError } from "../mod.ts";
import { nextStep, type PolicyConfig, type PolicyDelivery, type PolicyTask, refusal, type Step } from "../src/retry_policy.ts";

const config: PolicyConfig = {
  backoff: { type: "fixed", delay: 70 },
  unknownTaskMaxRetry: 2,
  maxDeliveries: 5,
};
const task: PolicyTask = { maxRetry: 3, backoff: { type: "exponential", delay: 100, jitter: 0 } };
const delivery = (over: Partial<PolicyDelivery> = {}): PolicyDelivery => ({ attempt: 0, deliveryCount: 1, ...over });
const failure = new Error("x");

describe("retry policy", () => {
  const rows: Array<[string, PolicyDelivery, PolicyTask | undefined, unknown, Step]> = [
    ["first failure retries after the task's backoff", delivery(), task, failure, { kind: "retry", delay: 100 }],
    ["third failure doubles twice", delivery({ attempt: 2 }), task, failure, { kind: "retry", delay: 400 }],
    ["out of retries", delivery({ attempt: 3 }), task, failure, { kind: "dead", reason: "max-retries" }],
    ["unrecoverable, retries left", delivery(), task, new UnrecoverableError("no"), { kind: "dead", reason: "unrecoverable" }],
    ["unknown task retries with the runner's backoff", delivery({ attempt: 1 }), undefined, failure, { kind: "retry", delay: 70 }],
    ["unknown task, out of retries", delivery({ attempt: 2 }), undefined, failure, { kind: "dead", reason: "unknown-task" }],
    ["malformed", delivery({ malformed: "bad entry" }), task, undefined, { kind: "dead", reason: "malformed" }],
    ["malformed wins over unknown", delivery({ malformed: "bad entry" }), undefined, undefined, { kind: "dead", reason: "malformed" }],
    ["poison", delivery({ deliveryCount: 6 }), task, undefined, { kind: "dead", reason: "poison" }],
    ["at maxDeliveries is not poison", delivery({ deliveryCount: 5 }), task, failure, { kind: "retry", delay: 100 }],
    ["maxRetry 0 dead-letters the first failure", delivery(), { ...task, maxRetry: 0 }, failure, { kind: "dead", reason: "max-retries" }],
    ["a negative backoff means no wait", delivery(), { ...task, backoff: () => -5 }, failure, { kind: "retry", delay: 0 }],
  ];
  for (const [what, d, spec, error, expected] of rows) {
    it(what, () => assert.deepEqual(nextStep(d, spec, error, config), expected));
  }

  it("a throwing backoff is reported and the default backoff used", () => {
    const reported: unknown[] = [];
    const boom = new Error("backoff broke");
    const step = nextStep(delivery(), { ...task, backoff: () => {
      throw boom;
    } }, failure, config, (e) => reported.push(e));
    assert.deepEqual(reported, [boom]);
    assert.equal(step.kind, "retry");
    assert.ok(step.kind === "retry" && step.delay >= 500 && step.delay <= 1_000, "default: 1 s with 50 % jitter");
  });

  it("refusal says malformed, poison or nothing", () => {
    assert.equal(refusal(delivery(), 5), null);
    assert.equal(refusal(delivery({ malformed: "x" }), 5), "malformed");
    assert.equal(refusal(delivery({ deliveryCount: 6 }), 5), "poison");
  });
});
