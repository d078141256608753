// The dev server's "auto": 0.8, 0.9 and 0.10 on one port. A 0.8 request starts with its length
// (u32 ≥ 4, never 0); a VSR (0.9 or 0.10) request starts with the 16-byte header checksum, which
// clients leave 0 (client frames are unsealed). So the first four bytes of a connection decide:
// zero → VSR, anything else → 0.8. The VSR session then tells 0.9 from 0.10 by the protocol
// version of the login.
import type {
  ServerOp,
  ServerRequest,
  ServerRequestOf,
  ServerResults,
  ServerWireGeneration,
  ServerWireSession,
} from "./types.js";
import { serverWireVsr } from "./v0_10.js";
import { serverWire08 } from "./v0_8.js";

class DetectingServerSession implements ServerWireSession {
  private delegate: ServerWireSession | null = null;
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(
    private readonly options: { maxRequestBytes: number },
    private readonly onDetected?: (version: string) => void,
  ) {}

  /** The generation this connection speaks, once its first bytes arrived. */
  detected = "";

  push(chunk: Buffer): { code: number; body: Buffer }[] {
    if (this.delegate) return this.delegate.push(chunk);
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes < 4) return [];
    const all = Buffer.concat(this.held);
    this.held = [];
    const gen = all.readUInt32LE(0) === 0 ? serverWireVsr : serverWire08;
    this.detected = gen.version;
    this.delegate = gen.newSession(this.options);
    this.onDetected?.(gen.version);
    return this.delegate.push(all);
  }

  decodeRequest(code: number, body: Buffer): ServerRequest {
    return this.delegate!.decodeRequest(code, body);
  }

  encodeReply<K extends ServerOp>(request: ServerRequestOf<K>, result: ServerResults[K]): Buffer[] {
    return this.delegate!.encodeReply(request, result);
  }

  encodeError(code: number): Buffer {
    return (this.delegate ?? serverWire08.newSession(this.options)).encodeError(code);
  }

  closeAfterReply(): boolean {
    return this.delegate?.closeAfterReply?.() ?? false;
  }
}

/** The dev server's generation for "auto": all three on one port, decided per connection. */
export const serverWireAuto: ServerWireGeneration = {
  version: "auto",
  newSession: (options) => new DetectingServerSession(options),
};
