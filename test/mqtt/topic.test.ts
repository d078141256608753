import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { bindPattern, compilePattern, filterCovers, topicMatches } from "../../protocols/mqtt/topic.js";

test("topic filters match as MQTT says, '$' topics only by explicit filters", () => {
  assert.ok(topicMatches("a/+/c", "a/b/c"));
  assert.ok(topicMatches("a/#", "a"));
  assert.ok(topicMatches("a/#", "a/b/c"));
  assert.ok(topicMatches("#", "x/y"));
  assert.ok(!topicMatches("a/+", "a/b/c"));
  assert.ok(!topicMatches("a/b", "a/b/c"));
  assert.ok(!topicMatches("+/x", "$SYS/x"));
  assert.ok(!topicMatches("#", "$SYS/x"));
  assert.ok(topicMatches("$SYS/#", "$SYS/x"));
});

test("a subscribe ACL filter covers only filters that cannot reach beyond it", () => {
  assert.ok(filterCovers("sensors/#", "sensors/+/set"));
  assert.ok(filterCovers("sensors/+/set", "sensors/7/set"));
  assert.ok(filterCovers("sensors/+/set", "sensors/+/set"));
  assert.ok(!filterCovers("sensors/+/set", "sensors/#"));
  assert.ok(!filterCovers("sensors/7/set", "sensors/+/set"));
  assert.ok(!filterCovers("sensors/+", "sensors/+/x"));
  assert.ok(!filterCovers("#", "$SYS/#"));
});

test("named wildcards bind their levels; the filter subscribes with plain '+'", () => {
  const p = compilePattern("plant/+site/+device/temperature");
  assert.equal(p.filter, "plant/+/+/temperature");
  assert.equal(p.exact, false);
  assert.deepEqual(bindPattern(p, "plant/north/boiler-3/temperature"), { site: "north", device: "boiler-3" });
  assert.equal(bindPattern(p, "plant/north/boiler-3/pressure"), null);
  assert.equal(compilePattern("a/b").exact, true);
});

/** topicMatches as the MQTT text says it, by levels: the reference the tests compare it with. */
function topicMatchesByLevels(filter: string, topic: string): boolean {
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === "#") return true;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}

test("topicMatches agrees with matching level by level on random filters and topics", () => {
  const level = fc.constantFrom("a", "b", "ab", "", "$SYS", "+", "#", "x/y");
  const filter = fc.array(level, { minLength: 1, maxLength: 5 }).map((ls) => ls.join("/"));
  const name = fc
    .array(fc.constantFrom("a", "b", "ab", "", "$SYS", "$x", "y"), { minLength: 1, maxLength: 5 })
    .map((ls) => ls.join("/"));
  fc.assert(
    fc.property(filter, name, (f, t) => topicMatches(f, t) === topicMatchesByLevels(f, t)),
    { numRuns: 20_000, seed: 20261201 },
  );
  assert.ok(topicMatches("a/b/#", "a/b"));
  assert.ok(topicMatches("+/+", "/"));
  assert.ok(!topicMatches("a/b", "a/bc"));
  assert.ok(!topicMatches("a/bc", "a/b"));
  assert.ok(topicMatches("a//c", "a//c"));
  assert.ok(!topicMatches("a/+", "a"));
});
