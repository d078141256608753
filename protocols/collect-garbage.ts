// A full garbage collection of this thread's V8 heap that also gives memory back: what V8 runs when
// told memory is low (compaction, the young generation shrunk, free pages returned to the system).
// A plain full GC (`gc()` with --expose-gc) frees the same objects but keeps the pages. Node 20 has
// no API for it; the in-process inspector's HeapProfiler.collectGarbage makes that call. Works in
// the main thread and in a worker, each on its own heap.

type Post = (method: string, callback: () => void) => void;

let session: Promise<{ connect(): void; disconnect(): void; post: Post } | null> | null = null;

function inspectorSession(): Promise<{ connect(): void; disconnect(): void; post: Post } | null> {
  // A node built without the inspector has no node:inspector: then nothing is collected.
  session ??= import("node:inspector").then(
    (m) => new m.Session() as unknown as { connect(): void; disconnect(): void; post: Post },
    () => null,
  );
  return session;
}

/** Resolves once the collection ran; false when this node cannot (built without its inspector). */
export async function collectGarbage(): Promise<boolean> {
  const s = await inspectorSession();
  if (s === null) return false;
  // Connected only for the call: an idle connected session costs nothing, but nor does connecting.
  s.connect();
  try {
    await new Promise<void>((resolve) => s.post("HeapProfiler.collectGarbage", () => resolve()));
  } finally {
    s.disconnect();
  }
  return true;
}
