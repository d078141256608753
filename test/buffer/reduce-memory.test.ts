// reduceMemory(): the worker gives back SQLite's cache and collects its heap between calls; what the
// buffer holds and does next is unchanged.
import assert from "node:assert/strict";
import { test } from "node:test";
import { collectGarbage } from "../../protocols/collect-garbage.js";
import { drain, open, readings, scratch } from "./helpers.js";

test("reduceMemory between appends and leases changes nothing the buffer holds", async (t) => {
  const b = await open(t, scratch(t));
  await b.append(readings(0, 500));
  await b.reduceMemory!();
  await b.append(readings(500, 500));
  const stats = await b.stats();
  assert.equal(stats.readings, 1_000);
  await b.reduceMemory!();
  const out = await drain(b);
  assert.deepEqual(
    out.map((r) => r.value),
    readings(0, 1_000).map((r) => r.value),
  );
});

test("collectGarbage runs in this thread, and a second one at the same time declines instead of failing", async () => {
  assert.equal(await collectGarbage(), true);
  const both = await Promise.all([collectGarbage(), collectGarbage()]);
  assert.deepEqual(both, [true, false]);
  assert.equal(await collectGarbage(), true);
});
