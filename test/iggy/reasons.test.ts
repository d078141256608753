// Each wire generation turns Iggy's status codes into reasons; callers decide on reasons only.
import assert from "node:assert/strict";
import { test } from "node:test";
import { IggyServerError } from "../../gateway/iggy/index.js";
import { reasonOf010 } from "../../gateway/iggy/wire/v0_10/index.js";
import { reasonOf08 } from "../../gateway/iggy/wire/v0_8/index.js";
import { clientFor, startDev } from "./helpers.js";

test("codes that mean the same in both generations have the same reason", { timeout: 10_000 }, () => {
  for (const reasonOf of [reasonOf08, reasonOf010]) {
    assert.equal(reasonOf(4025, "send"), "invalid");
    assert.equal(reasonOf(4022, "send"), "invalid");
    assert.equal(reasonOf(1009, "poll"), "missing_target");
    assert.equal(reasonOf(3007, "send"), "missing_target");
    assert.equal(reasonOf(1012, "createStream"), "exists");
    assert.equal(reasonOf(42, "login"), "unauthorized");
    assert.equal(reasonOf(14003, "login"), "incompatible");
    assert.equal(reasonOf(1, "send"), "uncertain");
    assert.equal(reasonOf(1, "poll"), "other");
    assert.equal(reasonOf(999_999, "send"), "other");
  }
});

test("where the generations differ, each says so", { timeout: 10_000 }, () => {
  // 0.8: a server shutting down (Disconnected) or failing to write may have stored a send in part.
  assert.equal(reasonOf08(8, "send"), "uncertain");
  assert.equal(reasonOf08(10006, "send"), "uncertain");
  assert.equal(reasonOf010(8, "send"), "transient");
  assert.equal(reasonOf010(10006, "send"), "other");
  // 0.10: a recreated partition, an eviction, a send not committed after its resends.
  assert.equal(reasonOf010(3014, "send"), "missing_target");
  assert.equal(reasonOf010(87, "poll"), "missing_target");
  assert.equal(reasonOf08(3014, "send"), "other");
  assert.equal(reasonOf010(57, "send"), "uncertain");
  assert.equal(reasonOf010(57, "poll"), "transient");
  assert.equal(reasonOf010(30, "poll"), "transient");
});

test("an IggyServerError carries its reason", { timeout: 10_000 }, () => {
  assert.equal(new IggyServerError(2010, "send").reason, "missing_target");
  assert.equal(new IggyServerError(57, "send", undefined, reasonOf010(57, "send")).reason, "uncertain");
});

for (const protocol of ["0.8", "0.10"] as const) {
  test(
    `Iggy ${protocol}: a server's refusals reach the caller with their reasons`,
    { timeout: 30_000 },
    async () => {
      const server = await startDev();
      const client = clientFor(server.address.port, { protocol });
      try {
        await client.ensureStream("iot");
        await client.ensureTopic("iot", "t", { partitions: 1 });
        await assert.rejects(
          client.createStream("iot"),
          (e: unknown) => e instanceof IggyServerError && e.reason === "exists",
        );
        await assert.rejects(
          client.poll("nope", "t", { partition: 0, strategy: { kind: "first" }, count: 1 }),
          (e: unknown) => e instanceof IggyServerError && e.reason === "missing_target",
        );
        const outcome = await client.send("iot", "t", [{ payload: Buffer.from("x") }], {
          partitioning: { kind: "partition", id: 7 },
        });
        assert.equal(outcome.status, "rejected");
        assert.equal(outcome.status === "rejected" && outcome.error.reason, "missing_target");
        const wrong = clientFor(server.address.port, {
          protocol,
          credentials: { username: "iggy", password: "wrong" },
        });
        await assert.rejects(
          wrong.connect(),
          (e: unknown) => e instanceof IggyServerError && e.reason === "unauthorized",
        );
        await wrong.close();
      } finally {
        await client.close();
        await server.close();
      }
    },
  );
}
