// XXH3-64 (xxHash3, 64-bit, seed 0, default secret) in plain JavaScript: the fallback of ./xxh3.ts
// where WebAssembly is missing, and the reference the tests and the benchmark compare against.
// Short inputs use BigInt; the long-input loop works on 32-bit halves for speed.

const M64 = (1n << 64n) - 1n;
const PRIME32_1 = 0x9e3779b1;
const PRIME32_2 = 0x85ebca77n;
const PRIME32_3 = 0xc2b2ae3dn;
const PRIME64_1 = 0x9e3779b185ebca87n;
const PRIME64_2 = 0xc2b2ae3d27d4eb4fn;
const PRIME64_3 = 0x165667b19e3779f9n;
const PRIME64_4 = 0x85ebca77c2b2ae63n;
const PRIME64_5 = 0x27d4eb2f165667c5n;
const PRIME_MX1 = 0x165667919e3779f9n;
const PRIME_MX2 = 0x9fb21c651e98df25n;

// The algorithm's default 192-byte secret.
const SECRET = Uint8Array.from([
  0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c, 0xde, 0xd4,
  0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f, 0xcb, 0x79, 0xe6, 0x4e,
  0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21, 0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43,
  0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c, 0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb,
  0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3, 0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19,
  0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8, 0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7,
  0xc7, 0x0b, 0x4f, 0x1d, 0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78,
  0x73, 0x64, 0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
  0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e, 0x2b, 0x16,
  0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce, 0x45, 0xcb, 0x3a, 0x8f,
  0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
]);
const SV = new DataView(SECRET.buffer);
const secret64 = (off: number): bigint => SV.getBigUint64(off, true);

const mul128Fold64 = (a: bigint, b: bigint): bigint => {
  const p = a * b;
  return (p ^ (p >> 64n)) & M64;
};
const mul64 = (a: bigint, b: bigint): bigint => (a * b) & M64;

function avalanche(h: bigint): bigint {
  h ^= h >> 37n;
  h = mul64(h, PRIME_MX1);
  return h ^ (h >> 32n);
}

function xxh64Avalanche(h: bigint): bigint {
  h ^= h >> 33n;
  h = mul64(h, PRIME64_2);
  h ^= h >> 29n;
  h = mul64(h, PRIME64_3);
  return h ^ (h >> 32n);
}

const rotl64 = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M64;

function rrmxmx(h: bigint, len: number): bigint {
  h ^= rotl64(h, 49n) ^ rotl64(h, 24n);
  h = mul64(h, PRIME_MX2);
  h ^= (h >> 35n) + BigInt(len);
  h = mul64(h, PRIME_MX2);
  return h ^ (h >> 28n);
}

const swap64 = (x: bigint): bigint => {
  let r = 0n;
  for (let i = 0; i < 8; i++) r = (r << 8n) | ((x >> BigInt(8 * i)) & 0xffn);
  return r;
};

function mix16(v: DataView, off: number, soff: number): bigint {
  return mul128Fold64(
    v.getBigUint64(off, true) ^ secret64(soff),
    v.getBigUint64(off + 8, true) ^ secret64(soff + 8),
  );
}

function upTo16(input: Uint8Array, v: DataView, len: number): bigint {
  if (len > 8) {
    const lo = v.getBigUint64(0, true) ^ (secret64(24) ^ secret64(32));
    const hi = v.getBigUint64(len - 8, true) ^ (secret64(40) ^ secret64(48));
    const acc = (BigInt(len) + swap64(lo) + hi + mul128Fold64(lo, hi)) & M64;
    return avalanche(acc);
  }
  if (len >= 4) {
    const in1 = BigInt(v.getUint32(0, true));
    const in2 = BigInt(v.getUint32(len - 4, true));
    const keyed = (in2 + (in1 << 32n)) ^ (secret64(8) ^ secret64(16));
    return rrmxmx(keyed, len);
  }
  if (len > 0) {
    const combined = ((input[0]! << 16) | (input[len >> 1]! << 24) | input[len - 1]! | (len << 8)) >>> 0;
    const flip = (SV.getUint32(0, true) ^ SV.getUint32(4, true)) >>> 0;
    return xxh64Avalanche(BigInt((combined ^ flip) >>> 0));
  }
  return xxh64Avalanche(secret64(56) ^ secret64(64));
}

function upTo128(v: DataView, len: number): bigint {
  let acc = mul64(BigInt(len), PRIME64_1);
  if (len > 32) {
    if (len > 64) {
      if (len > 96) {
        acc += mix16(v, 48, 96) + mix16(v, len - 64, 112);
      }
      acc += mix16(v, 32, 64) + mix16(v, len - 48, 80);
    }
    acc += mix16(v, 16, 32) + mix16(v, len - 32, 48);
  }
  acc += mix16(v, 0, 0) + mix16(v, len - 16, 16);
  return avalanche(acc & M64);
}

function upTo240(v: DataView, len: number): bigint {
  let acc = mul64(BigInt(len), PRIME64_1);
  for (let i = 0; i < 8; i++) acc += mix16(v, 16 * i, 16 * i);
  acc = avalanche(acc & M64);
  const rounds = Math.floor(len / 16);
  for (let i = 8; i < rounds; i++) acc += mix16(v, 16 * i, 16 * (i - 8) + 3);
  acc += mix16(v, len - 16, 136 - 17);
  return avalanche(acc & M64);
}

const TWO32 = 4294967296;

/** High 32 bits of the 64-bit product of two u32 values; `lo` is Math.imul(a, b) >>> 0. */
function mulHi32(a: number, b: number, lo: number): number {
  // The double product is off by at most 2^11, so its high word is off by at most one;
  // the exact low word tells which way.
  const approx = a * b;
  let hi = Math.floor(approx / TWO32);
  const approxLo = approx - hi * TWO32;
  if (lo - approxLo > 2147483648) hi -= 1;
  else if (approxLo - lo > 2147483648) hi += 1;
  return hi >>> 0;
}

// Secret words for the stripes (aligned) and for the last stripe (byte offset 121).
const SECRET_WORDS = new Uint32Array(48);
for (let i = 0; i < 48; i++) SECRET_WORDS[i] = SV.getUint32(4 * i, true);
const LAST_WORDS = new Uint32Array(16);
for (let i = 0; i < 16; i++) LAST_WORDS[i] = SV.getUint32(192 - 64 - 7 + 4 * i, true);

function accumulate512(
  lo: Uint32Array,
  hi: Uint32Array,
  v: DataView,
  off: number,
  sw: Uint32Array,
  sIndex: number,
): void {
  for (let i = 0; i < 8; i++) {
    const dlo = v.getUint32(off + 8 * i, true);
    const dhi = v.getUint32(off + 8 * i + 4, true);
    const klo = (dlo ^ sw[sIndex + 2 * i]!) >>> 0;
    const khi = (dhi ^ sw[sIndex + 2 * i + 1]!) >>> 0;
    const j = i ^ 1;
    const s = lo[j]! + dlo;
    lo[j] = s;
    hi[j] = hi[j]! + dhi + (s >= TWO32 ? 1 : 0);
    const pLo = Math.imul(klo, khi) >>> 0;
    const pHi = mulHi32(klo, khi, pLo);
    const t = lo[i]! + pLo;
    lo[i] = t;
    hi[i] = hi[i]! + pHi + (t >= TWO32 ? 1 : 0);
  }
}

function scramble(lo: Uint32Array, hi: Uint32Array): void {
  for (let i = 0; i < 8; i++) {
    const l = (lo[i]! ^ (hi[i]! >>> 15) ^ SECRET_WORDS[32 + 2 * i]!) >>> 0;
    const h = (hi[i]! ^ SECRET_WORDS[32 + 2 * i + 1]!) >>> 0;
    const pLo = Math.imul(l, PRIME32_1) >>> 0;
    lo[i] = pLo;
    hi[i] = mulHi32(l, PRIME32_1, pLo) + Math.imul(h, PRIME32_1);
  }
}

function long(v: DataView, len: number): bigint {
  const init = [
    PRIME32_3,
    PRIME64_1,
    PRIME64_2,
    PRIME64_3,
    PRIME64_4,
    PRIME32_2,
    PRIME64_5,
    BigInt(PRIME32_1),
  ];
  const lo = new Uint32Array(8);
  const hi = new Uint32Array(8);
  init.forEach((x, i) => {
    lo[i] = Number(x & 0xffffffffn);
    hi[i] = Number(x >> 32n);
  });
  const stripesPerBlock = (192 - 64) / 8;
  const blockLen = 64 * stripesPerBlock;
  const blocks = Math.floor((len - 1) / blockLen);
  for (let n = 0; n < blocks; n++) {
    for (let s = 0; s < stripesPerBlock; s++)
      accumulate512(lo, hi, v, n * blockLen + s * 64, SECRET_WORDS, s * 2);
    scramble(lo, hi);
  }
  const stripes = Math.floor((len - 1 - blockLen * blocks) / 64);
  for (let s = 0; s < stripes; s++) accumulate512(lo, hi, v, blocks * blockLen + s * 64, SECRET_WORDS, s * 2);
  accumulate512(lo, hi, v, len - 64, LAST_WORDS, 0);
  let result = mul64(BigInt(len), PRIME64_1);
  for (let i = 0; i < 4; i++) {
    const a = (BigInt(hi[2 * i]!) << 32n) | BigInt(lo[2 * i]!);
    const b = (BigInt(hi[2 * i + 1]!) << 32n) | BigInt(lo[2 * i + 1]!);
    result += mul128Fold64(a ^ secret64(11 + 16 * i), b ^ secret64(11 + 16 * i + 8));
  }
  return avalanche(result & M64);
}

export function xxh3_64Js(input: Uint8Array): bigint {
  const v = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const len = input.byteLength;
  if (len <= 16) return upTo16(input, v, len);
  if (len <= 128) return upTo128(v, len);
  if (len <= 240) return upTo240(v, len);
  return long(v, len);
}
