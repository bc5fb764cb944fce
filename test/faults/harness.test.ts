// @runtimes node deno bun
/**
 * The fault harness itself: the proxy really partitions and cuts, the
 * private server really dies, comes back with its AOF, and freezes; the
 * ledger really flags loss, duplicates and a wrong failed-handler count.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { FaultProxy } from "./_proxy.ts";
import { RedisProcess, delay, percentile } from "./_harness.ts";
import { analyse, assertFailedHandlerExactlyOnce, assertFenced, assertNoLoss } from "./_ledger.ts";
import type { WorkerRecord } from "./_protocol.ts";

/** Send one inline command through `port` and read one reply line. */
function roundTrip(port: number, command: string, timeout: number): Promise<string | "timeout" | "closed"> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let buf = "";
    const done = (v: string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done("timeout"), timeout);
    socket.on("connect", () => socket.write(command + "\r\n"));
    socket.on("data", (d) => {
      buf += d.toString();
      if (buf.includes("\r\n")) done(buf.trim());
    });
    socket.on("error", () => done("closed"));
    socket.on("close", () => done(buf ? buf.trim() : "closed"));
  });
}

describe("fault harness", () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await RedisProcess.start({ persistence: "aof-always" });
  });
  after(async () => {
    await redis?.stop();
  });

  it("proxy passes, blackholes without dropping bytes, and cuts connections", async () => {
    const proxy = await FaultProxy.start(redis.port);
    try {
      assert.equal(await roundTrip(proxy.port, "PING", 1_000), "+PONG");
      proxy.setMode("blackhole");
      const pending = roundTrip(proxy.port, "PING", 2_000);
      await delay(300);
      proxy.setMode("pass");
      assert.equal(await pending, "+PONG", "bytes held during the partition flow after the heal");
      proxy.setMode("blackhole");
      assert.equal(await roundTrip(proxy.port, "PING", 300), "timeout");
      proxy.setMode("pass");
      const socket = net.connect(proxy.port, "127.0.0.1");
      await new Promise((r) => socket.once("connect", r));
      const closed = new Promise((r) => socket.once("close", r));
      await delay(50);
      assert.equal(proxy.connections, 1);
      proxy.cut();
      await closed;
      assert.equal(proxy.connections, 0);
    } finally {
      await proxy.close();
    }
  });

  it("kills, restarts with the AOF replayed, and freezes the server", async () => {
    await redis.cli("SET", "k", "v");
    const pid = redis.pid;
    await redis.kill();
    assert.equal(await roundTrip(redis.port, "PING", 300), "closed");
    await redis.restart();
    assert.notEqual(redis.pid, pid);
    assert.equal(await redis.cli("GET", "k"), "v");
    redis.pause();
    assert.equal(await roundTrip(redis.port, "PING", 300), "timeout");
    redis.resume();
    assert.equal(await roundTrip(redis.port, "PING", 1_000), "+PONG");
    assert.equal(await redis.info("aof_enabled"), "1");
  });

  it("ledger flags loss, counts duplicates per attempt, and checks the failed handler", () => {
    const r = (ev: string, id: string, attempt: number, t: number, ok = true): WorkerRecord =>
      ({ ev, id, attempt, t, pid: 1, name: "w", i: 0, ok, aborted: false }) as WorkerRecord;
    const records = [
      r("start", "a", 0, 1), r("start", "a", 0, 2), r("end", "a", 0, 3),
      r("start", "b", 0, 1), r("end", "b", 0, 2, false), r("start", "b", 1, 3), r("end", "b", 1, 4, false),
      { ev: "failed-handler", id: "b", name: "w", pid: 1, t: 5 } as WorkerRecord,
    ];
    const outcome = analyse(records, ["a", "b", "c"], [{ id: "b", reason: "max-retries" }]);
    assert.deepEqual(outcome.missing, ["c"]);
    assert.equal(outcome.duplicates, 1);
    assert.throws(() => assertNoLoss(outcome));
    assertFailedHandlerExactlyOnce(outcome);
    const twice = analyse([...records, { ev: "failed-handler", id: "b", name: "w", pid: 1, t: 6 } as WorkerRecord], ["a", "b"], [
      { id: "b", reason: "max-retries" },
    ]);
    assert.throws(() => assertFailedHandlerExactlyOnce(twice));
    const ack = (t: number) => ({ ev: "ack", results: [{ id: "a", ok: true }], pid: 1, t }) as WorkerRecord;
    assertFenced(analyse([...records, ack(4)], ["a"]));
    assert.throws(() => assertFenced(analyse([...records, ack(4), ack(5)], ["a"])));
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
    assert.equal(percentile([5, 1, 3, 2, 4], 99), 5);
  });
});
