// deploy/iggy-edge.service: what the gateway relies on (read from the file itself), systemd's own
// verdict on it (`systemd-analyze verify`) and its exposure (`systemd-analyze security --offline`).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { tempDir } from "../iggy/helpers.js";
import { hasCommand, repoRoot, requirePeer } from "../helpers/peers.js";

const UNIT = resolve(repoRoot, "deploy/iggy-edge.service");
const EXEC = "/usr/lib/iggy-edge/bin/iggy-edge";

/** A unit file as systemd reads it: sections of keys, a key given again adds a value. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const i = line.indexOf("=");
    assert.ok(current && i > 0, `not a key=value line in a section: ${line}`);
    const key = line.slice(0, i).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(i + 1).trim()]);
  }
  return sections;
}

function seconds(v: string): number {
  const m = /^(\d+)\s*(s|min)?$/.exec(v);
  assert.ok(m, `a time span: ${v}`);
  return Number(m[1]) * (m[2] === "min" ? 60 : 1);
}

test("the unit: Type=notify with a watchdog, a dedicated user, the folders, restart on failure", () => {
  const unit = parseUnit(readFileSync(UNIT, "utf8"));
  const service = unit.get("Service")!;
  const one = (key: string) => {
    const v = service.get(key);
    assert.ok(v && v.length === 1, `exactly one ${key}=`);
    return v[0]!;
  };
  assert.equal(one("Type"), "notify");
  assert.equal(one("NotifyAccess"), "main", "the gateway's own process notifies");
  assert.ok(seconds(one("WatchdogSec")) >= 10, "a watchdog with room for a slow Pi");
  assert.equal(one("Restart"), "on-failure");
  assert.equal(one("ExecStart"), `${EXEC} run -c /etc/iggy-edge/config.yaml`);
  assert.equal(one("User"), "iggy-edge");
  assert.equal(one("StateDirectory"), "iggy-edge");
  assert.equal(one("ConfigurationDirectory"), "iggy-edge");
  assert.equal(one("WorkingDirectory"), "/var/lib/iggy-edge");
  assert.equal(one("SupplementaryGroups"), "dialout");
  // `iggy-edge run` forces its exit 30 s after a stop began: systemd must wait longer than that.
  assert.ok(seconds(one("TimeoutStopSec")) > 30);
  // The notifications go over an AF_UNIX datagram socket.
  assert.ok(one("RestrictAddressFamilies").split(/\s+/).includes("AF_UNIX"));
  for (const [key, value] of [
    ["NoNewPrivileges", "yes"],
    ["ProtectSystem", "strict"],
    ["PrivateTmp", "yes"],
    ["CapabilityBoundingSet", ""],
    ["DevicePolicy", "closed"],
  ] as const) {
    assert.equal(one(key), value, key);
  }
  assert.ok(service.get("SystemCallFilter")!.includes("@system-service"));
  assert.deepEqual(unit.get("Install")!.get("WantedBy"), ["multi-user.target"]);
});

test("systemd-analyze verify accepts the unit", { timeout: 60_000 }, (t) => {
  if (
    !requirePeer(
      t,
      "systemd-analyze",
      hasCommand("systemd-analyze", ["--version"]),
      "apt-get install systemd",
    )
  )
    return;
  // verify also checks that ExecStart's program exists; on this machine the package is not
  // installed, so a copy of the unit names an executable stand-in at a temporary path.
  const dir = tempDir("iggy-edge-unit-");
  t.after(() => dir.remove());
  const standIn = join(dir.path, "iggy-edge");
  writeFileSync(standIn, "#!/bin/sh\nexit 0\n");
  chmodSync(standIn, 0o755);
  const text = readFileSync(UNIT, "utf8");
  assert.ok(text.includes(EXEC));
  const copy = join(dir.path, "iggy-edge.service");
  writeFileSync(copy, text.replaceAll(EXEC, standIn));
  const r = spawnSync("systemd-analyze", ["verify", copy], { encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), "", "no warning");
});

test("systemd-analyze security --offline: exposure at most 2.0 (OK)", { timeout: 60_000 }, (t) => {
  if (
    !requirePeer(
      t,
      "systemd-analyze",
      hasCommand("systemd-analyze", ["--version"]),
      "apt-get install systemd",
    )
  )
    return;
  const r = spawnSync("systemd-analyze", ["security", "--offline=true", "--no-pager", UNIT], {
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const m = /Overall exposure level for iggy-edge\.service: (\d+\.\d+) (\S+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]}`);
  assert.equal(m[2], "OK");
});
