// `iggy-edge buffer`: looks into the durable buffer, manages its dead letters, and rewrites it
// into an older format for a rollback. The running gateway holds the buffer file exclusively, so
// these commands work on a stopped gateway and say so when it is running.
import { Command, InvalidArgumentError } from "commander";
import type { BufferOptions, ReadingBuffer, StoredReading } from "../../buffer/index.js";
import type { ReadingValue } from "../../protocols/adapter.js";

export interface BufferCommandDeps {
  /**
   * Turns `-c FILE` / `--data-dir DIR` into the buffer's options. The CLI wires the config loader
   * in here; without it only --data-dir works.
   */
  resolveOptions?: (given: { config?: string; dataDir?: string }) => Promise<BufferOptions> | BufferOptions;
  /** Where results go (stdout by default). Errors go through commander's error output. */
  write?: (text: string) => void;
}

interface Given {
  config?: string;
  dataDir?: string;
  json?: boolean;
}

async function defaultResolve(given: { config?: string; dataDir?: string }): Promise<BufferOptions> {
  const { bufferDir } = await import("../../buffer/index.js");
  if (given.dataDir !== undefined) return { dir: bufferDir(given.dataDir) };
  if (given.config !== undefined)
    throw new Error(
      "-c needs the config loader, which this build does not wire in yet; pass --data-dir DIR instead",
    );
  throw new Error("say where the buffer is: --data-dir DIR (the gateway's data_dir) or -c FILE");
}

function entryId(v: string, previous: number[] = []): number[] {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`not a dead-letter entry id: ${v}`);
  return [...previous, n];
}

function count(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
  return n;
}

/** JSON cannot hold every reading value: bigints become decimal strings, bytes base64, non-finite numbers text. */
export function jsonValue(v: ReadingValue): unknown {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array)
    return { base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  return v;
}

function readingLine(s: StoredReading): string {
  if (s.reading === null) return JSON.stringify({ seq: s.seq, undecodable: s.error });
  const r = s.reading;
  return JSON.stringify({
    seq: s.seq,
    device: r.device,
    point: r.point,
    ts: r.ts,
    value: jsonValue(r.value),
    quality: r.quality,
    ...(r.unit !== undefined ? { unit: r.unit } : {}),
    ...(r.tags !== undefined ? { tags: r.tags } : {}),
  });
}

function age(ms: number | null): string {
  if (ms === null) return "-";
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

export function bufferCommand(deps: BufferCommandDeps = {}): Command {
  const write = deps.write ?? ((text: string) => void process.stdout.write(text));
  const resolveOptions = deps.resolveOptions ?? defaultResolve;
  const out = (line: string) => write(`${line}\n`);

  /** Runs `fn` on the buffer's options; any failure becomes one clear error line and exit code 1. */
  async function withOptions(
    cmd: Command,
    fn: (options: BufferOptions, given: Given, lib: typeof import("../../buffer/index.js")) => Promise<void>,
  ): Promise<void> {
    const given = cmd.optsWithGlobals<Given>();
    const lib = await import("../../buffer/index.js");
    let failure: string | null = null;
    try {
      const options = await resolveOptions({
        ...(given.config !== undefined ? { config: given.config } : {}),
        ...(given.dataDir !== undefined ? { dataDir: given.dataDir } : {}),
      });
      await fn(options, given, lib);
    } catch (err) {
      failure =
        err instanceof lib.BufferLockedError
          ? "the buffer is in use: stop the gateway first (it holds the buffer file while it runs)"
          : err instanceof Error
            ? err.message
            : String(err);
    }
    if (failure !== null) cmd.error(`error: ${failure}`, { exitCode: 1, code: "iggy-edge.buffer" });
  }

  async function withBuffer(
    cmd: Command,
    fn: (b: ReadingBuffer, given: Given) => Promise<void>,
  ): Promise<void> {
    await withOptions(cmd, async (options, given, { openBuffer }) => {
      const { pino } = await import("pino");
      const buffer = await openBuffer({
        ...options,
        create: false,
        log: options.log ?? pino({ name: "buffer", level: "warn" }, pino.destination(2)),
      });
      try {
        await fn(buffer, given);
      } finally {
        await buffer.close().catch(() => undefined);
      }
    });
  }

  const root = new Command("buffer")
    .description(
      "look into the durable buffer, manage its dead letters, downgrade its format (with the gateway stopped)",
    )
    .option("-c, --config <file>", "the gateway's YAML config (the buffer is in its gateway.data_dir)")
    .option("--data-dir <dir>", "the gateway's data directory (the buffer is DIR/buffer)");

  root
    .command("stats")
    .description("what the buffer holds: readings, bytes, unconfirmed batches, dead letters")
    .option("--json", "one JSON object")
    .action(async (_opts: unknown, cmd: Command) =>
      withBuffer(cmd, async (b, given) => {
        const s = await b.stats();
        if (given.json) return out(JSON.stringify(s));
        out(
          `readings          ${s.readings} (${s.leasedReadings} in ${s.leasedBatches} unconfirmed batches)`,
        );
        out(`oldest reading    ${age(s.oldestAgeMs)} old`);
        out(`database in use   ${mib(s.bytes)} (files ${mib(s.fileBytes)})`);
        out(`next sequence     ${s.nextSeq}`);
        out(`dead letters      ${s.deadLetterReadings} readings in ${s.deadLetterEntries} entries`);
        out(`quarantined       ${s.quarantinedOnDisk} corrupt buffer directories next to this one`);
      }),
    );

  root
    .command("downgrade")
    .description(
      "rewrite the buffer into an older format, for a rollback to a version that knows only that one (readings, unconfirmed batches, dead letters kept); this version migrates it up again when it opens it",
    )
    .requiredOption("--format <n>", "the format to go to (1 for every version before buffer format 2)", count)
    .action(async (opts: { format: number }, cmd: Command) =>
      withOptions(cmd, async (options) => {
        const { downgradeBuffer } = await import("../../buffer/store-downgrade.js");
        const r = downgradeBuffer(options.dir, opts.format);
        if (r.from === 0) out(`no buffer at ${r.file} yet: nothing to do (any version creates one)`);
        else if (r.from === r.to) out(`${r.file} is in buffer format ${r.from} already: nothing to do`);
        else
          out(
            `${r.file}: buffer format ${r.from} -> ${r.to}, ${r.readings} readings rewritten; a version that knows format ${r.to} opens it now`,
          );
      }),
    );

  const dl = root
    .command("dead-letters")
    .description("readings that can never be sent, kept with the reason");

  dl.command("list")
    .description("one line per entry: id, when, readings, sequence range, attempts, reason")
    .option("--json", "one JSON object per entry")
    .action(async (_opts: unknown, cmd: Command) =>
      withBuffer(cmd, async (b, given) => {
        const entries = await b.listDeadLetters();
        if (given.json) {
          for (const e of entries) out(JSON.stringify(e));
          return;
        }
        if (entries.length === 0) return out("no dead letters");
        out("id\tat\treadings\tseq\tattempts\treason");
        for (const e of entries)
          out(
            `${e.id}\t${new Date(e.at).toISOString()}\t${e.readings}\t${e.firstSeq}-${e.lastSeq}\t${e.attempts}\t${e.reason}`,
          );
      }),
    );

  dl.command("show")
    .description("the readings of one entry, one JSON object a line (bigints as strings, bytes as base64)")
    .argument("<id>", "entry id (from `list`)", (v) => entryId(v)[0]!)
    .option("--offset <n>", "skip this many readings", count, 0)
    .option("--limit <n>", "at most this many readings", count)
    .action(async (id: number, opts: { offset: number; limit?: number }, cmd: Command) =>
      withBuffer(cmd, async (b) => {
        const readings = await b.readDeadLetter(id, {
          offset: opts.offset,
          ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
        });
        for (const r of readings) out(readingLine(r));
      }),
    );

  const selection = (ids: number[], all: boolean | undefined, cmd: Command): number[] | "all" => {
    if (all && ids.length > 0) cmd.error("error: give entry ids or --all, not both", { exitCode: 2 });
    if (!all && ids.length === 0)
      cmd.error("error: give entry ids, or --all for every entry", { exitCode: 2 });
    return all ? "all" : ids;
  };

  dl.command("replay")
    .description(
      "queue the entries' readings for sending again (as new readings, in their order) and remove the entries",
    )
    .argument("[ids...]", "entry ids", (v: string, prev: number[] | undefined) => entryId(v, prev))
    .option("--all", "every entry")
    .action(async (ids: number[] | undefined, opts: { all?: boolean }, cmd: Command) => {
      const which = selection(ids ?? [], opts.all, cmd);
      await withBuffer(cmd, async (b) => {
        const r = await b.replayDeadLetters(which);
        out(
          r.readings > 0
            ? `replayed ${r.readings} readings from ${r.entries} entries as sequence ${r.firstSeq}-${r.lastSeq}; the gateway sends them when it runs`
            : `replayed ${r.entries} entries (no readings)`,
        );
      });
    });

  dl.command("purge")
    .description("delete entries and their readings for good")
    .argument("[ids...]", "entry ids", (v: string, prev: number[] | undefined) => entryId(v, prev))
    .option("--all", "every entry")
    .action(async (ids: number[] | undefined, opts: { all?: boolean }, cmd: Command) => {
      const which = selection(ids ?? [], opts.all, cmd);
      await withBuffer(cmd, async (b) => {
        const r = await b.purgeDeadLetters(which);
        out(`purged ${r.readings} readings in ${r.entries} entries`);
      });
    });

  return root;
}
