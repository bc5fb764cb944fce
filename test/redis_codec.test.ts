import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeDelivery, readGroupDeliveries, readGroupEntries, taskFields } from "../adapters/redis/_codec.ts";

const task = { id: "t:1:x", name: "na:me", body: '{"a":1}', attempt: 2, reservationTimeout: 1500 };

describe("redis entry codec", () => {
  it("packs a task without a lock into two fields and decodes it back", () => {
    const fields = taskFields(task, undefined, 1234);
    assert.equal(fields.length, 4);
    const d = decodeDelivery("1700000000000-0", fields, 1, 99);
    assert.equal(d.malformed, undefined);
    assert.equal(d.id, "t:1:x");
    assert.equal(d.name, "na:me");
    assert.equal(d.body, '{"a":1}');
    assert.equal(d.attempt, 2);
    assert.equal(d.reservationTimeout, 1500);
    assert.equal(d.dispatchedAt, 1234);
    assert.equal(d.readyAt, 1700000000000);
  });

  it("takes dispatchedAt from the entry id when the packed value is empty, and appended dat/rat fields win", () => {
    const plain = decodeDelivery("1700000000000-0", taskFields(task), 1, 99);
    assert.equal(plain.dispatchedAt, 1700000000000);
    const appended = decodeDelivery("1700000000000-0", [...taskFields(task, undefined, 5), "dat", "7", "rat", "9"], 1, 99);
    assert.equal(appended.dispatchedAt, 7);
    assert.equal(appended.readyAt, 9);
  });

  it("keeps one field per value for tasks with a unique lock", () => {
    const fields = taskFields(task, { key: "k", token: "tok" });
    assert.equal(fields[0], "id");
    assert.equal(fields[1], "t:1:x");
    const d = decodeDelivery("1700000000000-0", fields, 1, 99);
    assert.equal(d.malformed, undefined);
    assert.deepEqual(d.unique, { key: "k", token: "tok" });
    assert.equal(d.name, "na:me");
  });

  it("still decodes the older multi-field layout", () => {
    const d = decodeDelivery("1700000000000-0", ["id", "a", "name", "n", "body", "b", "attempt", "3", "rt", "10", "dat", "5"], 2, 99);
    assert.equal(d.malformed, undefined);
    assert.deepEqual([d.id, d.name, d.body, d.attempt, d.reservationTimeout, d.dispatchedAt], ["a", "n", "b", 3, 10, 5]);
  });

  it("reports a malformed packed field instead of throwing", () => {
    for (const m of ["", "1:2", "x:2::1:ab", "1:2::9:ab", "1:2::z:ab", "1:y::1:ab"]) {
      const d = decodeDelivery("1700000000000-0", ["m", m, "body", "b"], 1, 99);
      assert.ok(d.malformed, `expected malformed for ${JSON.stringify(m)}`);
      assert.equal(d.name, "");
      assert.equal(d.body, "");
    }
    const noBody = decodeDelivery("1700000000000-0", ["m", "0:1::1:an"], 1, 99);
    assert.match(noBody.malformed ?? "", /body/);
  });
  it("decodes a packed entry as the same task written one field per value", () => {
    const ids = ["1700000000000-0", "1700000000000-17", "abc-1", "-1", "12", "1234567890123456-0"];
    const cases: Array<[string, string[]]> = [
      ["2:1500:1234:5:t:1:xna:me", ["attempt", "2", "rt", "1500", "dat", "1234", "id", "t:1:x", "name", "na:me"]],
      ["0:30000::3:abcnoop", ["attempt", "0", "rt", "30000", "id", "abc", "name", "noop"]],
      ["0:30000:x1:3:abcnoop", ["attempt", "0", "rt", "30000", "dat", "x1", "id", "abc", "name", "noop"]],
      ["0:0:1:0:", ["attempt", "0", "rt", "0", "dat", "1", "id", "", "name", ""]],
      ["1234567890123456:1::1:ab", ["attempt", "1234567890123456", "rt", "1", "id", "a", "name", "b"]],
    ];
    const extras: string[][] = [[], ["dat", "7"], ["dat", "bad"], ["rat", "9"], ["rat", "-3", "dat", ""], ["dat", "8", "dat", "6"]];
    for (const id of ids) {
      for (const [m, split] of cases) {
        for (const extra of extras) {
          const packed = decodeDelivery(id, ["m", m, "body", "b", ...extra], 3, 99);
          const separate = decodeDelivery(id, [...split, "body", "b", ...extra], 3, 99);
          assert.deepEqual(packed, separate, `${id} ${m} ${extra.join(" ")}`);
        }
      }
    }
  });

  it("decodes an XREADGROUP reply in one pass as entry by entry", () => {
    const entries = [
      ["1700000000000-0", taskFields(task, undefined, 1234)],
      ["1700000000001-0", ["m", "1:2::9:ab", "body", "b"]],
      ["1700000000002-0", null],
      ["1700000000003-0", taskFields(task, { key: "k", token: "tok" })],
    ];
    for (const reply of [[["s", entries]], new Map([["s", entries]]), { s: entries }]) {
      assert.deepEqual(
        readGroupDeliveries(reply, 99),
        readGroupEntries(reply).map(([id, fields]) => decodeDelivery(id, fields, 1, 99)),
      );
    }
    assert.deepEqual(readGroupDeliveries(null, 99), []);
    assert.deepEqual(readGroupDeliveries([], 99), []);
  });
});
