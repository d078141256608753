// Samples the running gateway once a second: its RSS and open file descriptors (/proc), the
// buffer's files (buffer.db and its write-ahead log) and the buffer's depth (/metrics).
import { statSync } from "node:fs";
import { join } from "node:path";
import { BUFFER_FILE, bufferDir } from "../../buffer/options.js";
import type { GatewayProcess } from "./gateway-process.js";
import { fdsOf, rssOf } from "./kit.js";
import { depthOf } from "./mixed-load.js";

/** The soak's samples, one index per second (the plots draw these keys). */
export interface Series {
  t_s: number[];
  rss_mib: number[];
  fds: number[];
  db_bytes: number[];
  wal_bytes: number[];
  depth: number[];
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export class Sampler {
  readonly series: Series = { t_s: [], rss_mib: [], fds: [], db_bytes: [], wal_bytes: [], depth: [] };
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  /** Samples the gateway missed (not running, /metrics not answering). */
  missed = 0;

  constructor(
    private readonly gw: GatewayProcess,
    dataDir: string,
    private readonly everyMs = 1_000,
    private readonly limit = 36_000,
  ) {
    this.db = join(bufferDir(dataDir), BUFFER_FILE);
  }

  private readonly db: string;

  start(): void {
    const tick = (): void => {
      this.running = this.sample().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.everyMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** The index of the next sample. */
  get length(): number {
    return this.series.t_s.length;
  }

  async sample(): Promise<void> {
    if (this.length >= this.limit) return;
    const pid = this.gw.pid;
    const rss = pid === null ? null : rssOf(pid);
    const fds = pid === null ? null : fdsOf(pid);
    const depth = await depthOf(this.gw).catch(() => null);
    if (rss === null || fds === null || depth === null) {
      this.missed++;
      return;
    }
    const s = this.series;
    s.t_s.push(Math.round((Date.now() - this.started) / 100) / 10);
    s.rss_mib.push(Math.round((rss / 1048576) * 10) / 10);
    s.fds.push(fds);
    s.db_bytes.push(sizeOf(this.db));
    s.wal_bytes.push(sizeOf(`${this.db}-wal`));
    s.depth.push(depth);
  }
}
