// The package for this machine's architecture (scripts/package-deb.sh --arch amd64 on x86), installed
// into a throwaway Debian root without a running systemd: install makes the user, folders and
// owners and enables the unit; the installed gateway runs as that user to READY; an upgrade keeps an
// edited config and the buffer and keeps the previous version runnable, and a rollback to a version
// that knows only buffer format 1 downgrades the buffer first (or stops); remove keeps data; purge
// removes it; every maintainer script runs again without harm. The same for the tarball's install.sh.
//
// Needs the package built (scripts/test.sh builds it) and the cached root of scripts/make-chroot.sh;
// without them the test is skipped saying so, and fails under CI=true.
import assert from "node:assert/strict";
import { once } from "node:events";
import { chmodSync, copyFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { test, type TestContext } from "node:test";
import { killAtEnd } from "../helpers/cleanup.js";
import { NotifyListener } from "../helpers/notify-socket.js";
import { requirePeer } from "../helpers/peers.js";
import { tempDir } from "../iggy/helpers.js";
import { builtPackage, requireThrowawayRoot, ThrowawayRoot } from "./throwaway-root.js";

const PKG = "/tmp/pkg";
/** Runs the rest of the line as the service user, with the unit's UMask. */
const AS_SERVICE = "umask 0027; setpriv --reuid=iggy-edge --regid=iggy-edge --init-groups --";

/** Owner, group and mode of each path, one line each, as `stat` prints them inside the root. */
async function modes(root: ThrowawayRoot, paths: string[]): Promise<string[]> {
  return (await root.sh(`stat -c '%n %U:%G %a' ${paths.join(" ")}`)).trim().split("\n");
}

/** The state a fresh install must leave, whichever way it was installed. */
async function assertInstalled(root: ThrowawayRoot, version: string): Promise<void> {
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
async function runAsService(t: TestContext, root: ThrowawayRoot, bin = "/usr/bin/iggy-edge"): Promise<void> {
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
async function nextDeb(sh: (script: string) => Promise<string>, deb: string, next: string): Promise<string> {
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

function packageDir(t: TestContext, files: string[]): string {
  const dir = tempDir("iggy-edge-pkg-");
  t.after(() => dir.remove());
  for (const f of files) copyFileSync(f, join(dir.path, f.split("/").pop()!));
  return dir.path;
}

test(
  "the .deb in a throwaway Debian root: install, run as the service user, upgrade, remove, purge, reinstall",
  { timeout: 1_800_000 },
  async (t) => {
    const deb = builtPackage("deb");
    if (!requirePeer(t, `the package ${deb}`, existsSync(deb), "bash scripts/package-deb.sh --arch amd64"))
      return;
    if (!requireThrowawayRoot(t)) return;
    const root = new ThrowawayRoot(t);
    const pkgs = [{ host: packageDir(t, [deb]), inside: PKG }];
    const sh = (s: string): Promise<string> => root.sh(s, pkgs);
    const theDeb = `${PKG}/${deb.split("/").pop()!}`;
    const version = (await sh(`dpkg-deb -f ${theDeb} Version`)).trim();

    // No systemd runs here (no /run/systemd/system, no systemctl at all): the scripts must not need it.
    assert.equal((await root.run("command -v systemctl")).status, 127, "no systemctl in the root");
    await sh(`dpkg -i ${theDeb}`);
    await assertInstalled(root, version);
    assert.equal((await root.run("dpkg -s iggy-edge | grep -q '^Status: install ok installed'")).status, 0);

    await runAsService(t, root);
    const buffer = "/var/lib/iggy-edge/data/buffer/buffer.db";
    assert.deepEqual(await modes(root, [buffer]), [`${buffer} iggy-edge:iggy-edge 640`]);

    // Every maintainer script step runs again without harm.
    await sh(`/var/lib/dpkg/info/iggy-edge.postinst configure ${version}`);
    await sh(`dpkg -i ${theDeb}`);
    await assertInstalled(root, version);
    assert.equal(
      (await root.run("test -e /usr/lib/iggy-edge.previous")).status,
      1,
      "a reinstall keeps no copy",
    );

    // Upgrade: the edited config stays (the new default goes beside it), the buffer stays, and the
    // version upgraded from stays runnable for iggy-edge-rollback.
    await sh("echo '# edited on the device' >> /etc/iggy-edge/config.yaml");
    const next = `${version}+next1`;
    const nextPkg = await nextDeb(sh, theDeb, next);
    await sh(`dpkg -i --force-confdef --force-confold ${nextPkg}`);
    await assertInstalled(root, next);
    assert.match(await sh("cat /etc/iggy-edge/config.yaml"), /# edited on the device/);
    assert.match(await sh("cat /etc/iggy-edge/config.yaml.dpkg-dist"), /a new default of the next release/);
    assert.deepEqual(await modes(root, [buffer]), [`${buffer} iggy-edge:iggy-edge 640`]);
    assert.equal((await sh("cat /usr/lib/iggy-edge.previous/VERSION")).trim(), version);
    assert.equal((await sh("/usr/lib/iggy-edge.previous/bin/iggy-edge --version")).trim(), version);
    assert.match(
      await sh("iggy-edge-rollback --status"),
      new RegExp(`installed version, ${next.replace("+", "\\+")}`),
    );
    await runAsService(t, root);

    // A rollback to a version that understands only buffer format 1 (a package from before format 2
    // has no BUFFER_FORMAT; the copy kept here is this version, so removing the file stands in for
    // one): the installed version rewrites the buffer into format 1, as the service user, before the
    // drop-in; the previous version then runs on it with every reading. (No systemd here: the
    // script stops and restarts nothing.) A real format 1 version is not built by the test suite.
    assert.equal((await sh("cat /usr/lib/iggy-edge/BUFFER_FORMAT")).trim(), "2");
    // A file, not --eval: the buffer's worker thread would inherit --input-type.
    await sh(
      [
        "cat >/tmp/append.mjs <<'JS'",
        'const { openBuffer } = await import("/usr/lib/iggy-edge/app/dist/buffer/index.js");',
        'const b = await openBuffer({ dir: "/var/lib/iggy-edge/data/buffer", create: false });',
        'await b.append(Array.from({ length: 30 }, (_, i) => ({ device: "d", point: "p", ts: 1.7e12 + i, value: i, quality: "good" })));',
        "await b.close();",
        "JS",
        `${AS_SERVICE} /usr/lib/iggy-edge/node/bin/node /tmp/append.mjs`,
      ].join("\n"),
    );
    await sh("rm /usr/lib/iggy-edge.previous/BUFFER_FORMAT");
    const userVersion = async () =>
      (await sh(`od -An -tu1 -j60 -N4 ${buffer}`)).trim().split(/\s+/).join(" ");
    // SQLite keeps user_version at offset 60 of the file (big-endian).
    assert.equal(await userVersion(), "0 0 0 2");
    // A config neither version loads: no downgrade, the rollback stops, the buffer is as it was.
    await sh(
      "cp /etc/iggy-edge/config.yaml /tmp/config.yaml && echo 'gateway: [' >> /etc/iggy-edge/config.yaml",
    );
    const failed = await root.run("iggy-edge-rollback");
    assert.equal(failed.status, 1, failed.stdout + failed.stderr);
    assert.match(failed.stderr, /could not be rewritten into format 1 .* the rollback stopped/);
    assert.equal(
      (await root.run("test -e /etc/systemd/system/iggy-edge.service.d/zz-rollback.conf")).status,
      1,
    );
    assert.equal(await userVersion(), "0 0 0 2");
    await sh("cp /tmp/config.yaml /etc/iggy-edge/config.yaml");
    const rolled = await sh("iggy-edge-rollback 2>&1");
    assert.match(rolled, /understands buffer format 1, .* format 2: rewriting the buffer into format 1/);
    assert.match(rolled, /buffer format 2 -> 1, 30 readings rewritten/);
    assert.equal(await userVersion(), "0 0 0 1");
    assert.doesNotMatch(
      await sh("ls /var/lib/iggy-edge/data/buffer"),
      /-wal|-shm|-journal/,
      "no journal left",
    );
    assert.deepEqual(await modes(root, [buffer]), [`${buffer} iggy-edge:iggy-edge 640`]);
    assert.match(await sh("iggy-edge-rollback --status"), /^rolled back: the service runs /);
    await runAsService(t, root, "/usr/lib/iggy-edge.previous/bin/iggy-edge");
    const stats = JSON.parse(
      await sh(
        `${AS_SERVICE} /usr/lib/iggy-edge.previous/bin/iggy-edge buffer stats --json -c /etc/iggy-edge/config.yaml`,
      ),
    ) as { readings: number };
    assert.equal(stats.readings, 30, "every reading still there");
    assert.match(await sh("iggy-edge-rollback --undo 2>&1"), /runs the installed version/);
    assert.equal((await root.run("test -e /etc/systemd/system/iggy-edge.service.d")).status, 1);

    // remove: the program goes, the config, the buffer and the user stay.
    await sh("dpkg -r iggy-edge");
    assert.match(await sh("dpkg -s iggy-edge | grep '^Status'"), /deinstall ok config-files/);
    for (const gone of [
      "/usr/lib/iggy-edge",
      "/usr/lib/iggy-edge.previous",
      "/usr/bin/iggy-edge",
      "/lib/systemd/system/iggy-edge.service",
    ])
      assert.equal((await root.run(`test -e ${gone}`)).status, 1, `${gone} removed`);
    assert.match(await sh("cat /etc/iggy-edge/config.yaml"), /# edited on the device/);
    assert.deepEqual(await modes(root, [buffer]), [`${buffer} iggy-edge:iggy-edge 640`]);
    await sh("getent passwd iggy-edge");

    // purge: config, buffer, user and the enabling link go too.
    await sh("dpkg -P iggy-edge");
    for (const gone of [
      "/etc/iggy-edge",
      "/var/lib/iggy-edge",
      "/etc/systemd/system/multi-user.target.wants/iggy-edge.service",
    ])
      assert.equal((await root.run(`test -e ${gone} || test -L ${gone}`)).status, 1, `${gone} purged`);
    assert.equal((await root.run("getent passwd iggy-edge")).status, 2, "the user is gone");
    assert.equal((await root.run("getent group iggy-edge")).status, 2, "the group is gone");

    // And a new install after a purge starts from scratch.
    await sh(`dpkg -i ${theDeb}`);
    await assertInstalled(root, version);
    assert.doesNotMatch(await sh("cat /etc/iggy-edge/config.yaml"), /edited/);

    // The tarball's install.sh will not install over the Debian package.
    const tarball = builtPackage("tar.gz");
    if (existsSync(tarball)) {
      const name = tarball
        .split("/")
        .pop()!
        .replace(/\.tar\.gz$/, "");
      const r = await root.run(
        `mkdir -p /tmp/t && tar -C /tmp/t -xzf ${PKG}/${name}.tar.gz && /tmp/t/${name}/install.sh`,
        [{ host: packageDir(t, [tarball]), inside: PKG }],
      );
      assert.equal(r.status, 1);
      assert.match(r.stderr, /installed as a Debian package here; use dpkg\/apt/);
    }
  },
);

test(
  "the tarball's install.sh in a throwaway Debian root: install, again, upgrade, uninstall, purge",
  { timeout: 1_800_000 },
  async (t) => {
    const tarball = builtPackage("tar.gz");
    if (
      !requirePeer(
        t,
        `the tarball ${tarball}`,
        existsSync(tarball),
        "bash scripts/package-deb.sh --arch amd64",
      )
    )
      return;
    if (!requireThrowawayRoot(t)) return;
    const root = new ThrowawayRoot(t);
    const pkgs = [{ host: packageDir(t, [tarball]), inside: PKG }];
    const sh = (s: string): Promise<string> => root.sh(s, pkgs);
    const name = tarball
      .split("/")
      .pop()!
      .replace(/\.tar\.gz$/, "");
    await sh(`mkdir -p /tmp/a && tar -C /tmp/a -xzf ${PKG}/${name}.tar.gz`);
    const version = (await sh(`cat /tmp/a/${name}/root/usr/lib/iggy-edge/VERSION`)).trim();

    assert.match(await sh(`/tmp/a/${name}/install.sh`), /installed and enabled; systemd is not running here/);
    await assertInstalled(root, version);
    await runAsService(t, root);
    await sh(`/tmp/a/${name}/install.sh`);
    await assertInstalled(root, version);
    assert.equal(
      (await root.run("test -e /usr/lib/iggy-edge.previous")).status,
      1,
      "a reinstall keeps no copy",
    );

    // A later version: edited config kept (the new default beside it), buffer kept, previous runnable.
    await sh("echo '# edited on the device' >> /etc/iggy-edge/config.yaml");
    const next = `${version}+next1`;
    await sh(
      [
        `mkdir -p /tmp/b && tar -C /tmp/b -xzf ${PKG}/${name}.tar.gz`,
        `echo ${next} > /tmp/b/${name}/root/usr/lib/iggy-edge/VERSION`,
        `sed -i 's/"version": *"[^"]*"/"version": "${next}"/' /tmp/b/${name}/root/usr/lib/iggy-edge/app/package.json`,
        `echo '# a new default' >> /tmp/b/${name}/root/etc/iggy-edge/config.yaml`,
      ].join(" && "),
    );
    assert.match(await sh(`/tmp/b/${name}/install.sh`), /kept your \/etc\/iggy-edge\/config.yaml/);
    await assertInstalled(root, next);
    assert.match(await sh("cat /etc/iggy-edge/config.yaml"), /# edited on the device/);
    assert.match(await sh("cat /etc/iggy-edge/config.yaml.dist"), /# a new default/);
    const buffer = "/var/lib/iggy-edge/data/buffer/buffer.db";
    assert.deepEqual(await modes(root, [buffer]), [`${buffer} iggy-edge:iggy-edge 640`]);
    assert.equal((await sh("/usr/lib/iggy-edge.previous/bin/iggy-edge --version")).trim(), version);

    await sh(`/tmp/b/${name}/install.sh --uninstall`);
    for (const gone of [
      "/usr/lib/iggy-edge",
      "/usr/lib/iggy-edge.previous",
      "/usr/bin/iggy-edge",
      "/lib/systemd/system/iggy-edge.service",
    ])
      assert.equal((await root.run(`test -e ${gone}`)).status, 1, `${gone} removed`);
    assert.match(await sh("cat /etc/iggy-edge/config.yaml"), /# edited on the device/);
    assert.deepEqual(await modes(root, [buffer]), [`${buffer} iggy-edge:iggy-edge 640`]);
    await sh(`/tmp/b/${name}/install.sh --uninstall`);

    await sh(`/tmp/b/${name}/install.sh --uninstall --purge`);
    for (const gone of [
      "/etc/iggy-edge",
      "/var/lib/iggy-edge",
      "/etc/systemd/system/multi-user.target.wants/iggy-edge.service",
    ])
      assert.equal((await root.run(`test -e ${gone} || test -L ${gone}`)).status, 1, `${gone} purged`);
    assert.equal((await root.run("getent passwd iggy-edge")).status, 2, "the user is gone");
  },
);
