import assert from "node:assert/strict";
import { test } from "node:test";
import { batchMessageId, gatewayHash } from "../../gateway/envelope.js";
import { xxh3_64Js } from "../../gateway/iggy/hash/xxh3-js.js";
import {
  loadFastXxh3,
  WASM_FROM_BYTES,
  xxh3Candidates,
  xxh3Implementation,
} from "../../gateway/iggy/hash/xxh3.js";
import { partitionForKey, xxh3_64, xxh32 } from "../../gateway/iggy/index.js";

// Reference values computed with the xxhash C library (Python `xxhash` package).
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 255;
  return b;
}

function lcg(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = (x >>> 16) & 255;
  }
  return b;
}

const PATTERN: [number, bigint, number][] = [
  [0, 0x2d06800538d394c2n, 0x02cc5d05],
  [1, 0x13e608bc156defedn, 0x21ae663a],
  [3, 0xa9088dda485b481cn, 0xcd3d2242],
  [4, 0x6d9253b16c8b1ed3n, 0x725479f2],
  [8, 0x60539db630471163n, 0x29b5025a],
  [9, 0xfeff668361d723a8n, 0xd8286c54],
  [16, 0xb8c859b0f030b585n, 0x8845547d],
  [17, 0x714a04408e79b80fn, 0x450e5f84],
  [100, 0xb5937857f0d78c9fn, 0x73091a4d],
  [128, 0x67425a03650261bfn, 0x4a61f5b0],
  [129, 0xc664bf3311c6abc4n, 0x8491ee68],
  [200, 0x746cd0025327bf5bn, 0x2870dbaa],
  [240, 0x64556dc6b462a6cfn, 0x63424396],
  [241, 0x8beadd3a8874fe17n, 0x607a9c5f],
  [1024, 0x9b81661c641c72b1n, 0x7d0eaf57],
  [1025, 0x806c2072ed713576n, 0xecafbf6d],
  [5000, 0x799aaddd7339581dn, 0x5a67584b],
  [100000, 0x0c056f6fcc340974n, 0x7129a556],
];

const RANDOM: [number, number, bigint, number][] = [
  [7, 1, 0xddce99c00391ea7cn, 0x4872ecbc],
  [57, 2, 0xdb114cbf8883900en, 0xbd36d563],
  [200, 3, 0xe6fb2a8746d69592n, 0x9fe4f611],
  [1500, 4, 0x7870fca6e5e56f8bn, 0x997b8754],
  [65549, 5, 0x835aebabe1d32845n, 0x044a0178],
  [1048676, 6, 0x358f69740a91f89bn, 0x568e74e5],
];

test("XXH3-64 and XXH32 match the reference on every length class", () => {
  for (const [n, h3, h32] of PATTERN) {
    assert.equal(xxh3_64(pattern(n)), h3, `xxh3 of ${n} bytes`);
    assert.equal(xxh32(pattern(n)), h32, `xxh32 of ${n} bytes`);
  }
  for (const [n, seed, h3, h32] of RANDOM) {
    assert.equal(xxh3_64(lcg(n, seed)), h3, `xxh3 of ${n} random bytes`);
    assert.equal(xxh32(lcg(n, seed)), h32, `xxh32 of ${n} random bytes`);
  }
});

test("XXH3-64: pure JS until the fast ones load; then native below the crossover, WebAssembly above; every implementation matches the reference", async () => {
  await loadFastXxh3();
  assert.deepEqual(xxh3Implementation, { small: "@node-rs/xxhash", large: "hash-wasm" });
  const hashes: [string, (b: Uint8Array) => bigint][] = [
    ["pure JS", xxh3_64Js],
    ...xxh3Candidates.map((c) => [c.name, c.hash!] as [string, (b: Uint8Array) => bigint]),
  ];
  for (const [name, hash] of hashes) {
    for (const [n, h3] of PATTERN) assert.equal(hash(pattern(n)), h3, `${name} xxh3 of ${n} bytes`);
    for (const [n, seed, h3] of RANDOM)
      assert.equal(hash(lcg(n, seed)), h3, `${name} xxh3 of ${n} random bytes`);
    const view = lcg(WASM_FROM_BYTES + 100, 4).subarray(50, WASM_FROM_BYTES + 50);
    assert.equal(hash(view), xxh3_64(Buffer.from(view)), `${name} reads a view at its offset`);
  }
});

test("hashes read a Buffer view at its own offset", () => {
  const big = lcg(2000, 4);
  const view = big.subarray(500, 500 + 1500);
  assert.equal(xxh3_64(view), xxh3_64(Buffer.from(view)));
  assert.equal(xxh32(view), xxh32(Buffer.from(view)));
});

test("partition for a key is XXH32 modulo the partition count", () => {
  assert.equal(xxh32(Buffer.from("gateway-1")), 0x4bc3a61f);
  assert.equal(partitionForKey("gateway-1", 7), 0x4bc3a61f % 7);
  assert.equal(partitionForKey("gateway-1", 1), 0);
  assert.throws(() => partitionForKey("x", 0), RangeError);
});

test("batch message id is gateway hash << 64 | first_seq", () => {
  const id = batchMessageId("line-3", 42n);
  assert.equal(id >> 64n, gatewayHash("line-3"));
  assert.equal(id & 0xffffffffffffffffn, 42n);
  assert.equal(gatewayHash("line-3"), xxh3_64(Buffer.from("line-3")));
  assert.throws(() => batchMessageId("x", 1n << 64n), RangeError);
});
