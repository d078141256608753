// Idle poll: what one empty poll of the command router allocates on the main thread, the idle
// gateway's steady allocation (every `commands.poll_ms`, 50 ms by default). The router runs as the
// gateway runs it (its Iggy client, its Waker) against dev-iggy in a child process, with poll_ms 1 so
// that the count is reached soon; after a warm-up (V8 optimizes the loop) V8's sampling heap
// profiler counts every sampled allocation, also of objects already collected, over a fixed number
// of polls. A count of bytes, not of time: figures from a loaded machine compare.
import { Session } from "node:inspector";
import { join } from "node:path";
import { startDevIggy, type Benchmark, type Figure } from "../bench-kit.js";
import { CommandLedger } from "../../gateway/commands/ledger.js";
import { CommandRouter } from "../../gateway/commands/router.js";
import { IggyClient } from "../../gateway/iggy/index.js";
import { createLogger } from "../../gateway/log.js";

const PASSWORD = "idle-poll";

/** Sampled bytes allocated per poll over `polls` polls of a router speaking `protocol`. */
async function bytesPerPoll(
  protocol: "0.8" | "0.10",
  warmUp: number,
  polls: number,
  dir: string,
): Promise<number> {
  const iggy = await startDevIggy(["--password", PASSWORD]);
  const client = new IggyClient({
    address: `127.0.0.1:${iggy.port}`,
    credentials: { username: "iggy", password: PASSWORD },
    protocol,
  });
  let made = 0;
  const poll = client.poll.bind(client);
  client.poll = (...args) => {
    made++;
    return poll(...args);
  };
  const ledger = new CommandLedger(join(dir, `ledger-${protocol}.sqlite`));
  const router = new CommandRouter({
    gatewayId: "idle",
    client,
    ledger,
    stream: "iot",
    commandsTopic: "commands",
    resultsTopic: "command-results",
    createMissing: true,
    partitions: 1,
    pollMs: 1,
    pollCount: 100,
    timeoutMs: 10_000,
    idempotencyMs: 3_600_000,
    maxPending: 1000,
    devices: () => [],
    adapterFor: () => undefined,
    count: () => {},
    log: createLogger({ level: "silent" }),
  });
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params?: object): Promise<T> =>
    new Promise((resolve, reject) =>
      session.post(method, params, (e, r) => (e ? reject(e) : resolve(r as T))),
    );
  const reached = (n: number): Promise<void> =>
    new Promise((resolve) => {
      const check = setInterval(() => {
        if (made < n) return;
        clearInterval(check);
        resolve();
      }, 5);
    });
  try {
    router.start();
    await reached(warmUp);
    await post("HeapProfiler.startSampling", {
      samplingInterval: 128,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    const from = made;
    await reached(from + polls);
    const { profile } = await post<{ profile: { head: SampleNode } }>("HeapProfiler.stopSampling");
    return total(profile.head) / (made - from);
  } finally {
    session.disconnect();
    await router.stop();
    ledger.close();
    await iggy.stop();
  }
}

interface SampleNode {
  selfSize: number;
  children: SampleNode[];
}

function total(n: SampleNode): number {
  return n.children.reduce((sum, c) => sum + total(c), n.selfSize);
}

const bench: Benchmark = {
  description:
    "idle-poll: bytes the command router's empty poll of the commands topic allocates (main thread, sampled by V8 with collected objects), Iggy 0.10 and 0.8",
  async run(ctx) {
    const polls = ctx.quick ? 1_000 : 5_000;
    const figures: Figure[] = [];
    for (const protocol of ["0.10", "0.8"] as const) {
      const bytes = await bytesPerPoll(protocol, 1_000, polls, ctx.tmpDir);
      ctx.log(`protocol ${protocol}: ${Math.round(bytes)} bytes per empty poll (${polls} polls)`);
      figures.push({
        name: `allocated per empty poll, Iggy ${protocol}`,
        value: Math.round(bytes),
        unit: "B",
      });
    }
    return figures;
  },
};

export default bench;
