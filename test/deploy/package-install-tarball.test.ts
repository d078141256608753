// The tarball for this machine's architecture: its install.sh in a throwaway Debian root without a
// running systemd installs (user, folders, unit enabled), runs again without harm, upgrades keeping
// an edited config and the buffer and the previous version runnable, uninstalls keeping data, purges.
// A file of its own so that each package kind has the per-file time limit of `npm test` to itself.
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
  modes,
  assertInstalled,
  runAsService,
  packageDir,
  assertNoPreviousCopy,
  assertRemovedKeepingData,
} from "./installed-package.js";

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
    await assertNoPreviousCopy(root);

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
    await assertRemovedKeepingData(root, buffer);
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
