#!/usr/bin/env bash
# Builds, once per machine, the throwaway Debian root the package tests install into:
# a minimal Debian 12 (bookworm) for the host's architecture, made with debootstrap from the mirror
# apt uses here, cached in ~/.cache/iggy-edge/chroot-bookworm-ARCH (about 250 MB, 2-5 minutes).
# The tests never change it: each one mounts an overlay on it in a mount namespace of its own.
#
#   scripts/make-chroot.sh [--with-systemd]   -> prints the path of the root
#
# --with-systemd also installs systemd and dbus into it (test/deploy/systemd-container.test.ts boots it).
set -euo pipefail
ARCH=$(dpkg --print-architecture)
SUITE=bookworm
CACHE=${IGGY_EDGE_CHROOT_DIR:-$HOME/.cache/iggy-edge}
INCLUDE=adduser,init-system-helpers,libstdc++6,passwd
NAME=chroot-$SUITE-$ARCH
if [ "${1:-}" = --with-systemd ]; then
  NAME=$NAME-systemd
  INCLUDE=$INCLUDE,systemd,systemd-sysv,dbus
fi
ROOT=$CACHE/$NAME
if [ -f "$ROOT/.complete" ]; then echo "$ROOT"; exit 0; fi
[ "$(id -u)" -eq 0 ] || { echo "$0: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "$0: debootstrap not found (apt-get install debootstrap)" >&2; exit 1; }
# The mirror of the host's own apt sources (deb822 or one-line), else Debian's.
MIRROR=$(sed -n -E 's/^URIs: *(\S+\/debian)\/?$/\1/p; s/^deb +(\[[^]]*\] +)?(\S+\/debian)\/? +.*/\2/p' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1 || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
rm -rf "$ROOT.tmp"
mkdir -p "$CACHE"
echo "make-chroot: debootstrap $SUITE $ARCH from $MIRROR into $ROOT" >&2
debootstrap --variant=minbase --include="$INCLUDE" --arch="$ARCH" "$SUITE" "$ROOT.tmp" "$MIRROR" >"$CACHE/$NAME.log" 2>&1 ||
  { tail -n 20 "$CACHE/$NAME.log" >&2; exit 1; }
rm -rf "$ROOT.tmp"/var/cache/apt/archives/*.deb "$ROOT.tmp"/var/lib/apt/lists/*
touch "$ROOT.tmp/.complete"
rm -rf "$ROOT"
mv "$ROOT.tmp" "$ROOT"
echo "$ROOT"
