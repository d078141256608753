// The Raspberry Pi packages proven on this x86 machine, arm64 (64-bit Pi OS) and armhf (32-bit):
// every native module and Node itself are ELF files of the target, and the package unpacked into a
// throwaway root runs the gateway with its own Node under qemu-user-static: READY over
// NOTIFY_SOCKET, readings from a Modbus simulator and over MQTT into dev-iggy, read back with `tail`.
//
// It needs the packages built first (several minutes each: scripts/package-deb.sh --arch ARCH,
// which scripts/test.sh runs); without one its test is skipped with that message, and fails under
// CI=true. Debian packages: qemu-user-static, g++-aarch64-linux-gnu, g++-arm-linux-gnueabihf.
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { connectAsync } from "mqtt";
import { killAtEnd } from "../helpers/cleanup.js";
import { cliPath } from "../helpers/cli.js";
import { NotifyListener } from "../helpers/notify-socket.js";
import { hasCommand, repoRoot, requirePeer } from "../helpers/peers.js";
import { waitFor } from "../helpers/wait.js";
import { freePort, PASSWORD, startDev, tempDir } from "../iggy/helpers.js";

const VERSION = (JSON.parse(readFileSync(resolve(repoRoot, "package.json"), "utf8")) as { version: string })
  .version;

interface Target {
  arch: "arm64" | "armhf";
  deb: string;
  qemu: string;
  /** The target's C library and libstdc++ (from the cross compiler's packages). */
  sysroot: string;
  loader: string;
  crossPackage: string;
  /** ELF class (1: 32-bit, 2: 64-bit) and e_machine (183 AArch64, 40 ARM). */
  elf: { class: number; machine: number };
}

const TARGETS: Target[] = [
  {
    arch: "arm64",
    deb: process.env.IGGY_EDGE_DEB ?? resolve(repoRoot, `build/pkg/iggy-edge_${VERSION}_arm64.deb`),
    qemu: "qemu-aarch64-static",
    sysroot: "/usr/aarch64-linux-gnu",
    loader: "lib/ld-linux-aarch64.so.1",
    crossPackage: "g++-aarch64-linux-gnu",
    elf: { class: 2, machine: 183 },
  },
  {
    arch: "armhf",
    deb: process.env.IGGY_EDGE_DEB_ARMHF ?? resolve(repoRoot, `build/pkg/iggy-edge_${VERSION}_armhf.deb`),
    qemu: "qemu-arm-static",
    sysroot: "/usr/arm-linux-gnueabihf",
    loader: "lib/ld-linux-armhf.so.3",
    crossPackage: "g++-arm-linux-gnueabihf",
    elf: { class: 1, machine: 40 },
  },
];

/** ELF class (2: 64-bit) and machine of a file, or null when it is not an ELF file. */
function elf(path: string): Target["elf"] | null {
  const fd = openSync(path, "r");
  try {
    const h = Buffer.alloc(20);
    if (readSync(fd, h, 0, 20, 0) < 20 || h.readUInt32BE(0) !== 0x7f454c46) return null;
    return { class: h[4]!, machine: h.readUInt16LE(18) };
  } finally {
    closeSync(fd);
  }
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function gatewayConfig(
  dataDir: string,
  iggyPort: number,
  ports: { http: number; mqtt: number; modbus: number },
): string {
  return [
    `gateway: { id: pi, data_dir: ${JSON.stringify(dataDir)} }`,
    `iggy: { address: 127.0.0.1:${iggyPort}, username: iggy, password: ${PASSWORD}, codec: msgpack, batch: { linger_ms: 5 } }`,
    `http: { listen: 127.0.0.1:${ports.http} }`,
    `mqtt: { broker: { listen: 127.0.0.1:${ports.mqtt}, allow_anonymous: true } }`,
    "devices:",
    "  - id: boiler-1",
    "    protocol: modbus",
    `    connection: { host: 127.0.0.1, port: ${ports.modbus}, unit_id: 1 }`,
    "    poll_ms: 200",
    '    points: [ { name: temperature, address: "holding:100", type: float32, unit: degC } ]',
    "  - id: sensor-7",
    "    protocol: mqtt",
    "    points: [ { name: temperature, topic: sensors/sensor-7/temperature, decode: number } ]",
    "",
  ].join("\n");
}

for (const target of TARGETS) {
  const { arch, deb: DEB } = target;
  test(
    `the ${arch} package: ${arch} binaries; unpacked, its gateway runs under qemu and forwards Modbus and MQTT readings`,
    { timeout: 900_000 },
    async (t) => {
      if (
        !requirePeer(
          t,
          `the ${arch} package ${DEB}`,
          existsSync(DEB),
          `scripts/package-deb.sh --arch ${arch}`,
        )
      ) {
        return;
      }
      if (
        !requirePeer(
          t,
          target.qemu,
          hasCommand(target.qemu, ["--version"]),
          "apt-get install qemu-user-static",
        )
      )
        return;
      if (
        !requirePeer(
          t,
          `the ${arch} C library`,
          existsSync(join(target.sysroot, target.loader)),
          `apt-get install ${target.crossPackage}`,
        )
      )
        return;

      const control = sh("dpkg-deb", ["-f", DEB]);
      assert.match(control, /^Package: iggy-edge$/m);
      assert.match(control, new RegExp(`^Architecture: ${arch}$`, "m"));
      const contents = sh("dpkg-deb", ["-c", DEB]);
      for (const path of [
        "./lib/systemd/system/iggy-edge.service",
        "./etc/iggy-edge/config.yaml",
        "./usr/lib/iggy-edge/node/bin/node",
        "./usr/bin/iggy-edge",
      ]) {
        assert.ok(contents.includes(path), `${path} in the package`);
      }

      const dir = tempDir("iggy-edge-deb-");
      t.after(() => dir.remove());
      const root = join(dir.path, "root");
      sh("dpkg-deb", ["-x", DEB, root]);
      const lib = join(root, "usr/lib/iggy-edge");
      // The wrapper runs node itself, so it must pass the node flags of the bin's #! line (if any).
      const shebang = readFileSync(join(lib, "app/dist/gateway/cli/main.js"), "utf8").split("\n", 1)[0]!;
      const binFlags = (/^#!\/usr\/bin\/env (?:-S )?node(.*)$/.exec(shebang)?.[1] ?? "").trim();
      assert.match(shebang, /^#!\/usr\/bin\/env (-S )?node/, "the bin runs node through env");
      assert.ok(
        readFileSync(join(lib, "bin/iggy-edge"), "utf8").includes(
          `/node/bin/node"${binFlags ? ` ${binFlags}` : ""} "`,
        ),
        `the wrapper passes the bin's flags (${binFlags || "none"})`,
      );
      const natives = sh("find", [lib, "-name", "*.node", "-type", "f"]).trim().split("\n").filter(Boolean);
      assert.ok(
        natives.some((p) => p.endsWith("better_sqlite3.node")),
        "better-sqlite3's module",
      );
      assert.ok(
        natives.some((p) => p.endsWith("unix_dgram.node")),
        "unix-dgram's module",
      );
      for (const path of [...natives, join(lib, "node/bin/node")]) {
        assert.deepEqual(elf(path), target.elf, `${path} is an ELF file for ${arch}`);
      }

      // The gateway from the package, with the package's Node, emulated.
      const dev = await startDev();
      t.after(() => dev.close());
      const ports = { http: await freePort(), mqtt: await freePort(), modbus: await freePort() };
      const file = join(dir.path, "gw.yaml");
      writeFileSync(file, gatewayConfig(join(dir.path, "data"), dev.address.port, ports));
      const sim = killAtEnd(
        t,
        spawn(process.execPath, [cliPath, "simulate", "-c", file, "--device", "boiler-1"], {
          stdio: "ignore",
        }),
      );
      const sd = new NotifyListener(t);
      const started = Date.now();
      const gw = killAtEnd(
        t,
        spawn(
          target.qemu,
          [
            "-L",
            target.sysroot,
            join(lib, "node/bin/node"),
            join(lib, "app/dist/gateway/cli/main.js"),
            "run",
            "-c",
            file,
          ],
          {
            env: {
              ...process.env,
              NOTIFY_SOCKET: sd.path,
              WATCHDOG_USEC: "30000000",
              IGGY_EDGE_LOG_FORMAT: "json",
            },
            stdio: ["ignore", "ignore", "inherit"],
          },
        ),
      );
      const died = once(gw, "exit").then(([code]) => {
        throw new Error(`the emulated gateway exited (${String(code)})`);
      });
      await Promise.race([
        sd.next("READY=1 from the emulated gateway", (m) => m.READY === "1", 0, 300_000),
        died,
      ]);
      t.diagnostic(`start to READY under emulation: ${Date.now() - started} ms`);
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${gw.pid}/status`, "utf8"));
      if (rss)
        t.diagnostic(
          `RSS of the emulated gateway at READY (qemu included): ${Math.round(Number(rss[1]) / 1024)} MiB`,
        );

      const mqtt = await connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { reconnectPeriod: 0 });
      t.after(() => mqtt.endAsync());
      for (let i = 0; i < 5; i++)
        await mqtt.publishAsync("sensors/sensor-7/temperature", String(20 + i), { qos: 1 });

      // Sends follow the buffer's order: once Iggy confirmed as many readings as had been received
      // when the last MQTT publish was acknowledged, those include all five MQTT readings.
      await waitFor(
        "a Modbus reading accepted",
        async () => {
          const s = (await (await fetch(`http://127.0.0.1:${ports.http}/api/status`)).json()) as {
            devices: { id: string; points: Record<string, unknown> }[];
          };
          return s.devices.some((d) => d.id === "boiler-1" && Object.keys(d.points).length > 0);
        },
        120_000,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
      const received = [...metrics.matchAll(/^iggy_edge_readings_received_total\{[^}]*\} (\d+)$/gm)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
      assert.ok(received >= 5, `readings received: ${received}`);
      await waitFor(
        `${received} readings confirmed by Iggy`,
        async () => {
          const s = (await (await fetch(`http://127.0.0.1:${ports.http}/api/status`)).json()) as {
            iggy: { readings_sent: number };
          };
          return s.iggy.readings_sent >= received;
        },
        120_000,
      );
      const sent = received;
      const tail = await new Promise<string>((ok, fail) =>
        execFile(
          process.execPath,
          [
            cliPath,
            "tail",
            "--iggy",
            `127.0.0.1:${dev.address.port}`,
            "--password",
            PASSWORD,
            "--stream",
            "iot",
            "--topic",
            "telemetry",
            "--from",
            "first",
            "--count",
            String(sent),
            "--json",
          ],
          { encoding: "utf8", timeout: 60_000 },
          (err, stdout, stderr) => (err ? fail(new Error(`${err.message}: ${stderr}`)) : ok(stdout)),
        ),
      );
      const readings = tail
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as { gateway: string; device: string; value: unknown });
      assert.equal(readings.length, sent);
      assert.ok(readings.every((r) => r.gateway === "pi"));
      const devices = new Set(readings.map((r) => r.device));
      assert.ok(
        devices.has("boiler-1") && devices.has("sensor-7"),
        `both devices in Iggy: ${[...devices].join(", ")}`,
      );
      assert.deepEqual(
        readings.filter((r) => r.device === "sensor-7").map((r) => r.value),
        [20, 21, 22, 23, 24],
      );

      const exited = once(gw, "exit");
      gw.kill("SIGTERM");
      await sd.next("STOPPING=1", (m) => m.STOPPING === "1");
      assert.deepEqual(await exited, [0, null]);
      sim.kill("SIGTERM");
    },
  );
}
