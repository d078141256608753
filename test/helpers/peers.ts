// Tests that need a real peer (Mosquitto, libcoap, pymodbus, a Python SDK) ask for it here.
// Outside CI a missing peer skips the test with a line saying what to install; under CI=true it fails.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import type { TestContext } from "node:test";

export const repoRoot = resolve(import.meta.dirname, "../../..");

/** The Python of the project's peer virtualenv (made by scripts/setup.sh), or the system one. */
export function peerPython(): string {
  const venv = resolve(repoRoot, ".venv/bin/python");
  return existsSync(venv) ? venv : "python3";
}

/** The Python of the second peer venv (.venv-iggy010: Iggy's 0.10-line Python SDK), or null. */
export function peerPython010(): string | null {
  const venv = resolve(repoRoot, ".venv-iggy010/bin/python");
  return existsSync(venv) ? venv : null;
}

/** The Python of the 0.9 peer venv (.venv-iggy09: Iggy's Python SDK 0.9.0), or null. */
export function peerPython09(): string | null {
  const venv = resolve(repoRoot, ".venv-iggy09/bin/python");
  return existsSync(venv) ? venv : null;
}

/** A binary of a Rust peer that scripts/setup.sh --peers built from scripts/peers/cargo.txt, or null. */
export function cargoPeer(crate: string, version: string, bin: string): string | null {
  const dir = process.env.IGGY_EDGE_PEERS_DIR ?? resolve(homedir(), ".cache/iggy-edge/peers");
  const path = resolve(dir, `${crate}-${version}`, "bin", bin);
  return existsSync(path) ? path : null;
}

export function hasCommand(cmd: string, args: string[] = ["--help"]): boolean {
  const r = spawnSync(cmd, args, { stdio: "ignore", timeout: 10_000 });
  return r.error === undefined;
}

export function hasPythonModule(module: string): boolean {
  const r = spawnSync(peerPython(), ["-c", `import ${module}`], { stdio: "ignore", timeout: 30_000 });
  return r.status === 0;
}

/**
 * Returns true when the peer is there. Otherwise: under CI=true the test fails; elsewhere it is
 * skipped with a message naming what is missing and how to get it.
 */
export function requirePeer(t: TestContext, what: string, present: boolean, install: string): boolean {
  if (present) return true;
  const message = `peer missing: ${what} (install: ${install})`;
  if (process.env.CI === "true") throw new Error(`${message}; CI=true makes a missing peer a failure`);
  t.skip(message);
  return false;
}
