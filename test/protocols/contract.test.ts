// Runs the adapter contract suite (contract.ts) for every protocol that has an entry, the way aedes
// runs one suite against every persistence: adding a protocol's entry adds it here.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ContractEntry } from "../../protocols/contract-entry.js";
import { contractMqtt5 } from "../../protocols/mqtt/contract.js";
import { PROTOCOLS } from "../../protocols/registry.js";
import { contractSuite } from "./contract.js";

test("every built protocol has an entry in the adapter contract suite", () => {
  const built = PROTOCOLS.filter((p) => p.load !== undefined);
  assert.ok(built.length >= 2);
  for (const p of built)
    assert.ok(p.contract, `protocols/${p.name} is built but has no contract entry (contract.ts)`);
});

// Declared without a top-level await: under --test-force-exit (npm test) the runner ends the file
// once the tests declared before the first await are done, so suites declared after it never ran.
for (const p of PROTOCOLS) {
  const load = p.contract;
  if (load === undefined) continue;
  const entry: ContractEntry = { setup: async (options) => (await load()).setup(options) };
  describe(`${p.title} adapter contract`, () => contractSuite(p.name, entry));
}

// The embedded MQTT broker's second engine (mqtt.broker.mqtt5: aedes 2) with MQTT 5 devices.
describe("MQTT 5 (aedes 2 broker) adapter contract", () => contractSuite("mqtt", contractMqtt5));
