// A consumer in another language decodes our batches with only the schema: Python's flatbuffers
// package with classes flatc generates from reading-batch.fbs, and Python's msgpack package.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { codecs } from "../../gateway/codecs/index.js";
import { valueKind, type Reading } from "../../protocols/adapter.js";
import { hasCommand, hasPythonModule, peerPython, repoRoot, requirePeer } from "../helpers/peers.js";
import { edgeReadings } from "./fixtures/readings.js";

const script = join(repoRoot, "test/codecs/fixtures/decode_batch.py");
const schema = join(repoRoot, "gateway/codecs/reading-batch.fbs");

function expectedRows(gateway: string, firstSeq: number, readings: Reading[]) {
  return readings.map((r, i) => {
    const kind = valueKind(r.value);
    let value: unknown = r.value;
    if (kind === "integer") value = String(r.value);
    if (kind === "bytes") value = Buffer.from(r.value as Uint8Array).toString("base64");
    if (kind === "number" && !Number.isFinite(r.value as number))
      value = Number.isNaN(r.value) ? "nan" : (r.value as number) > 0 ? "inf" : "-inf";
    return {
      device: r.device,
      gateway,
      point: r.point,
      quality: r.quality,
      seq: firstSeq + i,
      ts: r.ts,
      type: kind,
      unit: r.unit ?? null,
      value,
    };
  });
}

for (const codec of ["flatbuffers", "msgpack"] as const) {
  test(`Python decodes a ${codec} batch with only the schema`, (t) => {
    const module = codec === "flatbuffers" ? "flatbuffers" : "msgpack";
    if (!requirePeer(t, `Python package ${module}`, hasPythonModule(module), "scripts/setup.sh --peers"))
      return;
    if (
      codec === "flatbuffers" &&
      !requirePeer(t, "flatc", hasCommand("flatc", ["--version"]), "apt-get install flatbuffers-compiler")
    )
      return;
    // Tags are left out: the Python reader prints the fields every consumer needs.
    const readings = edgeReadings().map(({ tags: _tags, ...r }) => r);
    const file = join(mkdtempSync(join(tmpdir(), "iggy-edge-foreign-")), `batch.${codec}`);
    writeFileSync(file, codecs[codec].encode({ gateway: "line-3", firstSeq: 5000, readings })[0]!);
    const args = codec === "flatbuffers" ? [script, codec, schema, file] : [script, codec, file];
    const r = spawnSync(peerPython(), args, { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(rows, expectedRows("line-3", 5000, readings));
  });
}
