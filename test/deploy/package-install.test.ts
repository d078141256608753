// The package for this machine's architecture (scripts/package-deb.sh --arch amd64 on x86), installed
// into a throwaway Debian root without a running systemd: install makes the user, folders and
// owners and enables the unit; the installed gateway runs as that user to READY; an upgrade keeps an
// edited config and the buffer and keeps the previous version runnable, and a rollback to a version
// that knows only buffer format 1 downgrades the buffer first (or stops); remove keeps data; purge
// removes it; every maintainer script runs again without harm (the tarball: package-install-tarball.test.ts).
//
// Needs the package built (scripts/test.sh builds it) and the cached root of scripts/make-chroot.sh;
// without them the test is skipped saying so, and fails under CI=true.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { requirePeer } from "../helpers/peers.js";
import { builtPackage, requireThrowawayRoot, ThrowawayRoot } from "./throwaway-root.js";
import {
  PKG,
  AS_SERVICE,
  modes,
  assertInstalled,
  assertNoPreviousCopy,
  assertRemovedKeepingData,
  runAsService,
  nextDeb,
  packageDir,
} from "./installed-package.js";

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
    await assertNoPreviousCopy(root);

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
    await assertRemovedKeepingData(root, buffer);
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
