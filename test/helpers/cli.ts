// Runs the built `iggy-edge` command as a user would, and collects what it printed.
import { execFile, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { repoRoot } from "./peers.js";

export const cliPath = resolve(repoRoot, "dist/gateway/cli/main.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: repoRoot,
    env: { ...process.env, IGGY_EDGE_CONFIG: undefined, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The same without blocking this process (for a test whose simulator or adapter runs in it); loading
 * node-opcua takes long on a loaded machine, hence a limit the caller may raise.
 */
export function runCliAsync(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, IGGY_EDGE_CONFIG: undefined },
        encoding: "utf8",
        timeout: timeoutMs,
      },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
        done({ code, stdout, stderr });
      },
    );
  });
}
