// Ending what a test started whatever its outcome (failure and time-out included): a t.after hook
// runs then, a finally block after an await that never returns does not.
import type { ChildProcess } from "node:child_process";
import type { Server, Socket } from "node:net";
import type { TestContext } from "node:test";

/** Closes `server` when the test ends, and ends the connections it still holds. */
export function closeAtEnd<S extends Server>(t: TestContext, server: S): S {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  );
  return server;
}

/** Kills `child` with SIGKILL when the test ends, unless it has exited; waits for its exit. */
export function killAtEnd<C extends ChildProcess>(t: TestContext, child: C): C {
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  });
  return child;
}
