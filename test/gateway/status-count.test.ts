// count(): thousands separators written by hand, the same text toLocaleString("en-US") gives integers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { count } from "../../gateway/status-page.js";

test("count groups digits by three as en-US does", () => {
  for (const n of [0, 7, 999, 1000, 1204, 12345, 999_999, 1_000_000, 1_234_567_890, -1204, -999, 2 ** 53 - 1])
    assert.equal(count(n), n.toLocaleString("en-US"), String(n));
  assert.equal(count(1234.5), "1,234.5");
  assert.equal(count(NaN), "NaN");
});
