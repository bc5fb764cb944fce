import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as v from "valibot";
import { MemoryQueue } from "../adapters/memory/mod.ts";
import { ConfigError, type RunnerConfig, TaskRunner, TaskRunnerError } from "../mod.ts";

function configError(config: unknown): ConfigError {
  try {
    new TaskRunner(new MemoryQueue(), config as RunnerConfig);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    return error;
  }
  assert.fail("the runner accepted an invalid config");
}

function taskError(definition: unknown): ConfigError | TaskRunnerError {
  const runner = new TaskRunner(new MemoryQueue());
  runner.registerTask({ name: "taken", action: () => {} });
  try {
    runner.registerTask(definition as never);
  } catch (error) {
    assert.ok(error instanceof TaskRunnerError, `expected TaskRunnerError, got ${error}`);
    return error;
  }
  assert.fail("the runner accepted an invalid task definition");
}

describe("runner config", () => {
  it("names the option and the value given when numWorkers is 0", () => {
    const error = configError({ numWorkers: 0 });
    assert.equal(error.message, "Cannot create runner: 'numWorkers' must be a positive integer, got 0");
    assert.deepEqual(error.issues, [{ path: "numWorkers", message: error.message.slice("Cannot create runner: ".length) }]);
  });

  it("rejects batchSize 0, which would consume nothing", () => {
    assert.equal(configError({ batchSize: 0 }).message, "Cannot create runner: 'batchSize' must be a positive integer, got 0");
  });

  it("rejects non-integer, NaN and string counts", () => {
    assert.match(configError({ numFetchers: 1.5 }).message, /'numFetchers' must be a positive integer, got 1\.5$/);
    assert.match(configError({ numWorkers: NaN }).message, /'numWorkers' must be a positive integer, got NaN$/);
    assert.match(configError({ batchSize: "10" }).message, /'batchSize' must be a positive integer, got "10"$/);
    assert.match(configError({ replicationFactor: 0 }).message, /'replicationFactor' must be a positive integer, got 0$/);
  });

  it("rejects negative, NaN and infinite durations", () => {
    assert.match(
      configError({ shutdownTimeout: -1 }).message,
      /'shutdownTimeout' must be a non-negative finite number of milliseconds, got -1$/,
    );
    assert.match(configError({ longQueueThreshold: Infinity }).message, /'longQueueThreshold' .* got Infinity$/);
    assert.match(configError({ longQueueThreshold: 0 }).message, /'longQueueThreshold' must be a positive .* got 0$/);
    assert.match(configError({ statsInterval: NaN }).message, /'statsInterval' .* got NaN$/);
    assert.match(configError({ reservationTimeout: 1 }).message, /'reservationTimeout' .* >= 10, got 1$/);
  });

  it("rejects hooks and handlers that are not functions", () => {
    assert.equal(
      configError({ failedTaskHandler: "log" }).message,
      `Cannot create runner: 'failedTaskHandler' must be a function, got "log"`,
    );
    assert.match(configError({ longQueueHook: {} }).message, /'longQueueHook' must be a function, got \{\}$/);
  });

  it("rejects a logger or clock missing methods", () => {
    assert.match(configError({ logger: { info() {} } }).message, /'logger' must be a Logger/);
    assert.match(configError({ clock: { now: () => 0 } }).message, /'clock' must be a Clock/);
  });

  it("rejects a malformed backoff", () => {
    assert.match(configError({ backoff: { type: "linear" } }).message, /'backoff' must be a function/);
    assert.match(configError({ backoff: { type: "fixed" } }).message, /'backoff'/);
    assert.match(configError({ backoff: { type: "exponential", jitter: 2 } }).message, /'backoff'/);
  });

  it("rejects unknown options, catching typos", () => {
    assert.equal(configError({ numWorker: 3 }).message, "Cannot create runner: unknown option 'numWorker'");
  });

  it("rejects a config that is not an object", () => {
    assert.match(configError(42).message, /config must be an object, got 42/);
  });

  it("applies documented defaults", () => {
    const runner = new TaskRunner(new MemoryQueue(), { consumerGroup: "emails" });
    const c = runner.config;
    assert.equal(c.consumerGroup, "emails");
    assert.equal(c.consumersPrefix, "emails");
    assert.equal(c.batchSize, 10);
    assert.equal(c.numWorkers, 10);
    assert.equal(c.numFetchers, 1);
    assert.equal(c.replicationFactor, undefined);
    assert.equal(c.shutdownTimeout, 30_000);
    assert.equal(c.statsInterval, 1_000);
    assert.equal(c.maxRetry, 3);
    assert.equal(c.reservationTimeout, 30_000);
    assert.equal(runner.group, "emails");
  });

  it("accepts a custom backoff function and console as logger", () => {
    const runner = new TaskRunner(new MemoryQueue(), { backoff: () => 5, logger: console });
    assert.equal(typeof runner.config.backoff, "function");
  });

  it("refuses something that is not a queue", () => {
    assert.throws(() => new TaskRunner({} as never), /queue must be a MessageQueue/);
  });
});

describe("task definitions", () => {
  it("require a name made of safe characters", () => {
    assert.match(taskError({ name: "", action() {} }).message, /'name' must be 1 to 200 characters/);
    assert.match(taskError({ name: "a|b", action() {} }).message, /Cannot register task 'a\|b': 'name'/);
    assert.match(taskError({ name: 7, action() {} }).message, /Cannot register task 7: 'name'/);
  });

  it("require an action function", () => {
    assert.equal(
      taskError({ name: "t", action: "run" }).message,
      `Cannot register task 't': 'action' must be a function, got "run"`,
    );
  });

  it("require reservationTimeout of at least 10 ms and a non-negative integer maxRetry", () => {
    assert.match(taskError({ name: "t", action() {}, reservationTimeout: 0 }).message, /'reservationTimeout' .* got 0$/);
    assert.equal(
      taskError({ name: "t", action() {}, maxRetry: -1 }).message,
      "Cannot register task 't': 'maxRetry' must be a non-negative integer, got -1",
    );
    assert.match(taskError({ name: "t", action() {}, timeout: 0 }).message, /'timeout' must be a positive .* got 0$/);
  });

  it("refuse uniqueKey or uniqueFor without unique: true", () => {
    assert.equal(
      taskError({ name: "t", action() {}, uniqueKey: () => "k" }).message,
      "Cannot register task 't': 'uniqueKey' requires 'unique: true'",
    );
    assert.match(taskError({ name: "t", action() {}, uniqueFor: 1000 }).message, /'uniqueFor' requires 'unique: true'/);
  });

  it("accept unique without uniqueFor (lock held until completion)", () => {
    const runner = new TaskRunner(new MemoryQueue());
    const handle = runner.registerTask({ name: "once", unique: true, action: () => {} });
    assert.equal(handle.name, "once");
  });

  it("refuse a schema that is not a Standard Schema", () => {
    assert.match(taskError({ name: "t", action() {}, schema: { parse() {} } }).message, /'schema' must be a Standard Schema/);
  });

  it("refuse unknown fields and a name registered twice", () => {
    assert.match(taskError({ name: "t", action() {}, retries: 3 }).message, /unknown field 'retries'/);
    assert.match(taskError({ name: "taken", action() {} }).message, /already registered/);
  });

  it("infer the payload type from a schema or from the action", () => {
    const runner = new TaskRunner(new MemoryQueue());
    const typed = runner.registerTask({
      name: "typed",
      schema: v.object({ to: v.string() }),
      action: (payload) => {
        const to: string = payload.to;
        return to;
      },
    });
    const plain = runner.registerTask({ name: "plain", action: (n: number) => n + 1 });
    // Compile-time checks (tsc runs over the tests): wrong payloads do not type-check.
    const wrong = () => {
      // @ts-expect-error the schema wants { to: string }
      void typed.dispatch({ to: 1 });
      // @ts-expect-error the action takes a number
      void plain.dispatch("one");
    };
    assert.equal(typeof wrong, "function");
    assert.equal(plain.name, "plain");
    assert.deepEqual(runner.taskNames, ["typed", "plain"]);
  });
});
