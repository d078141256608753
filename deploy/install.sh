#!/bin/sh
# Installs iggy-edge from its tarball on a device without dpkg: the same files as the .deb, the
# same user, folders, owners and service. Run it as root from the unpacked tarball. Every step can
# run again; an upgrade keeps the config, the buffer and the previous version (iggy-edge-rollback).
#
#   ./install.sh                      install or upgrade, enable and (re)start the service
#   ./install.sh --uninstall          remove the program; keep config, buffer and user
#   ./install.sh --uninstall --purge  remove config, buffer and the user too
set -eu
SRC=$(dirname "$(readlink -f "$0")")/root
LIB=/usr/lib/iggy-edge
PREV=/usr/lib/iggy-edge.previous
UNIT=/lib/systemd/system/iggy-edge.service
WANTS=/etc/systemd/system/multi-user.target.wants/iggy-edge.service
DROPIN_DIR=/etc/systemd/system/iggy-edge.service.d
systemd_running() { [ -d /run/systemd/system ]; }
say() { echo "install.sh: $*"; }

uninstall=0
purge=0
for arg in "$@"; do
  case "$arg" in
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    *) echo "usage: $0 [--uninstall [--purge]]" >&2; exit 2 ;;
  esac
done
[ "$purge" -eq 0 ] || [ "$uninstall" -eq 1 ] || { echo "$0: --purge goes with --uninstall" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "$0: run as root" >&2; exit 1; }
if command -v dpkg-query >/dev/null && dpkg-query -W -f '${Status}' iggy-edge 2>/dev/null | grep -q ' installed$'; then
  echo "$0: iggy-edge is installed as a Debian package here; use dpkg/apt instead" >&2
  exit 1
fi

if [ "$uninstall" -eq 1 ]; then
  if systemd_running; then
    systemctl disable --now iggy-edge.service 2>/dev/null || true
  fi
  rm -f "$WANTS" "$UNIT" /usr/bin/iggy-edge /usr/sbin/iggy-edge-rollback "$DROPIN_DIR/zz-rollback.conf"
  rmdir "$DROPIN_DIR" 2>/dev/null || true
  rm -rf "$LIB" "$PREV" /usr/share/doc/iggy-edge
  if [ "$purge" -eq 1 ]; then
    rm -rf /var/lib/iggy-edge /etc/iggy-edge
    if getent passwd iggy-edge >/dev/null; then userdel iggy-edge; fi
    if getent group iggy-edge >/dev/null; then groupdel iggy-edge; fi
    say "removed, with config, buffer and user"
  else
    say "removed; kept /etc/iggy-edge, /var/lib/iggy-edge (the buffer) and the user iggy-edge"
  fi
  if systemd_running; then systemctl daemon-reload; fi
  exit 0
fi

[ -x "$SRC$LIB/bin/iggy-edge" ] || { echo "$0: no $SRC$LIB: run the install.sh of an unpacked tarball" >&2; exit 1; }
NEW=$(cat "$SRC$LIB/VERSION")
OLD=
[ -f "$LIB/VERSION" ] && OLD=$(cat "$LIB/VERSION")

if ! getent passwd iggy-edge >/dev/null; then
  getent group iggy-edge >/dev/null || groupadd --system iggy-edge
  useradd --system --gid iggy-edge --home-dir /var/lib/iggy-edge --no-create-home \
    --shell /usr/sbin/nologin iggy-edge
fi
if getent group dialout >/dev/null; then usermod -a -G dialout iggy-edge; fi

if systemd_running; then systemctl stop iggy-edge.service 2>/dev/null || true; fi
if [ -n "$OLD" ] && [ "$OLD" != "$NEW" ]; then
  rm -rf "$PREV"
  mv "$LIB" "$PREV"
fi
rm -rf "$LIB.new"
cp -a "$SRC$LIB" "$LIB.new"
rm -rf "$LIB"
mv "$LIB.new" "$LIB"
mkdir -p /usr/bin /usr/sbin /lib/systemd/system /usr/share/doc/iggy-edge /etc/iggy-edge /var/lib/iggy-edge
ln -sfn ../lib/iggy-edge/bin/iggy-edge /usr/bin/iggy-edge
ln -sfn ../lib/iggy-edge/bin/iggy-edge-rollback /usr/sbin/iggy-edge-rollback
install -m 0644 "$SRC$UNIT" "$UNIT"
install -m 0644 "$SRC/usr/share/doc/iggy-edge/README.md" /usr/share/doc/iggy-edge/README.md
# An edited config stays; the shipped one goes beside it when it differs.
if [ ! -f /etc/iggy-edge/config.yaml ]; then
  install -m 0640 "$SRC/etc/iggy-edge/config.yaml" /etc/iggy-edge/config.yaml
elif ! cmp -s "$SRC/etc/iggy-edge/config.yaml" /etc/iggy-edge/config.yaml; then
  install -m 0640 "$SRC/etc/iggy-edge/config.yaml" /etc/iggy-edge/config.yaml.dist
  say "kept your /etc/iggy-edge/config.yaml; this version's default is config.yaml.dist beside it"
fi
chown iggy-edge:iggy-edge /var/lib/iggy-edge
chmod 0750 /var/lib/iggy-edge
chown root:iggy-edge /etc/iggy-edge /etc/iggy-edge/config.yaml
chmod 0750 /etc/iggy-edge
chmod 0640 /etc/iggy-edge/config.yaml

# Enabled: the link `systemctl enable` makes, made by hand so it works without a running systemd.
mkdir -p "$(dirname "$WANTS")"
ln -sfn "$UNIT" "$WANTS"
if systemd_running; then
  rm -f "$DROPIN_DIR/zz-rollback.conf"
  systemctl daemon-reload
  if ! systemctl restart iggy-edge.service; then
    echo "install.sh: iggy-edge $NEW did not start (journalctl -u iggy-edge)" >&2
    if [ -n "$OLD" ] && [ -x "$PREV/bin/iggy-edge" ]; then
      echo "install.sh: going back to $OLD" >&2
      "$LIB/bin/iggy-edge-rollback" || true
    fi
    exit 1
  fi
  say "iggy-edge $NEW runs (systemctl status iggy-edge)"
else
  say "iggy-edge $NEW installed and enabled; systemd is not running here, it starts at the next boot"
fi
