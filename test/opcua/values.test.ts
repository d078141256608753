// A DataValue's Variant becomes a Reading's value itself, or an Unconvertible saying why it cannot;
// the timestamp is the source's, else the server's, else now.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DataType, DataValue, Variant, VariantArrayType } from "node-opcua-client";
import { Unconvertible, convertVariant, timestampOf } from "../../protocols/opcua/values.js";

test("a scalar becomes the reading's value itself", () => {
  assert.equal(convertVariant(new Variant({ dataType: DataType.Double, value: 2.5 }), "Double"), 2.5);
  assert.equal(convertVariant(new Variant({ dataType: DataType.Boolean, value: true })), true);
  assert.equal(convertVariant(new Variant({ dataType: DataType.String, value: "on" })), "on");
  assert.equal(
    convertVariant(
      new Variant({ dataType: DataType.Int64, arrayType: VariantArrayType.Scalar, value: [0, 5] }),
    ),
    5n,
  );
  assert.equal(convertVariant(new Variant({ dataType: DataType.Null })), null);
  const at = new Date(1_700_000_000_000);
  assert.equal(convertVariant(new Variant({ dataType: DataType.DateTime, value: at })), at.getTime());
});

test("what a reading cannot carry is an Unconvertible with the reason", () => {
  const array = convertVariant(
    new Variant({ dataType: DataType.Double, arrayType: VariantArrayType.Array, value: [1, 2] }),
  );
  assert.ok(array instanceof Unconvertible);
  assert.equal(array.reason, "an array of Double");
  const other = convertVariant(new Variant({ dataType: DataType.Int32, value: 3 }), "Double");
  assert.ok(other instanceof Unconvertible);
  assert.equal(other.reason, "Int32 where the map says Double");
});

test("the timestamp is the source's, else the server's, else now", () => {
  const source = new Date(1_700_000_000_000);
  const server = new Date(1_700_000_001_000);
  assert.equal(
    timestampOf(new DataValue({ sourceTimestamp: source, serverTimestamp: server })),
    1_700_000_000_000,
  );
  assert.equal(timestampOf(new DataValue({ serverTimestamp: server })), 1_700_000_001_000);
  assert.equal(timestampOf(new DataValue({}), 42), 42);
});
