// The record of exchanges answered by a separate response: kept for their lifetime, at most `limit`
// of them (the oldest goes first), none when the limit is 0.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AnsweredExchanges } from "../../protocols/coap/ingest.js";

const CREATED = { code: "2.01" };

test("an answered exchange is kept for its lifetime, then forgotten", () => {
  const a = new AnsweredExchanges(10, 1_000);
  a.set("x", CREATED, 0);
  assert.equal(a.get("x", 999), CREATED);
  assert.equal(a.get("x", 1_000), undefined);
  assert.equal(a.size, 0);
});

test("at most `limit` exchanges are kept, the oldest evicted first", () => {
  const a = new AnsweredExchanges(2, 1_000);
  a.set("x", CREATED, 0);
  a.set("y", CREATED, 1);
  a.set("z", CREATED, 2);
  assert.equal(a.size, 2);
  assert.equal(a.get("x", 3), undefined);
  assert.equal(a.get("y", 3), CREATED);
  assert.equal(a.get("z", 3), CREATED);
});

test("a limit of 0 keeps nothing", () => {
  const a = new AnsweredExchanges(0, 1_000);
  a.set("x", CREATED, 0);
  assert.equal(a.size, 0);
});
