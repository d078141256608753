// `iggy-edge buffer ...`: stats and dead-letter list/show/replay/purge on a stopped gateway's data
// directory, and clear errors when the gateway holds the buffer or the directory has none.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { Command, CommanderError } from "commander";
import { openBuffer } from "../../buffer/index.js";
import { bufferCommand } from "../../gateway/cli/buffer-command.js";
import { open, quiet, readings, scratch } from "./helpers.js";

interface Run {
  out: string;
  err: string;
  exitCode: number;
}

async function cli(...args: string[]): Promise<Run> {
  let out = "";
  let err = "";
  const program = new Command("iggy-edge")
    .exitOverride()
    .configureOutput({ writeOut: (s) => void (out += s), writeErr: (s) => void (err += s) })
    .addCommand(bufferCommand({ write: (s) => void (out += s) }));
  const quietAll = (c: Command) => {
    c.exitOverride().configureOutput({ writeOut: (s) => void (out += s), writeErr: (s) => void (err += s) });
    c.commands.forEach(quietAll);
  };
  quietAll(program);
  try {
    await program.parseAsync(["buffer", ...args], { from: "user" });
    return { out, err, exitCode: 0 };
  } catch (e) {
    if (e instanceof CommanderError) return { out, err, exitCode: e.exitCode };
    throw e;
  }
}

async function withDeadLetters(dataDir: string): Promise<void> {
  const b = await openBuffer({ dir: join(dataDir, "buffer"), log: quiet });
  await b.append([
    { device: "meter-2", point: "power", ts: 1_700_000_000_000, value: 2n ** 63n, quality: "bad" },
  ]);
  await b.append(readings(0, 4));
  const one = (await b.lease({ maxReadings: 1 }))!;
  await b.deadLetter(one.id, "Iggy refused: invalid message");
  const two = (await b.lease({ maxReadings: 2 }))!;
  await b.deadLetter(two.id, "too large");
  await b.close();
}

test("stats and dead-letters list/show/replay/purge work on a stopped gateway's data directory", async (t) => {
  const dataDir = scratch(t);
  await withDeadLetters(dataDir);

  const stats = await cli("stats", "--data-dir", dataDir, "--json");
  assert.equal(stats.exitCode, 0, stats.err);
  const s = JSON.parse(stats.out) as { readings: number; deadLetterReadings: number };
  assert.equal(s.readings, 2);
  assert.equal(s.deadLetterReadings, 3);
  assert.match((await cli("--data-dir", dataDir, "stats")).out, /dead letters\s+3 readings in 2 entries/);

  const list = await cli("dead-letters", "list", "--data-dir", dataDir);
  assert.equal(list.exitCode, 0, list.err);
  const rows = list.out.trim().split("\n");
  assert.equal(rows.length, 3);
  assert.match(rows[1]!, /^1\t.*\t1\t.*\t1\tIggy refused: invalid message$/);
  assert.match(rows[2]!, /^2\t.*\t2\t.*\ttoo large$/);

  const show = await cli("dead-letters", "show", "1", "--data-dir", dataDir);
  assert.equal(show.exitCode, 0, show.err);
  const shown = JSON.parse(show.out.trim()) as Record<string, unknown>;
  assert.equal(shown.device, "meter-2");
  assert.equal(shown.value, "9223372036854775808", "a bigint is printed exactly, as a string");
  assert.equal(shown.quality, "bad");

  const replay = await cli("dead-letters", "replay", "2", "--data-dir", dataDir);
  assert.equal(replay.exitCode, 0, replay.err);
  assert.match(replay.out, /replayed 2 readings from 1 entries/);

  const purge = await cli("dead-letters", "purge", "--all", "--data-dir", dataDir);
  assert.equal(purge.exitCode, 0, purge.err);
  assert.match(purge.out, /purged 1 readings in 1 entries/);

  const after = JSON.parse((await cli("stats", "--data-dir", dataDir, "--json")).out) as typeof s;
  assert.equal(after.readings, 4);
  assert.equal(after.deadLetterReadings, 0);
});

test("the commands say so when the gateway holds the buffer, when there is none, or when asked unclearly", async (t) => {
  const dataDir = scratch(t);
  const running = await open(t, dataDir);
  const locked = await cli("dead-letters", "list", "--data-dir", dataDir);
  assert.equal(locked.exitCode, 1);
  assert.match(locked.err, /stop the gateway first/);
  await running.close();

  const missing = await cli("stats", "--data-dir", join(dataDir, "nowhere"));
  assert.equal(missing.exitCode, 1);
  assert.match(missing.err, /no buffer at .*nowhere/);

  const neither = await cli("dead-letters", "purge", "--data-dir", dataDir);
  assert.equal(neither.exitCode, 2);
  assert.match(neither.err, /--all/);

  const badId = await cli("dead-letters", "show", "x", "--data-dir", dataDir);
  assert.notEqual(badId.exitCode, 0);
  assert.match(badId.err, /not a dead-letter entry id/);

  const noDir = await cli("stats");
  assert.equal(noDir.exitCode, 1);
  assert.match(noDir.err, /--data-dir/);
});

test("downgrade: refuses while the gateway holds the buffer, rewrites it once stopped, then has nothing to do", async (t) => {
  const dataDir = scratch(t);
  const running = await open(t, dataDir);
  await running.append(readings(0, 5));
  const locked = await cli("downgrade", "--format", "1", "--data-dir", dataDir);
  assert.equal(locked.exitCode, 1);
  assert.match(locked.err, /stop the gateway first/);
  await running.close();

  const done = await cli("downgrade", "--format", "1", "--data-dir", dataDir);
  assert.equal(done.exitCode, 0, done.err);
  assert.match(
    done.out,
    /buffer format 2 -> 1, 5 readings rewritten; a version that knows format 1 opens it now/,
  );
  const again = await cli("downgrade", "--format", "1", "--data-dir", dataDir);
  assert.equal(again.exitCode, 0, again.err);
  assert.match(again.out, /in buffer format 1 already: nothing to do/);

  const none = await cli("downgrade", "--format", "1", "--data-dir", join(dataDir, "nowhere"));
  assert.equal(none.exitCode, 0, none.err);
  assert.match(none.out, /no buffer at .*nowhere.* yet: nothing to do/);
  const unknown = await cli("downgrade", "--format", "7", "--data-dir", dataDir);
  assert.equal(unknown.exitCode, 1);
  assert.match(unknown.err, /no buffer format 7 to go to/);
  const noFormat = await cli("downgrade", "--data-dir", dataDir);
  assert.notEqual(noFormat.exitCode, 0);
  assert.match(noFormat.err, /--format/);

  const b = await open(t, dataDir);
  assert.deepStrictEqual((await b.lease({ maxReadings: 10 }))!.readings, readings(0, 5), "migrated up again");
});
