// The CoAP ingest's record of answered exchanges (AnsweredExchanges: the outcome of each exchange
// answered by a separate response, kept for EXCHANGE_LIFETIME, at most dedup_cache_bytes / 4): the
// heap it holds per entry when full at the default limit (16,384), keyed as the ingest keys it
// (source address and port, message id, an 8-byte token), once just filled and once after as many
// again went through it (the steady state of a full record: the oldest evicted for each new one).
// The heap is measured after a full collection, the median of a few rounds. No timing.
import { randomBytes } from "node:crypto";
import { parameters } from "coap";
import { collectGarbage } from "../../protocols/collect-garbage.js";
import { AnsweredExchanges, exchangeKey } from "../../protocols/coap/ingest.js";
import { COAP_SECTION_DEFAULTS } from "../../protocols/coap/section-defaults.js";
import { medianOf, type Benchmark, type Figure } from "../bench-kit.js";

/** The answer to every committed POST, shared by its entries (the ingest's CREATED). */
const CREATED = { code: "2.01" };

type Answer = "created" | "refused";

/** The key of the i-th request: 50 devices, each on its own address and port, message ids in turn. */
function key(i: number, token: Buffer): string {
  const device = i % 50;
  return exchangeKey({
    rsinfo: { address: `10.0.${device >> 8}.${device & 255}`, port: 40_000 + device, family: "IPv4" },
    _packet: { messageId: (i / 50) & 0xffff, token } as never,
  });
}

/** The answer to a refused request: an object of its own with the buffer's message (the ingest's 5.03). */
function refused(): { code: string; text: string; options: Record<string, number> } {
  return {
    code: "5.03",
    text: `not stored: the buffer is full (1073741824 bytes); retry later`,
    options: { "Max-Age": 5 },
  };
}

async function heapUsed(): Promise<number> {
  if (!(await collectGarbage())) throw new Error("no full collection available (node without its inspector)");
  return process.memoryUsage().heapUsed;
}

/** Heap bytes per entry of a full record after `inserts` requests went through it. */
async function perEntry(limit: number, inserts: number, answer: Answer): Promise<number> {
  const before = await heapUsed();
  const record = new AnsweredExchanges(limit, parameters.exchangeLifetime * 1000);
  // The token is the request's (garbage once keyed), not the record's.
  for (let i = 0; i < inserts; i++)
    record.set(key(i, randomBytes(8)), answer === "created" ? CREATED : refused());
  if (record.size !== limit) throw new Error(`${record.size} entries kept, expected ${limit}`);
  const after = await heapUsed();
  // Still referenced here, so the collection above kept it.
  if (record.get(key(inserts - 1, Buffer.alloc(8))) !== undefined) throw new Error("unexpected entry");
  return (after - before) / limit;
}

const bench: Benchmark = {
  description: "heap per entry of the CoAP ingest's record of answered exchanges, full at the default limit",
  async run(ctx) {
    const limit = Math.floor(COAP_SECTION_DEFAULTS.dedup_cache_bytes / 4);
    const rounds = ctx.quick ? 1 : 5;
    const figures: Figure[] = [];
    for (const [answer, label] of [
      ["created", "2.01, shared"],
      ["refused", "5.03 with its text"],
    ] as const) {
      for (const [inserts, when] of [
        [limit, "just filled"],
        [2 * limit, `after ${(2 * limit).toLocaleString("en")} requests`],
      ] as const) {
        const xs: number[] = [];
        for (let r = 0; r < rounds; r++) xs.push(await perEntry(limit, inserts, answer));
        const value = medianOf(xs);
        ctx.log(`${label}, ${when}: ${xs.map((x) => x.toFixed(1)).join(", ")} B/entry`);
        figures.push({
          name: `per entry (${label}; ${limit.toLocaleString("en")} kept, ${when})`,
          value: Math.round(value * 10) / 10,
          unit: "B",
        });
        if (answer === "created" && inserts === 2 * limit)
          figures.push({
            name: `record full (${limit.toLocaleString("en")} entries, 2.01)`,
            value: Math.round((value * limit) / 1024),
            unit: "KiB",
          });
      }
    }
    return figures;
  },
};
export default bench;
