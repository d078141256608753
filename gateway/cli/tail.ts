// What `iggy-edge tail` does: reads the gateway's messages from Iggy and prints one decoded reading a
// line. Imported by the command when it runs (tail-command.ts declares its options).
import { readBatchMessage, type EnvelopedReading } from "../envelope.js";
import { displayValue } from "../status.js";
import { IggyClient, type PolledMessage } from "../iggy/index.js";

export interface TailOptions {
  stream: string;
  topic: string;
  iggy: string;
  username: string;
  password: string;
  token?: string;
  count?: number;
  from: "first" | "next";
  json?: boolean;
  pollMs: number;
}

type Line = EnvelopedReading;

/** The readings one message carries, in sequence order. */
export function decodeMessage(m: PolledMessage): Line[] {
  return readBatchMessage(m);
}

export function formatJsonLine(l: Line): string {
  const r = l.reading;
  const value = displayValue(r.value);
  return JSON.stringify({
    gateway: l.gateway,
    seq: l.seq,
    device: r.device,
    point: r.point,
    ts: new Date(r.ts).toISOString(),
    value,
    quality: r.quality,
    ...(r.unit !== undefined ? { unit: r.unit } : {}),
    ...(r.tags !== undefined ? { tags: r.tags } : {}),
  });
}

export function formatTableLine(l: Line): string {
  const r = l.reading;
  const q = r.quality === "good" ? "" : `  (${r.quality})`;
  return `${new Date(r.ts).toISOString()}  ${l.gateway}  ${r.device.padEnd(12)} ${r.point.padEnd(16)} ${String(displayValue(r.value))}${r.unit ? ` ${r.unit}` : ""}${q}`;
}

/** Prints readings until --count is reached, or SIGINT/SIGTERM. */
export async function tail(o: TailOptions): Promise<void> {
  const client = new IggyClient({
    address: o.iggy,
    credentials: o.token ? { token: o.token } : { username: o.username, password: o.password },
  });
  let stop = false;
  process.once("SIGINT", () => (stop = true));
  process.once("SIGTERM", () => (stop = true));
  let printed = 0;
  const offsets = new Map<number, bigint>();
  try {
    while (!stop) {
      const topic = await client.getTopic(o.stream, o.topic).catch(() => null);
      if (!topic) {
        console.error(`waiting for ${o.stream}/${o.topic} on ${o.iggy} ...`);
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      let got = 0;
      for (let partition = 0; partition < topic.partitionsCount && !stop; partition++) {
        if (!offsets.has(partition)) {
          const p = topic.partitions[partition];
          offsets.set(
            partition,
            o.from === "first" || !p || p.messagesCount === 0n ? 0n : p.currentOffset + 1n,
          );
        }
        const batch = await client.poll(o.stream, o.topic, {
          partition,
          strategy: { kind: "offset", value: offsets.get(partition)! },
          count: 100,
        });
        for (const m of batch.messages) {
          offsets.set(partition, m.offset + 1n);
          got++;
          let lines: Line[];
          try {
            lines = decodeMessage(m);
          } catch (e) {
            console.error(`offset ${m.offset}: ${(e as Error).message}`);
            continue;
          }
          for (const l of lines) {
            console.log(o.json ? formatJsonLine(l) : formatTableLine(l));
            if (o.count !== undefined && ++printed >= o.count) return;
          }
        }
      }
      if (got === 0) await new Promise((r) => setTimeout(r, o.pollMs));
    }
  } finally {
    await client.close();
  }
}
