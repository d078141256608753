// Reads what reached Iggy independently of the gateway: Iggy's own Python SDK (apache-iggy 0.8 in
// the peer venv) with scripts/drill/read_iggy.py, which decodes the batches from the documented
// MessagePack layout. Nothing of the gateway's code (client, codec, `tail`) is on this path.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { peerPython, repoRoot } from "../../test/helpers/peers.js";

const run = promisify(execFile);
const SCRIPT = join(repoRoot, "scripts", "drill", "read_iggy.py");

export interface StoredReading {
  /** Offset of the Iggy message that holds it. */
  offset: number;
  /** The message's 128-bit id, in decimal. */
  id: string;
  gateway: string;
  seq: number;
  device: string;
  point: string;
  value: unknown;
}

export async function readIggyWithPythonSdk(target: {
  address: string;
  username: string;
  password: string;
  stream: string;
  topic: string;
  partition: number;
}): Promise<StoredReading[]> {
  const { address, username, password, stream, topic, partition } = target;
  const { stdout } = await run(
    peerPython(),
    [SCRIPT, address, username, password, stream, topic, String(partition)],
    { timeout: 300_000, maxBuffer: 1 << 30 },
  ).catch((e: { stderr?: string; message: string }) => {
    throw new Error(`the Python SDK reader failed: ${e.stderr || e.message}`);
  });
  return stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as StoredReading);
}
