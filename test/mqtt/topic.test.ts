import assert from "node:assert/strict";
import { test } from "node:test";
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
