// XXH3-64 (xxHash3, 64-bit, seed 0, default secret): Iggy's message and batch checksum, computed
// by whichever maintained implementation is fastest for the input's size, as measured side by side
// with our pure JavaScript (`npm run bench -- iggy`): @node-rs/xxhash (native, prebuilt for
// linux x64, arm64 and armv7) wins below a few KiB, where a call's overhead dominates, and
// hash-wasm (WebAssembly of the C code) wins above, where it hashes about twice as fast. Both beat
// ./xxh3-js.ts at every size; it stays as the last fallback where neither loads.
import type { IHasher } from "hash-wasm";
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
    const { createXXHash3 } = await import("hash-wasm");
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

let small: Hash = xxh3_64Js;
let large: Hash = xxh3_64Js;
let loading: Promise<void> | null = null;

/** Each implementation on its own (null where it did not load), for the benchmark and the tests. */
export const xxh3Candidates: { name: string; hash: Hash | null }[] = [];

/** Which implementations `xxh3_64` uses, below and from WASM_FROM_BYTES. */
export const xxh3Implementation = { small: "pure JS", large: "pure JS" };

/**
 * Loads the fast implementations (about 10 MiB of memory together); until then `xxh3_64` computes
 * the same values in pure JavaScript. `xxh3_64` loads them by itself once the volume it hashes makes
 * them pay (FAST_AFTER_BYTES within FAST_WINDOW_MS): an idle or lightly loaded gateway never does.
 */
export function loadFastXxh3(): Promise<void> {
  loading ??= (async () => {
    const native = await loadNative();
    const wasm = await loadWasm();
    xxh3Candidates.push({ name: "@node-rs/xxhash", hash: native }, { name: "hash-wasm", hash: wasm });
    small = native ?? wasm ?? xxh3_64Js;
    large = wasm ?? native ?? xxh3_64Js;
    xxh3Implementation.small = native ? "@node-rs/xxhash" : wasm ? "hash-wasm" : "pure JS";
    xxh3Implementation.large = wasm ? "hash-wasm" : native ? "@node-rs/xxhash" : "pure JS";
  })();
  return loading;
}

/**
 * Hashed within one window, the volume that loads the fast implementations: 8 MiB in 10 s, about
 * 40,000 readings/s forwarded in 1,000-reading batches. Below it pure JS costs at most a few per cent
 * of a core (33 MiB/s on 160-byte frames, 470 MiB/s on 16 KiB: `npm run bench -- iggy`).
 */
export const FAST_AFTER_BYTES = 8 * 1024 * 1024;
export const FAST_WINDOW_MS = 10_000;
let windowBytes = 0;
let windowStart = Date.now();

/** The load the hashed volume started, or null while it has not (for the tests). */
export function fastXxh3Loading(): Promise<void> | null {
  return loading;
}

export function xxh3_64(input: Uint8Array): bigint {
  if (loading === null) {
    windowBytes += input.byteLength;
    if (windowBytes >= FAST_AFTER_BYTES) {
      const now = Date.now();
      if (now - windowStart <= FAST_WINDOW_MS) void loadFastXxh3();
      windowBytes = 0;
      windowStart = now;
    }
  }
  return input.byteLength < WASM_FROM_BYTES ? small(input) : large(input);
}
