import assert from "node:assert/strict";
import { test } from "node:test";
import { valueKind } from "../../protocols/adapter.js";

test("valueKind tells the five value kinds and null apart", () => {
  assert.equal(valueKind(1.5), "number");
  assert.equal(valueKind(Number.NaN), "number");
  assert.equal(valueKind(2n ** 63n - 1n), "integer");
  assert.equal(valueKind(false), "boolean");
  assert.equal(valueKind(""), "string");
  assert.equal(valueKind(new Uint8Array([1])), "bytes");
  assert.equal(valueKind(null), "null");
  assert.throws(() => valueKind({} as never), TypeError);
});
