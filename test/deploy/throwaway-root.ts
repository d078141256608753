// A throwaway Debian root for the package tests: an overlay on the cached minimal Debian that
// scripts/make-chroot.sh builds (~/.cache/iggy-edge/chroot-bookworm-ARCH), entered with chroot in
// mount, PID and network namespaces of its own. The cached root is never written (the overlay's
// upper layer is a temporary folder that keeps the changes from one command to the next), and
// every mount disappears with the namespace, whatever happens to the test.
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { TestContext } from "node:test";
import { tempDir } from "../iggy/helpers.js";
import { repoRoot, requirePeer } from "../helpers/peers.js";

export const HOST_ARCH =
  spawnSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).stdout?.trim() ?? "";

/** The cached root of scripts/make-chroot.sh (with systemd: `--with-systemd`). */
export function cachedRoot(withSystemd = false): string {
  const dir = process.env.IGGY_EDGE_CHROOT_DIR ?? resolve(homedir(), ".cache/iggy-edge");
  return join(dir, `chroot-bookworm-${HOST_ARCH}${withSystemd ? "-systemd" : ""}`);
}

/** True when the test can use a throwaway root; otherwise skips (or fails under CI=true) saying why. */
export function requireThrowawayRoot(t: TestContext, withSystemd = false): boolean {
  const root = cachedRoot(withSystemd);
  return (
    requirePeer(
      t,
      "root (for chroot, mounts and namespaces)",
      process.getuid?.() === 0,
      "run the tests as root",
    ) &&
    requirePeer(
      t,
      `the cached Debian root ${root}`,
      existsSync(join(root, ".complete")),
      `bash scripts/make-chroot.sh${withSystemd ? " --with-systemd" : ""} (scripts/setup.sh --peers runs it)`,
    )
  );
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A folder of the host seen inside the root at `inside` (a bind mount). */
export interface Bind {
  host: string;
  inside: string;
}

const q = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

export class ThrowawayRoot {
  private readonly upper: string;
  private readonly work: string;
  private readonly merged: string;

  /** Removed when the test ends. */
  constructor(
    t: TestContext,
    private readonly lower = cachedRoot(),
  ) {
    const dir = tempDir("iggy-edge-root-");
    t.after(() => dir.remove());
    this.upper = join(dir.path, "upper");
    this.work = join(dir.path, "work");
    this.merged = join(dir.path, "merged");
    for (const d of [this.upper, this.work, this.merged]) mkdirSync(d);
  }

  /** Puts a file into the root (into the overlay's upper layer), before or between commands. */
  write(path: string, content: string, mode = 0o644): void {
    const file = join(this.upper, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content, { mode });
  }

  /** Puts a symbolic link into the root. */
  link(path: string, target: string): void {
    const file = join(this.upper, path);
    mkdirSync(dirname(file), { recursive: true });
    symlinkSync(target, file);
  }

  /**
   * Boots the root with systemd as PID 1 (systemd-nspawn --boot, private network, no machined)
   * and resolves when the container has powered off or `timeoutMs` passed (then it is killed).
   */
  boot(binds: Bind[], timeoutMs: number): Promise<RunResult> {
    const m = q(this.merged);
    const setup = [
      "set -e",
      `mount -t overlay overlay -o lowerdir=${q(this.lower)},upperdir=${q(this.upper)},workdir=${q(this.work)} ${m}`,
      [
        `exec systemd-nspawn -q -D ${m} --boot --private-network --register=no --keep-unit --console=pipe`,
        ...binds.map((b) => `--bind=${q(b.host)}:${q(b.inside)}`),
      ].join(" "),
    ].join("\n");
    return new Promise((ok) => {
      execFile(
        "unshare",
        ["--mount", "--fork", "--kill-child", "/bin/sh", "-c", setup],
        {
          encoding: "utf8",
          timeout: timeoutMs,
          killSignal: "SIGKILL",
          maxBuffer: 32 << 20,
          env: { PATH: process.env.PATH, LANG: "C" },
        },
        (err, stdout, stderr) => {
          const status = err === null ? 0 : typeof err.code === "number" ? err.code : null;
          ok({ status, stdout, stderr });
        },
      );
    });
  }

  private args(script: string, binds: Bind[]): string[] {
    const m = q(this.merged);
    const setup = [
      "set -e",
      "ip link set lo up",
      `mount -t overlay overlay -o lowerdir=${q(this.lower)},upperdir=${q(this.upper)},workdir=${q(this.work)} ${m}`,
      `mount -t proc proc ${m}/proc`,
      `mount -t tmpfs -o mode=0755 tmpfs ${m}/run`,
      `mount -t tmpfs -o mode=1777 tmpfs ${m}/dev/shm 2>/dev/null || true`,
      ...binds.flatMap((b) => [
        `mkdir -p ${m}${q(b.inside)}`,
        `mount --bind ${q(b.host)} ${m}${q(b.inside)}`,
      ]),
      `exec chroot ${m} /bin/sh -c ${q(`set -e; ${script}`)}`,
    ].join("\n");
    return ["--mount", "--pid", "--net", "--fork", "--kill-child", "/bin/sh", "-c", setup];
  }

  /** Runs `script` with /bin/sh inside the root, as root; resolves with its status and output. */
  run(script: string, binds: Bind[] = [], timeoutMs = 600_000): Promise<RunResult> {
    return new Promise((ok) => {
      execFile(
        "unshare",
        this.args(script, binds),
        {
          encoding: "utf8",
          timeout: timeoutMs,
          maxBuffer: 32 << 20,
          env: { PATH: process.env.PATH, LANG: "C" },
        },
        (err, stdout, stderr) => {
          const status = err === null ? 0 : typeof err.code === "number" ? err.code : null;
          ok({ status, stdout, stderr });
        },
      );
    });
  }

  /** Runs `script` and returns its stdout; throws with its output when it fails. */
  async sh(script: string, binds: Bind[] = []): Promise<string> {
    const r = await this.run(script, binds);
    if (r.status !== 0)
      throw new Error(`in the throwaway root, exit ${String(r.status)}: ${script}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** Starts `script` inside the root as a child process (kill it: the namespace ends with it). */
  spawn(script: string, binds: Bind[] = []): ChildProcess {
    return spawn("unshare", this.args(script, binds), {
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: process.env.PATH, LANG: "C" },
    });
  }
}

/** The packages scripts/package-deb.sh writes for the host's architecture. */
export function builtPackage(kind: "deb" | "tar.gz"): string {
  const { version } = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
  const env = kind === "deb" ? process.env.IGGY_EDGE_HOST_DEB : process.env.IGGY_EDGE_HOST_TARBALL;
  return env ?? join(repoRoot, `build/pkg/iggy-edge_${version}_${HOST_ARCH}.${kind}`);
}
