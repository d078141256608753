// A full garbage collection of this thread's V8 heap that also gives memory back: what V8 runs when
// told memory is low (compaction, the young generation shrunk, free pages returned to the system).
// A plain full GC (`gc()` with --expose-gc) frees the same objects but keeps the pages. Node 20 has
// no API for it; the in-process inspector's HeapProfiler.collectGarbage makes that call. Works in
// the main thread and in a worker, each on its own heap.

interface Session {
  connect(): void;
  disconnect(): void;
  post(method: string, callback: () => void): void;
}

let session: Promise<Session | null> | null = null;

/** Resolves once the collection ran; false when it could not (a node built without its inspector, or a session already connected). Never rejects. */
export async function collectGarbage(): Promise<boolean> {
  session ??= import("node:inspector").then(
    (m) => new m.Session() as Session,
    () => null,
  );
  const s = await session;
  if (s === null) return false;
  // Connected only for the call, so that nothing of the inspector stays attached.
  try {
    s.connect();
  } catch {
    return false;
  }
  try {
    await new Promise<void>((resolve) => s.post("HeapProfiler.collectGarbage", () => resolve()));
  } finally {
    s.disconnect();
  }
  return true;
}
