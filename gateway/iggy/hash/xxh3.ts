// XXH3-64 (xxHash3, 64-bit, seed 0, default secret): Iggy's message and batch checksum, computed
// by whichever maintained implementation is fastest for the input's size, as measured side by side
// with our pure JavaScript (`npm run bench -- iggy`): @node-rs/xxhash (native, prebuilt for
// linux x64, arm64 and armv7) wins below a few KiB, where a call's overhead dominates, and
// hash-wasm (WebAssembly of the C code) wins above, where it hashes about twice as fast. Both beat
// ./xxh3-js.ts at every size; it stays as the last fallback where neither loads.
import { createXXHash3, type IHasher } from "hash-wasm";
import { xxh3_64Js } from "./xxh3-js.js";

/** From this many bytes on, hash-wasm is used (measured crossover: 2-8 KiB). */
export const WASM_FROM_BYTES = 4096;

type Hash = (input: Uint8Array) => bigint;

async function loadNative(): Promise<Hash | null> {
  try {
    const { xxh3 } = await import("@node-rs/xxhash");
    return (input) => xxh3.xxh64(input);
  } catch {
    return null;
  }
}

async function loadWasm(): Promise<Hash | null> {
  let h: IHasher;
  try {
    h = await createXXHash3(0, 0);
  } catch {
    return null;
  }
  return (input) => {
    h.init();
    h.update(input);
    const d = h.digest("binary");
    return new DataView(d.buffer, d.byteOffset, 8).getBigUint64(0, false);
  };
}

const native = await loadNative();
const wasm = await loadWasm();

/** Each implementation on its own (null where it did not load), for the benchmark and the tests. */
export const xxh3Candidates: { name: string; hash: Hash | null }[] = [
  { name: "@node-rs/xxhash", hash: native },
  { name: "hash-wasm", hash: wasm },
];
const small: Hash = native ?? wasm ?? xxh3_64Js;
const large: Hash = wasm ?? native ?? xxh3_64Js;

/** Which implementations `xxh3_64` uses, below and from WASM_FROM_BYTES. */
export const xxh3Implementation = {
  small: native ? "@node-rs/xxhash" : wasm ? "hash-wasm" : "pure JS",
  large: wasm ? "hash-wasm" : native ? "@node-rs/xxhash" : "pure JS",
} as const;

export function xxh3_64(input: Uint8Array): bigint {
  return input.byteLength < WASM_FROM_BYTES ? small(input) : large(input);
}
