import assert from "node:assert/strict";
import { test } from "node:test";
import {
  canonicalBytes,
  decodeRegisters,
  encodeRegisters,
  EncodeError,
  fromEngineering,
  registerCount,
  shortestFloat32,
  toEngineering,
} from "../../protocols/modbus/codec.js";
import type { ByteOrder, ModbusType } from "../../protocols/modbus/points.js";

const ORDERS: ByteOrder[] = ["ABCD", "CDAB", "BADC", "DCBA"];

test("32-bit orders put the bytes of 0x12345678 where their names say", () => {
  const want: Record<ByteOrder, number[]> = {
    ABCD: [0x1234, 0x5678],
    CDAB: [0x5678, 0x1234],
    BADC: [0x3412, 0x7856],
    DCBA: [0x7856, 0x3412],
  };
  for (const order of ORDERS) {
    assert.deepEqual(encodeRegisters(0x12345678, { type: "uint32", order }), want[order], order);
    assert.equal(decodeRegisters(want[order], 0, { type: "uint32", order }), 0x12345678, order);
  }
});

test("float32 123.456 is 0x42F6E979 in the four orders", () => {
  const want: Record<ByteOrder, number[]> = {
    ABCD: [0x42f6, 0xe979],
    CDAB: [0xe979, 0x42f6],
    BADC: [0xf642, 0x79e9],
    DCBA: [0x79e9, 0xf642],
  };
  for (const order of ORDERS) {
    assert.deepEqual(encodeRegisters(123.456, { type: "float32", order }), want[order], order);
    assert.equal(decodeRegisters(want[order], 0, { type: "float32", order }), 123.456, order);
  }
});

test("64-bit orders extend the same rule over four words", () => {
  const v = 0x0102030405060708n;
  const want: Record<ByteOrder, number[]> = {
    ABCD: [0x0102, 0x0304, 0x0506, 0x0708],
    CDAB: [0x0708, 0x0506, 0x0304, 0x0102],
    BADC: [0x0201, 0x0403, 0x0605, 0x0807],
    DCBA: [0x0807, 0x0605, 0x0403, 0x0201],
  };
  for (const order of ORDERS) {
    assert.deepEqual(encodeRegisters(v, { type: "uint64", order }), want[order], order);
    assert.equal(decodeRegisters(want[order], 0, { type: "uint64", order }), v, order);
    assert.deepEqual([...canonicalBytes(want[order], 0, 4, order)], [1, 2, 3, 4, 5, 6, 7, 8], order);
  }
});

test("16-bit values: only the byte swap of BADC/DCBA applies", () => {
  assert.deepEqual(encodeRegisters(-2, { type: "int16", order: "ABCD" }), [0xfffe]);
  assert.deepEqual(encodeRegisters(-2, { type: "int16", order: "CDAB" }), [0xfffe]);
  assert.deepEqual(encodeRegisters(-2, { type: "int16", order: "BADC" }), [0xfeff]);
  assert.deepEqual(encodeRegisters(-2, { type: "int16", order: "DCBA" }), [0xfeff]);
  assert.equal(decodeRegisters([0x0102], 0, { type: "uint16", order: "DCBA" }), 0x0201);
});

// Registers produced by pymodbus 3.16.1 `convert_to_registers(value, type, word_order)` with
// word_order "big" (ABCD) and "little" (CDAB).
const PYMODBUS: [ModbusType, ByteOrder, number | string, number[]][] = [
  ["int16", "ABCD", -12345, [53191]],
  ["uint16", "ABCD", 54321, [54321]],
  ["int32", "ABCD", -123456789, [63652, 13035]],
  ["int32", "CDAB", -123456789, [13035, 63652]],
  ["uint32", "ABCD", 3000000000, [45776, 24064]],
  ["uint32", "CDAB", 3000000000, [24064, 45776]],
  ["int64", "ABCD", "-1234567890123456789", [61149, 61195, 33302, 32491]],
  ["int64", "CDAB", "-1234567890123456789", [32491, 33302, 61195, 61149]],
  ["uint64", "ABCD", "18000000000000000000", [63948, 55457, 50440, 0]],
  ["uint64", "CDAB", "18000000000000000000", [0, 50440, 55457, 63948]],
  ["float32", "ABCD", 123.456, [17142, 59769]],
  ["float32", "CDAB", 123.456, [59769, 17142]],
  ["float64", "ABCD", -9876.54321, [49347, 19013, 34791, 49262]],
  ["float64", "CDAB", -9876.54321, [49262, 34791, 19013, 49347]],
  ["string", "ABCD", "PUMP-7", [20565, 19792, 11575]],
];

test("agrees with pymodbus's own register conversion", () => {
  for (const [type, order, v, regs] of PYMODBUS) {
    const shape = { type, order, length: regs.length };
    const value = type === "int64" || type === "uint64" ? BigInt(v) : v;
    const got = decodeRegisters(regs, 0, shape);
    assert.equal(got, value, `${type} ${order}`);
    assert.deepEqual(encodeRegisters(value, shape), regs, `${type} ${order}`);
  }
});

test("every type round-trips in every order", () => {
  const samples: [ModbusType, (number | bigint | boolean | string)[]][] = [
    ["int16", [-32768, -1, 0, 1, 32767]],
    ["uint16", [0, 1, 65535]],
    ["int32", [-2147483648, -1, 0, 2147483647]],
    ["uint32", [0, 4294967295]],
    ["int64", [-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n]],
    ["uint64", [0n, 2n ** 64n - 1n]],
    ["float32", [0, -1.5, 2 ** 40, Math.fround(0.1), Math.fround(20.499), Math.fround(-3.4028235e38)]],
    ["float64", [0, Math.PI, -1e300]],
    ["bool", [true, false]],
    ["string", ["", "A", "héllo wörld"]],
  ];
  for (const order of ORDERS) {
    for (const [type, values] of samples) {
      for (const v of values) {
        const shape = { type, order, length: 8 };
        const regs = encodeRegisters(v, shape);
        assert.equal(regs.length, registerCount(type, 8));
        for (const r of regs) assert.ok(Number.isInteger(r) && r >= 0 && r <= 0xffff);
        const back = decodeRegisters([9, ...regs], 1, shape);
        // A float32 reads as its shortest decimal (2 ** 40 as 1099511600000): the same float32.
        if (type === "float32") assert.equal(Math.fround(back as number), v, `${type} ${order} ${String(v)}`);
        else assert.equal(back, v, `${type} ${order} ${String(v)}`);
        assert.deepEqual(encodeRegisters(back, shape), regs, `${type} ${order} ${String(v)}`);
      }
    }
  }
});

test("float32 reads as the shortest decimal that is the same float32, exactly that float32", () => {
  const b = Buffer.alloc(4);
  let state = 12345;
  for (let i = 0; i < 20_000; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    b.writeUInt32BE(state);
    const f = b.readFloatBE(0);
    const got = decodeRegisters([b.readUInt16BE(0), b.readUInt16BE(2)], 0, {
      type: "float32",
      order: "ABCD",
    });
    if (Number.isNaN(f)) {
      assert.ok(Number.isNaN(got));
      continue;
    }
    assert.equal(Math.fround(got as number), f, `0x${state.toString(16)}`);
    const significant = String(got)
      .replace(/e.*$/, "")
      .replace(/[-.]/g, "")
      .replace(/^0+|0+$/g, "");
    assert.ok(significant.length <= 9, String(got));
  }
  assert.equal(shortestFloat32(Math.fround(20.499)), 20.499);
  assert.equal(shortestFloat32(Math.fround(0.1)), 0.1);
  assert.equal(shortestFloat32(16777217), 16777217);
  assert.equal(shortestFloat32(Math.fround(16777217)), 16777216);
});

test("strings: high byte first, low byte first for BADC/DCBA, NUL and trailing spaces cut", () => {
  assert.deepEqual(encodeRegisters("AB", { type: "string", order: "ABCD", length: 2 }), [0x4142, 0]);
  assert.deepEqual(encodeRegisters("AB", { type: "string", order: "BADC", length: 2 }), [0x4241, 0]);
  assert.equal(decodeRegisters([0x4142, 0x4320], 0, { type: "string", order: "ABCD", length: 2 }), "ABC");
  assert.equal(decodeRegisters([0x4142, 0x0043], 0, { type: "string", order: "ABCD", length: 2 }), "AB");
  assert.throws(() => encodeRegisters("ABCDE", { type: "string", order: "ABCD", length: 2 }), EncodeError);
});

test("a bit of a register, numbered from the least significant", () => {
  const shape = (bit: number) => ({ type: "bool" as const, order: "ABCD" as const, bit });
  assert.equal(decodeRegisters([0b1000_0000_0000_0101], 0, shape(0)), true);
  assert.equal(decodeRegisters([0b1000_0000_0000_0101], 0, shape(1)), false);
  assert.equal(decodeRegisters([0b1000_0000_0000_0101], 0, shape(15)), true);
  assert.equal(decodeRegisters([7], 0, { type: "bool", order: "ABCD" }), true);
  assert.equal(decodeRegisters([0], 0, { type: "bool", order: "ABCD" }), false);
});

test("encoding refuses values that do not fit, and the wrong kind of value", () => {
  assert.throws(() => encodeRegisters(70000, { type: "uint16", order: "ABCD" }), /out of range for uint16/);
  assert.throws(() => encodeRegisters(-1, { type: "uint32", order: "ABCD" }), /out of range/);
  assert.throws(() => encodeRegisters(2n ** 64n, { type: "uint64", order: "ABCD" }), /out of range/);
  assert.throws(() => encodeRegisters("12", { type: "int16", order: "ABCD" }), /expected a number/);
  assert.throws(() => encodeRegisters(Number.NaN, { type: "float32", order: "ABCD" }), /finite/);
  assert.throws(() => encodeRegisters(1e39, { type: "float32", order: "ABCD" }), /out of range for float32/);
  assert.throws(() => encodeRegisters(2, { type: "bool", order: "ABCD" }), /boolean/);
  assert.deepEqual(encodeRegisters(1, { type: "bool", order: "ABCD" }), [1]);
  assert.deepEqual(encodeRegisters(12.6, { type: "int16", order: "ABCD" }), [13]);
});

test("scale and offset: value * scale + offset, undone for writes; bigint kept only unscaled", () => {
  assert.equal(toEngineering(215, 0.1, 0), 21.5);
  assert.equal(toEngineering(100, 2, -40), 160);
  assert.equal(toEngineering(5n, 1, 0), 5n);
  assert.equal(toEngineering(5n, 0.5, 0), 2.5);
  assert.equal(toEngineering(true, 10, 1), true);
  assert.equal(toEngineering("x", 10, 1), "x");
  const raw = fromEngineering(21.5, "int16", 0.1, 0);
  assert.deepEqual(encodeRegisters(raw, { type: "int16", order: "ABCD" }), [215]);
  assert.equal(fromEngineering(160, "uint16", 2, -40), 100);
  assert.throws(() => fromEngineering(1, "uint16", 0, 0), /scale is 0/);
});
