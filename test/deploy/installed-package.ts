// What the package-install tests share: where the packages appear inside the throwaway root, the
// state an install must leave, and the installed gateway run as the service user to READY.
import assert from "node:assert/strict";
import { once } from "node:events";
import { chmodSync, copyFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { killAtEnd } from "../helpers/cleanup.js";
import { NotifyListener } from "../helpers/notify-socket.js";
import { tempDir } from "../iggy/helpers.js";
import type { ThrowawayRoot } from "./throwaway-root.js";
export const PKG = "/tmp/pkg";
/** Runs the rest of the line as the service user, with the unit's UMask. */
export const AS_SERVICE = "umask 0027; setpriv --reuid=iggy-edge --regid=iggy-edge --init-groups --";

/** Owner, group and mode of each path, one line each, as `stat` prints them inside the root. */
export async function modes(root: ThrowawayRoot, paths: string[]): Promise<string[]> {
  return (await root.sh(`stat -c '%n %U:%G %a' ${paths.join(" ")}`)).trim().split("\n");
}

/** The state a fresh install must leave, whichever way it was installed. */
export async function assertInstalled(root: ThrowawayRoot, version: string): Promise<void> {
  const [name, , uid, gid, , home, shell] = (await root.sh("getent passwd iggy-edge")).trim().split(":");
  assert.equal(name, "iggy-edge");
  assert.ok(Number(uid) > 0 && Number(uid) < 1000, `a system user (uid ${uid})`);
  assert.equal(home, "/var/lib/iggy-edge");
  assert.equal(shell, "/usr/sbin/nologin");
  assert.equal((await root.sh("getent group iggy-edge")).split(":")[2], gid, "its own group");
  assert.match(await root.sh("id -nG iggy-edge"), /\bdialout\b/, "serial ports through dialout");
  assert.deepEqual(
    await modes(root, ["/var/lib/iggy-edge", "/etc/iggy-edge", "/etc/iggy-edge/config.yaml"]),
    [
      "/var/lib/iggy-edge iggy-edge:iggy-edge 750",
      "/etc/iggy-edge root:iggy-edge 750",
      "/etc/iggy-edge/config.yaml root:iggy-edge 640",
    ],
  );
  assert.equal(
    (await root.sh("readlink /etc/systemd/system/multi-user.target.wants/iggy-edge.service")).trim(),
    "/lib/systemd/system/iggy-edge.service",
    "the unit is enabled",
  );
  assert.equal((await root.sh("iggy-edge --version")).trim(), version);
  assert.equal((await root.sh("cat /usr/lib/iggy-edge/VERSION")).trim(), version);
}

/**
 * The installed gateway, as its service user with the installed config, until READY; then a clean
 * stop. Proves the user can read its config and write its buffer into /var/lib/iggy-edge.
 */
export async function runAsService(
  t: TestContext,
  root: ThrowawayRoot,
  bin = "/usr/bin/iggy-edge",
): Promise<void> {
  const sd = new NotifyListener(t);
  chmodSync(dirname(sd.path), 0o711);
  chmodSync(sd.path, 0o777);
  const gw = killAtEnd(
    t,
    root.spawn(
      [
        AS_SERVICE,
        "env NOTIFY_SOCKET=/run/notify/notify.sock WATCHDOG_USEC=30000000 IGGY_EDGE_LOG_FORMAT=json",
        `${bin} run -c /etc/iggy-edge/config.yaml &`,
        "read stop; kill -TERM $!; wait $! && echo exit=$? || echo exit=$?",
      ].join(" "),
      [{ host: dirname(sd.path), inside: "/run/notify" }],
    ),
  );
  let out = "";
  gw.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  gw.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const died = once(gw, "exit").then(([code]) => {
    throw new Error(`the gateway in the root ended (${String(code)}): ${out}`);
  });
  died.catch(() => {});
  await Promise.race([sd.next("READY=1 from the installed gateway", (m) => m.READY === "1"), died]);
  const exited = once(gw, "exit");
  gw.stdin!.end("stop\n");
  await sd.next("STOPPING=1", (m) => m.STOPPING === "1");
  await exited;
  assert.match(out, /exit=0/, out);
}

/**
 * A later version of the same package: its version (control file, the app's package.json, VERSION)
 * raised and its shipped config changed, the way a real next release would change them.
 */
export async function nextDeb(
  sh: (script: string) => Promise<string>,
  deb: string,
  next: string,
): Promise<string> {
  const out = `${PKG}/iggy-edge_${next}.deb`;
  await sh(
    [
      `rm -rf /tmp/repack && dpkg-deb -R ${deb} /tmp/repack`,
      `sed -i 's/^Version: .*/Version: ${next}/' /tmp/repack/DEBIAN/control`,
      `echo ${next} > /tmp/repack/usr/lib/iggy-edge/VERSION`,
      `sed -i 's/"version": *"[^"]*"/"version": "${next}"/' /tmp/repack/usr/lib/iggy-edge/app/package.json`,
      "echo '# a new default of the next release' >> /tmp/repack/etc/iggy-edge/config.yaml",
      `dpkg-deb --root-owner-group -Zgzip -z1 -b /tmp/repack ${out} >/dev/null && rm -rf /tmp/repack`,
    ].join(" && "),
  );
  return out;
}

export function packageDir(t: TestContext, files: string[]): string {
  const dir = tempDir("iggy-edge-pkg-");
  t.after(() => dir.remove());
  for (const f of files) copyFileSync(f, join(dir.path, f.split("/").pop()!));
  return dir.path;
}

/** A reinstall of the same version keeps no copy of the version it replaced. */
export async function assertNoPreviousCopy(root: ThrowawayRoot): Promise<void> {
  assert.equal(
    (await root.run("test -e /usr/lib/iggy-edge.previous")).status,
    1,
    "a reinstall keeps no copy",
  );
}

/** After a remove or uninstall: the program is gone; the edited config and the buffer stay, owned as before. */
export async function assertRemovedKeepingData(root: ThrowawayRoot, buffer: string): Promise<void> {
  for (const gone of [
    "/usr/lib/iggy-edge",
    "/usr/lib/iggy-edge.previous",
    "/usr/bin/iggy-edge",
    "/lib/systemd/system/iggy-edge.service",
  ])
    assert.equal((await root.run(`test -e ${gone}`)).status, 1, `${gone} removed`);
  assert.match(await root.sh("cat /etc/iggy-edge/config.yaml"), /# edited on the device/);
  assert.deepEqual(await modes(root, [buffer]), [`${buffer} iggy-edge:iggy-edge 640`]);
}
