// A stand-in gateway for the CoAP kill -9 test: the CoAP adapter's server with an Emit that appends
// to a real buffer (sync full). argv: BUFFER_DIR. Sends {port} over IPC when listening.
import pino from "pino";
import { openBuffer } from "../../buffer/index.js";
import { CoapAdapter } from "../../protocols/coap/adapter.js";
import { coapDevice, coapSection } from "../../protocols/coap/schema.js";

const dir = process.argv[2]!;
const buffer = await openBuffer({ dir, sync: "full" });
const device = coapDevice.parse({ id: "d", protocol: "coap", points: [{ name: "seq", path: "/d/seq" }] });
if (device.protocol !== "coap") throw new Error("unreachable");
const adapter = new CoapAdapter(
  [device],
  {
    gatewayId: "kill9",
    dataDir: dir,
    section: coapSection.parse({ source_rate: 100_000, source_burst: 10_000 }),
  },
  { log: pino({ level: "warn" }), reject: () => {} },
  { listen: "127.0.0.1:0" },
);
await adapter.start(async (rs, options) => {
  await buffer.append(rs, options);
});
process.send!({ port: adapter.serverAddress()!.port });
