// Broker passwords: scrypt hashes in the config (`scrypt$N$r$p$SALT$HASH`, base64), or plain
// passwords (usually `${file:...}` or `${env:...}`), compared in constant time.
import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual } from "node:crypto";

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** About 50 ms on a Raspberry Pi 4 per check; a verified password is remembered for the process. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 16384, r: 8, p: 1 };
const KEY_BYTES = 32;

function scryptAsync(
  password: Uint8Array,
  salt: Uint8Array,
  keylen: number,
  s: ScryptParams,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      password,
      salt,
      keylen,
      { N: s.N, r: s.r, p: s.p, maxmem: 256 * s.N * s.r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(Buffer.from(password, "utf8"), salt, KEY_BYTES, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

export async function verifyHash(password: Uint8Array, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const params = { N: Number(parts[1]), r: Number(parts[2]), p: Number(parts[3]) };
  const salt = Buffer.from(parts[4]!, "base64");
  const expected = Buffer.from(parts[5]!, "base64");
  if (expected.length === 0) return false;
  const key = await scryptAsync(password, salt, expected.length, params);
  return timingSafeEqual(key, expected);
}

export interface BrokerUserConfig {
  username: string;
  password?: string | undefined;
  password_hash?: string | undefined;
  publish: string[];
  subscribe: string[];
}

/** Checks a CONNECT's username and password against the configured users. */
export class Credentials {
  private readonly users = new Map<string, BrokerUserConfig>();
  /** Per process: the HMAC of passwords already verified against a hash, so reconnects skip scrypt. */
  private readonly hmacKey = randomBytes(32);
  private readonly verified = new Map<string, Buffer>();

  constructor(users: BrokerUserConfig[]) {
    for (const u of users) this.users.set(u.username, u);
  }

  /** The user, or null for an unknown user or a wrong password (the caller cannot tell them apart). */
  async check(username: string, password: Uint8Array | undefined): Promise<BrokerUserConfig | null> {
    const user = this.users.get(username);
    const given = password ?? new Uint8Array(0);
    if (user === undefined) {
      await verifyHash(given, DUMMY_HASH); // same time for a user that does not exist
      return null;
    }
    if (user.password !== undefined) {
      const a = createHash("sha256").update(given).digest();
      const b = createHash("sha256").update(user.password, "utf8").digest();
      return timingSafeEqual(a, b) ? user : null;
    }
    const mac = createHmac("sha256", this.hmacKey).update(given).digest();
    const known = this.verified.get(username);
    if (known !== undefined && timingSafeEqual(known, mac)) return user;
    if (!(await verifyHash(given, user.password_hash!))) return null;
    this.verified.set(username, mac);
    return user;
  }
}

// scrypt of nothing in particular, with the default cost: spent on unknown users.
const DUMMY_HASH = `scrypt$${DEFAULT_SCRYPT.N}$${DEFAULT_SCRYPT.r}$${DEFAULT_SCRYPT.p}$AAAAAAAAAAAAAAAAAAAAAA==$${Buffer.alloc(KEY_BYTES).toString("base64")}`;
