// Prometheus metrics of the buffer contract, read from stats() when a scrape collects them.
import { Counter, Gauge, type Registry } from "../protocols/prom-client.js";
import type { BufferStats, ReadingBuffer } from "./api.js";

export interface BufferMetrics {
  /** Also for readings other parts refuse (a decode error in a source): `inc({ reason })`. */
  readingsRejected: Counter<"reason">;
  readingsDropped: Counter<"reason">;
}

const PREFIX = "iggy_edge_";

export function registerBufferMetrics(
  registry: Registry,
  buffer: Pick<ReadingBuffer, "stats">,
): BufferMetrics {
  // The metrics of one scrape are collected together: they share one stats() round trip.
  let inflight: Promise<BufferStats | null> | null = null;
  const current = (): Promise<BufferStats | null> =>
    (inflight ??= buffer
      .stats()
      .catch(() => null)
      .finally(() => {
        inflight = null;
      }));

  const gauge = (name: string, help: string, value: (s: BufferStats) => number) =>
    new Gauge({
      name: PREFIX + name,
      help,
      registers: [registry],
      async collect() {
        const s = await current();
        if (s !== null) this.set(value(s));
      },
    });

  gauge(
    "buffer_readings",
    "Readings in the buffer, not yet confirmed by Iggy (leased ones included).",
    (s) => s.readings,
  );
  gauge(
    "buffer_bytes",
    "Bytes of the buffer database in use (pages holding readings, dead letters and bookkeeping).",
    (s) => s.bytes,
  );
  gauge(
    "buffer_file_bytes",
    "Size of the buffer's files on disk (database and write-ahead log).",
    (s) => s.fileBytes,
  );
  gauge(
    "buffer_leased_readings",
    "Readings in batches handed to the forwarder and not yet confirmed.",
    (s) => s.leasedReadings,
  );
  gauge(
    "buffer_oldest_age_seconds",
    "Age of the oldest buffered reading by its source timestamp; 0 when the buffer is empty.",
    (s) => (s.oldestAgeMs ?? 0) / 1000,
  );
  gauge(
    "buffer_dead_letter_readings",
    "Readings in the dead letters (never sendable; see `iggy-edge buffer dead-letters`).",
    (s) => s.deadLetterReadings,
  );
  gauge(
    "buffer_quarantined_files",
    "Corrupt buffer directories moved aside (<dir>.corrupt-*) and still on disk, waiting for a person.",
    (s) => s.quarantinedOnDisk,
  );

  const counterFrom = (name: string, help: string, pick: (s: BufferStats) => Record<string, number>) => {
    const seen: Record<string, number> = {};
    return new Counter({
      name: PREFIX + name,
      help,
      labelNames: ["reason"] as const,
      registers: [registry],
      async collect() {
        const s = await current();
        if (s === null) return;
        for (const [reason, total] of Object.entries(pick(s))) {
          const before = seen[reason] ?? 0;
          // A smaller total means a reopened buffer counting from zero again.
          const delta = total >= before ? total - before : total;
          if (delta > 0) this.inc({ reason }, delta);
          seen[reason] = total;
        }
      },
    });
  };

  const readingsDropped = counterFrom(
    "readings_dropped_total",
    "Accepted readings deleted unsent, by reason (max_bytes, max_rows: on_full drop_oldest).",
    (s) => s.dropped,
  );
  const readingsRejected = counterFrom(
    "readings_rejected_total",
    "Readings refused and not acknowledged, by reason (buffer_full, disk_full, storage_error, invalid, overloaded).",
    (s) => s.rejected,
  );
  counterFrom("buffer_quarantined_total", "Corrupt buffer files moved aside by this process.", (s) => ({
    corrupt: s.quarantinedThisRun,
  }));
  return { readingsRejected, readingsDropped };
}
