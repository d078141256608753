// XXH3-64 (xxHash3, 64-bit, seed 0, default secret): Iggy's message and batch checksum. Computed by
// hash-wasm's WebAssembly build of the xxHash C code, which measured 3-10x faster than our pure
// JavaScript (./xxh3-js.ts) and than @node-rs/xxhash on 1 MiB frames (`npm run bench -- iggy`).
// WebAssembly needs no prebuilt binary per platform (x64, arm64 and armv7 alike); where it cannot
// be instantiated, the pure-JavaScript version takes over.
import { createXXHash3, type IHasher } from "hash-wasm";
import { xxh3_64Js } from "./xxh3-js.js";

let hasher: IHasher | null = null;
try {
  hasher = await createXXHash3(0, 0);
} catch {
  hasher = null;
}

/** Which implementation `xxh3_64` uses: "wasm" or "js". */
export const xxh3Implementation: "wasm" | "js" = hasher ? "wasm" : "js";

function xxh3Wasm(h: IHasher, input: Uint8Array): bigint {
  h.init();
  h.update(input);
  const d = h.digest("binary");
  return new DataView(d.buffer, d.byteOffset, 8).getBigUint64(0, false);
}

export function xxh3_64(input: Uint8Array): bigint {
  return hasher ? xxh3Wasm(hasher, input) : xxh3_64Js(input);
}
