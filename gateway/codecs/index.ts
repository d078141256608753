// The codecs by name. A codec turns one leased batch into the payloads of the Iggy messages that
// carry it (one for the binary codecs, one per reading for JSON) and back.
import { decodeFlatbuffers, encodeFlatbuffers } from "./flatbuffers-codec.js";
import { decodeJson, encodeJson } from "./json-codec.js";
import { decodeMsgpack, encodeMsgpack } from "./msgpack-codec.js";
import { SCHEMA_VERSION, type BatchInput, type DecodedBatch } from "./series.js";

export type CodecName = "flatbuffers" | "msgpack" | "json";

export interface Codec {
  name: CodecName;
  schema: number;
  encode(batch: BatchInput): Uint8Array[];
  decode(payloads: readonly Uint8Array[]): DecodedBatch;
}

function single(
  name: CodecName,
  encode: (b: BatchInput) => Uint8Array,
  decode: (p: Uint8Array) => DecodedBatch,
): Codec {
  return {
    name,
    schema: SCHEMA_VERSION,
    encode: (b) => [encode(b)],
    decode: (payloads) => {
      if (payloads.length !== 1)
        throw new Error(`${name} carries a batch in one message, got ${payloads.length}`);
      return decode(payloads[0]!);
    },
  };
}

export const codecs: Record<CodecName, Codec> = {
  flatbuffers: single("flatbuffers", encodeFlatbuffers, decodeFlatbuffers),
  msgpack: single("msgpack", encodeMsgpack, decodeMsgpack),
  json: { name: "json", schema: SCHEMA_VERSION, encode: encodeJson, decode: decodeJson },
};

export function codecByName(name: string): Codec {
  const c = (codecs as Record<string, Codec | undefined>)[name];
  if (!c) throw new Error(`unknown codec '${name}' (known: ${Object.keys(codecs).join(", ")})`);
  return c;
}

export { BatchFormatError, SCHEMA_VERSION, type BatchInput, type DecodedBatch } from "./series.js";
