// The package under a real systemd: a throwaway Debian root with systemd (scripts/make-chroot.sh
// --with-systemd) booted by systemd-nspawn, systemd its PID 1. Inside, a one-shot unit installs the
// host-architecture .deb with dpkg and checks, through systemd itself: the service goes active only
// at READY, enabled, with its STATUS line and the hardened unit's settings; systemd receives the
// watchdog pings; a stopped process trips the watchdog and is restarted; an upgrade to a version
// that cannot start fails dpkg and leaves the previous version running (iggy-edge-rollback); a
// downgrade back to it takes the rollback drop-in away. Then the container powers off, and the
// test reads what the unit wrote.
//
// Needs root, systemd-nspawn (Debian systemd-container), the cached root and the package built;
// without them it is skipped saying so, and fails under CI=true.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { hasCommand, requirePeer } from "../helpers/peers.js";
import { tempDir } from "../iggy/helpers.js";
import { builtPackage, cachedRoot, requireThrowawayRoot, ThrowawayRoot } from "./throwaway-root.js";

const CHECKS = String.raw`#!/bin/sh
# Runs as a one-shot unit inside the booted container; writes key=value lines to /out/result.
out=/out/result
: >"$out"
r() { echo "$1=$2" >>"$out"; }
trap 'echo done=yes >>"$out"; systemctl poweroff --no-block' EXIT
deb=$(ls /pkg/*.deb | head -n 1)
version=$(dpkg-deb -f "$deb" Version)
# A bounded wait: up to N seconds for a command to succeed.
until_ok() { n=$1; shift; i=0; while ! "$@" >/dev/null 2>&1; do i=$((i + 1)); [ "$i" -ge "$n" ] && return 1; sleep 1; done; }

r pid1 "$(cat /proc/1/comm)"
dpkg -i "$deb" >/out/install.log 2>&1 && r install 0 || r install $?
r active "$(systemctl is-active iggy-edge)"
r enabled "$(systemctl is-enabled iggy-edge)"
for p in Type NotifyAccess WatchdogUSec User SupplementaryGroups ProtectSystem NoNewPrivileges StatusText; do
  r "$p" "$(systemctl show -p "$p" --value iggy-edge)"
done
r main_user "$(stat -c %U /proc/"$(systemctl show -p MainPID --value iggy-edge)")"
r status_exit "$(iggy-edge status >/out/status.txt 2>&1; echo $?)"

# Watchdog pings reach systemd: the time of the last one moves (one comes every 15 s).
w1=$(systemctl show -p WatchdogTimestampMonotonic --value iggy-edge)
moved() { [ "$(systemctl show -p WatchdogTimestampMonotonic --value iggy-edge)" != "$w1" ]; }
until_ok 120 moved && r ping_seen yes || r ping_seen no

# A process that stops answering trips the watchdog and is restarted. (Shortened for the test.)
mkdir -p /etc/systemd/system/iggy-edge.service.d
printf '[Service]\nWatchdogSec=4s\nTimeoutAbortSec=3s\n' >/etc/systemd/system/iggy-edge.service.d/test-watchdog.conf
systemctl daemon-reload
systemctl restart iggy-edge
systemctl kill -s SIGSTOP iggy-edge
tripped() { journalctl -u iggy-edge --no-pager | grep -q 'Watchdog timeout'; }
until_ok 120 tripped && r watchdog_tripped yes || r watchdog_tripped no
restarted() { [ "$(systemctl show -p NRestarts --value iggy-edge)" -ge 1 ] && systemctl is-active -q iggy-edge; }
until_ok 120 restarted && r restarted_after_watchdog yes || r restarted_after_watchdog no
rm /etc/systemd/system/iggy-edge.service.d/test-watchdog.conf
rmdir /etc/systemd/system/iggy-edge.service.d
systemctl daemon-reload
systemctl restart iggy-edge

# An upgrade to a version that cannot start: dpkg fails, the previous version runs. The installed
# version stands in for one from before buffer format 2 (no BUFFER_FORMAT): the rollback stops the
# service and has the broken version downgrade the buffer, which fails; the previous version opens
# the buffer as it is, so the rollback goes on.
rm /usr/lib/iggy-edge/BUFFER_FORMAT
rm -rf /tmp/bad && dpkg-deb -R "$deb" /tmp/bad
sed -i "s/^Version: .*/Version: $version+broken1/" /tmp/bad/DEBIAN/control
echo "$version+broken1" >/tmp/bad/usr/lib/iggy-edge/VERSION
printf 'console.error("broken on purpose");\nprocess.exit(1);\n' >/tmp/bad/usr/lib/iggy-edge/app/dist/gateway/cli/main.js
dpkg-deb --root-owner-group -Zgzip -z1 -b /tmp/bad /tmp/bad.deb >/dev/null
dpkg -i /tmp/bad.deb >/out/upgrade.log 2>&1 && r bad_upgrade 0 || r bad_upgrade $?
r after_bad_active "$(systemctl is-active iggy-edge)"
r after_bad_buffer "$(grep -c -e 'rewriting the buffer into format 1' -e 'opens it as it is' /out/upgrade.log)"
r after_bad_rollback "$(iggy-edge-rollback --status)"
r after_bad_main "$(tr '\0' ' ' </proc/"$(systemctl show -p MainPID --value iggy-edge)"/cmdline)"
r after_bad_dpkg "$(dpkg-query -s iggy-edge | grep -E '^(Status|Version):' | tr '\n' ' ')"

# Back for good: the old package again.
dpkg -i "$deb" >/out/downgrade.log 2>&1 && r downgrade 0 || r downgrade $?
r after_downgrade_active "$(systemctl is-active iggy-edge)"
r after_downgrade_rollback "$(iggy-edge-rollback --status)"
r after_downgrade_dropin "$(test -e /etc/systemd/system/iggy-edge.service.d/zz-rollback.conf && echo present || echo absent)"
systemctl stop iggy-edge
journalctl -u iggy-edge --no-pager -o cat >/out/journal.txt 2>&1
`;

const UNIT = `[Unit]
Description=iggy-edge package checks under systemd
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/bin/iggy-edge-checks
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
`;

test(
  "under a real systemd (nspawn): READY, STATUS, watchdog pings and trip, rollback of an upgrade that cannot start",
  { timeout: 1_800_000 },
  async (t) => {
    const deb = builtPackage("deb");
    if (!requirePeer(t, `the package ${deb}`, existsSync(deb), "bash scripts/package-deb.sh --arch amd64"))
      return;
    if (
      !requirePeer(
        t,
        "systemd-nspawn",
        hasCommand("systemd-nspawn", ["--version"]),
        "apt-get install systemd-container",
      )
    )
      return;
    if (!requireThrowawayRoot(t, true)) return;

    const root = new ThrowawayRoot(t, cachedRoot(true));
    root.write("usr/local/bin/iggy-edge-checks", CHECKS, 0o755);
    root.write("etc/systemd/system/iggy-edge-checks.service", UNIT);
    root.link(
      "etc/systemd/system/multi-user.target.wants/iggy-edge-checks.service",
      "/etc/systemd/system/iggy-edge-checks.service",
    );
    const out = tempDir("iggy-edge-nspawn-out-");
    t.after(() => out.remove());
    const pkg = tempDir("iggy-edge-nspawn-pkg-");
    t.after(() => pkg.remove());
    copyFileSync(deb, join(pkg.path, "iggy-edge.deb"));

    const booted = await root.boot(
      [
        { host: out.path, inside: "/out" },
        { host: pkg.path, inside: "/pkg" },
      ],
      1_200_000,
    );
    const file = (name: string): string =>
      existsSync(join(out.path, name)) ? readFileSync(join(out.path, name), "utf8") : "(none)";
    const result = Object.fromEntries(
      file("result")
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    ) as Record<string, string>;
    t.diagnostic(`container: exit ${String(booted.status)}; results: ${JSON.stringify(result)}`);
    const context = `\n${file("result")}\ninstall: ${file("install.log")}\nupgrade: ${file("upgrade.log")}\njournal: ${file("journal.txt").slice(-3000)}\nnspawn: ${booted.stderr.slice(-2000)}`;
    assert.equal(result.done, "yes", `the checks ran to the end${context}`);
    assert.equal(result.pid1, "systemd", context);
    assert.equal(result.install, "0", context);
    assert.equal(result.active, "active", context);
    assert.equal(result.enabled, "enabled", context);
    assert.equal(result.Type, "notify", context);
    assert.equal(result.NotifyAccess, "main", context);
    assert.equal(result.WatchdogUSec, "30s", context);
    assert.equal(result.User, "iggy-edge", context);
    assert.equal(result.main_user, "iggy-edge", context);
    assert.equal(result.ProtectSystem, "strict", context);
    assert.equal(result.NoNewPrivileges, "yes", context);
    assert.match(result.StatusText ?? "", /devices up; buffer .*; Iggy/, context);
    // iggy-edge status against the running service: ready, degraded (exit 1) as Iggy is not reachable.
    assert.equal(result.status_exit, "1", context);
    assert.match(file("status.txt"), /^WARNING: gateway .*, ready$/m, context);
    assert.equal(result.ping_seen, "yes", context);
    assert.equal(result.watchdog_tripped, "yes", context);
    assert.equal(result.restarted_after_watchdog, "yes", context);
    assert.notEqual(result.bad_upgrade, "0", `the upgrade to a version that cannot start fails${context}`);
    assert.match(file("upgrade.log"), /going back to the version from before the upgrade/, context);
    assert.equal(result.after_bad_active, "active", context);
    assert.match(result.after_bad_rollback ?? "", /^rolled back: the service runs /, context);
    assert.equal(result.after_bad_buffer, "2", `the rollback tried the downgrade and went on: ${context}`);
    assert.match(result.after_bad_main ?? "", /\/usr\/lib\/iggy-edge\.previous\//, context);
    assert.match(result.after_bad_dpkg ?? "", /half-configured .*\+broken1/, context);
    assert.equal(result.downgrade, "0", context);
    assert.equal(result.after_downgrade_active, "active", context);
    assert.match(result.after_downgrade_rollback ?? "", /^the service runs the installed version/, context);
    assert.equal(result.after_downgrade_dropin, "absent", context);
  },
);
