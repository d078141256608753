// One grammar for the simulators' faults, DEVICE:KIND[=N],...: what each protocol's parser makes of a
// good spec, and the message a person gets for a bad one.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FaultSpecError, faultUsage, parseFaultSpec } from "../../protocols/fault-spec.js";
import { parseFaults as modbusFaults } from "../../protocols/modbus/simulator.js";
import { parseFaults as mqttFaults } from "../../protocols/mqtt/simulator.js";

const kinds = { exception: { number: "CODE", min: 1, max: 255 }, delay: { number: "MS" }, silent: {} };

test(
  "a spec is DEVICE:KIND[=N], comma-separated; blanks and empty parts are ignored",
  { timeout: 10_000 },
  () => {
    const m = parseFaultSpec(" boiler-1:exception=4 , press.2:delay=1500,, pump-3:silent ", kinds);
    assert.deepEqual(
      [...m.values()],
      [
        { device: "boiler-1", kind: "exception", value: 4 },
        { device: "press.2", kind: "delay", value: 1500 },
        { device: "pump-3", kind: "silent" },
      ],
    );
    assert.equal(parseFaultSpec(undefined, kinds).size, 0);
    assert.equal(parseFaultSpec("", kinds).size, 0);
    assert.equal(faultUsage(kinds), "exception=CODE, delay=MS, silent");
  },
);

test("every mistake is named, with the part it is in and the kinds there are", { timeout: 10_000 }, () => {
  const cases: [string, RegExp][] = [
    [
      "boiler-1",
      /bad fault "boiler-1": expected DEVICE:KIND\[=N\], KIND one of exception=CODE, delay=MS, silent$/,
    ],
    [":silent", /bad fault ":silent": expected DEVICE:KIND/],
    ["boiler-1:", /bad fault "boiler-1:": no KIND after the device/],
    ["boiler-1:melt", /there is no fault "melt"; KIND is one of exception=CODE, delay=MS, silent$/],
    ["boiler-1:delay", /delay needs a number: delay=MS$/],
    ["boiler-1:delay=", /delay needs a number: delay=MS$/],
    ["boiler-1:silent=3", /silent takes no number$/],
    ["boiler-1:delay=1.5", /delay=MS needs a whole number, not "1.5"$/],
    ["boiler-1:delay=-5", /delay=MS needs a whole number, not "-5"$/],
    ["boiler-1:exception=0", /exception=CODE must be from 1 to 255, not 0$/],
    ["boiler-1:exception=300", /exception=CODE must be from 1 to 255, not 300$/],
    ["boiler-1:delay=99999999999999999999", /delay=MS must be at least 0, not 99999999999999999999$/],
    [
      "a:silent,a:delay=5",
      /bad fault "a:delay=5": device a already has a fault \(silent\); give one per device$/,
    ],
    ["a:toString", /there is no fault "toString"/],
  ];
  for (const [spec, message] of cases) {
    assert.throws(
      () => parseFaultSpec(spec, kinds, "IGGY_EDGE_TEST_FAULTS"),
      (e: Error) =>
        e instanceof FaultSpecError &&
        e.message.startsWith("IGGY_EDGE_TEST_FAULTS: ") &&
        message.test(e.message),
      spec,
    );
  }
});

test("the Modbus simulator's faults", { timeout: 10_000 }, () => {
  assert.deepEqual(
    modbusFaults("b:exception=4,d:delay=1500,s:silent,x:drop,g:garbage,n:no_single_writes,i:ignore_writes"),
    {
      b: { kind: "exception", code: 4 },
      d: { kind: "delay", ms: 1500 },
      s: { kind: "silent" },
      x: { kind: "drop" },
      g: { kind: "garbage" },
      n: { kind: "no_single_writes" },
      i: { kind: "ignore_writes" },
    },
  );
  assert.throws(
    () => modbusFaults("b:burst=3"),
    /^FaultSpecError: IGGY_EDGE_MODBUS_FAULTS: bad fault "b:burst=3": there is no fault "burst"; KIND is one of exception=CODE, delay=MS, silent, drop, garbage, no_single_writes, ignore_writes$/,
  );
});

test("the MQTT simulator's faults", { timeout: 10_000 }, () => {
  assert.deepEqual(mqttFaults("s:garbage,m:burst=500,h:disconnect=5000"), {
    s: { kind: "garbage" },
    m: { kind: "burst", count: 500 },
    h: { kind: "disconnect", everyMs: 5000 },
  });
  assert.throws(
    () => mqttFaults("m:burst=0"),
    /IGGY_EDGE_MQTT_FAULTS: bad fault "m:burst=0": burst=N must be at least 1, not 0$/,
  );
  assert.throws(() => mqttFaults("m:silent"), /KIND is one of garbage, burst=N, disconnect=MS$/);
});
