import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff } from "../../protocols/backoff.js";

test("backoff doubles from initialMs up to maxMs, each delay within [step/2, step]", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000 });
  const steps = [100, 200, 400, 800, 1000, 1000];
  for (const step of steps) {
    assert.equal(b.peek(), step);
    const low = new Backoff({ initialMs: 100, maxMs: 1000 });
    for (let i = 0; i < b.attempts; i++) low.next();
    assert.equal(
      low.next(() => 0),
      step / 2,
    );
    assert.equal(b.next(() => 0.999999) <= step, true);
  }
  assert.equal(b.attempts, steps.length);
  b.reset();
  assert.equal(b.attempts, 0);
  assert.equal(b.peek(), 100);
});

test("backoff survives thousands of failures without overflow", () => {
  const b = new Backoff({ initialMs: 1, maxMs: 30_000, factor: 3 });
  let last = 0;
  for (let i = 0; i < 5000; i++) last = b.next(() => 1);
  assert.equal(last, 30_000);
});

test("backoff refuses a range that cannot work", () => {
  assert.throws(() => new Backoff({ initialMs: 0, maxMs: 10 }), RangeError);
  assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), RangeError);
});
