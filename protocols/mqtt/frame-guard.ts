// Bounds the size of MQTT packets on a connection before the packet parser buffers them: follows the
// packet boundaries in the bytes as they arrive (type byte, remaining-length varint, body) and calls
// `onViolation` as soon as a packet announces more than `maxPacketBytes`, or a malformed length.
// `onPacketType` (optional) hears the type of every packet as it starts (14: DISCONNECT).
import type { Readable } from "node:stream";

export function guardFrames(
  stream: Readable,
  maxPacketBytes: number,
  onViolation: (announced: number | null) => void,
  onPacketType?: (type: number) => void,
): void {
  let state: "type" | "length" | "body" = "type";
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  let remaining = 0;
  let tripped = false;
  const scan = (chunk: Uint8Array): boolean => {
    let i = 0;
    while (i < chunk.length) {
      if (state === "body") {
        const n = Math.min(remaining, chunk.length - i);
        remaining -= n;
        i += n;
        if (remaining === 0) state = "type";
      } else if (state === "type") {
        onPacketType?.(chunk[i]! >> 4);
        i++;
        state = "length";
        length = 0;
        multiplier = 1;
        lengthBytes = 0;
      } else {
        const b = chunk[i++]!;
        length += (b & 0x7f) * multiplier;
        multiplier *= 128;
        lengthBytes++;
        if ((b & 0x80) === 0) {
          if (length > maxPacketBytes) {
            onViolation(length);
            return false;
          }
          remaining = length;
          state = remaining === 0 ? "type" : "body";
        } else if (lengthBytes === 4) {
          onViolation(null);
          return false;
        }
      }
    }
    return true;
  };
  const push = stream.push.bind(stream);
  stream.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (tripped || chunk === null || chunk === undefined) return push(chunk, encoding);
    if (chunk instanceof Uint8Array && !scan(chunk)) {
      tripped = true;
      stream.destroy();
      return false;
    }
    return push(chunk, encoding);
  };
}
