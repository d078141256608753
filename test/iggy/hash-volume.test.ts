// The fast XXH3 implementations load only once the hashed volume makes them pay; this file runs in
// its own process, so nothing else has loaded them.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  FAST_AFTER_BYTES,
  fastXxh3Loading,
  xxh3Implementation,
  xxh3_64,
} from "../../gateway/iggy/hash/xxh3.js";
import { xxh3_64Js } from "../../gateway/iggy/hash/xxh3-js.js";

test("XXH3: pure JS while the volume is small; the fast ones load once a window's volume is reached, same values", async () => {
  const frame = new Uint8Array(16 * 1024).map((_, i) => (i * 31 + 7) & 0xff);
  const before = xxh3_64(frame);
  assert.equal(before, xxh3_64Js(frame));
  assert.equal(fastXxh3Loading(), null, "one frame does not load them");
  assert.deepEqual(xxh3Implementation, { small: "pure JS", large: "pure JS" });
  const frames = Math.ceil(FAST_AFTER_BYTES / frame.byteLength);
  for (let i = 1; i < frames - 1; i++) xxh3_64(frame);
  assert.equal(fastXxh3Loading(), null, "just below the volume: still pure JS");
  // The window is 10 s; these frames are hashed in well under that on any machine.
  xxh3_64(frame);
  xxh3_64(frame);
  const loading = fastXxh3Loading();
  assert.ok(loading, "the volume started the load");
  await loading;
  assert.deepEqual(xxh3Implementation, { small: "@node-rs/xxhash", large: "hash-wasm" });
  assert.equal(xxh3_64(frame), before);
  assert.equal(xxh3_64(frame.subarray(0, 100)), xxh3_64Js(frame.subarray(0, 100)));
});
