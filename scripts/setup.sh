#!/usr/bin/env bash
# Installs everything iggy-edge needs to build, run its demo and run its tests:
# npm packages (npm ci), the build (dist/), and with --peers the real test peers
# (Debian packages in scripts/peers/apt.txt, PyPI packages in scripts/peers/requirements.txt into .venv,
# requirements-iggy09.txt and requirements-iggy010.txt into .venv-iggy09 and .venv-iggy010, Rust
# peers in scripts/peers/cargo.txt,
# a first start of Apache Iggy's server from the shared peers folder).
set -euo pipefail
cd "$(dirname "$0")/.."

peers=0
for arg in "$@"; do
  case "$arg" in
    --peers) peers=1 ;;
    *) echo "usage: scripts/setup.sh [--peers]" >&2; exit 2 ;;
  esac
done

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "iggy-edge needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# better-sqlite3 is a native addon. Where no prebuilt binary can be downloaded, node-gyp builds it
# against the running Node's own headers, if that Node ships them.
node_prefix=$(node -p 'require("path").resolve(process.execPath, "../..")')
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ "$peers" -eq 1 ]; then
  mapfile -t apt_pkgs < <(grep -v -E '^\s*(#|$)' scripts/peers/apt.txt || true)
  missing=()
  for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  # Apache Iggy's server 0.8 is not built here: the tests run it from a shared peers folder
  # (test/helpers/iggy-server.ts looks in the same places). Starting it once here unpacks it into its
  # cache before tests start it in parallel, and shows at once when it cannot run on this machine.
  iggy_peers=${IGGY_EDGE_IGGY_PEERS:-}
  if [ -z "$iggy_peers" ]; then
    d=$(dirname "$PWD")
    while :; do
      [ -f "$d/shared/peers/run-iggy-server.sh" ] && { iggy_peers=$d/shared/peers; break; }
      [ "$d" = / ] && { iggy_peers=/work/shared/peers; break; }
      d=$(dirname "$d")
    done
  fi
  if [ -f "$iggy_peers/run-iggy-server.sh" ]; then
    iggy_tmp=$(mktemp -d)
    bash "$iggy_peers/run-iggy-server.sh" 0 "$iggy_tmp/data" >"$iggy_tmp/log" 2>&1 &
    iggy_pid=$!
    for _ in $(seq 1200); do
      grep -q 'TCP server has started on' "$iggy_tmp/log" && break
      kill -0 "$iggy_pid" 2>/dev/null || break
      sleep 0.1
    done
    if grep -q 'TCP server has started on' "$iggy_tmp/log"; then
      echo "setup: Apache Iggy server 0.8 runs (from $iggy_peers)"
    else
      echo "setup: warning: the Iggy server in $iggy_peers did not start; the real-server tests will fail or skip:" >&2
      tail -n 5 "$iggy_tmp/log" >&2
    fi
    kill "$iggy_pid" 2>/dev/null || true
    wait "$iggy_pid" 2>/dev/null || true
    rm -rf "$iggy_tmp"
  else
    echo "setup: warning: no Apache Iggy server peers folder (run-iggy-server.sh) in $iggy_peers; set IGGY_EDGE_IGGY_PEERS" >&2
  fi
  # The throwaway Debian roots the package tests install into (once per machine, in ~/.cache/iggy-edge).
  if [ "$(id -u)" -eq 0 ]; then
    bash scripts/make-chroot.sh >/dev/null && bash scripts/make-chroot.sh --with-systemd >/dev/null ||
      echo "setup: warning: scripts/make-chroot.sh failed; the package install tests will fail or skip" >&2
  else
    echo "setup: not root: no throwaway Debian roots (scripts/make-chroot.sh); the package install tests will skip" >&2
  fi
  if grep -q -v -E '^\s*(#|$)' scripts/peers/requirements.txt; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    echo "setup: installing PyPI packages into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/peers/requirements.txt
  fi
  # Rust peers build once per machine (a few minutes each) into a cache outside the clone.
  peers_dir="${IGGY_EDGE_PEERS_DIR:-$HOME/.cache/iggy-edge/peers}"
  while read -r crate version; do
    dest="$peers_dir/$crate-$version"
    [ -d "$dest/bin" ] && [ -n "$(ls -A "$dest/bin" 2>/dev/null)" ] && continue
    command -v cargo >/dev/null || { echo "setup: cargo is needed to build the test peer $crate $version (install Rust)" >&2; exit 1; }
    echo "setup: building test peer $crate $version with cargo (once per machine, a few minutes)"
    nice cargo install --quiet "$crate" --version "$version" --locked --root "$dest"
  done < <(grep -v -E '^\s*(#|$)' scripts/peers/cargo.txt)
  # The 0.9.0 Python SDK (binary protocol 0.11) conflicts with the 0.8 one above: its own venv.
  [ -x .venv-iggy09/bin/python ] || python3 -m venv .venv-iggy09
  echo "setup: installing PyPI packages into .venv-iggy09"
  .venv-iggy09/bin/python -m pip install -q --disable-pip-version-check -r scripts/peers/requirements-iggy09.txt
  # The 0.10-line Python SDK conflicts with the 0.8 one above, so it gets its own venv.
  [ -x .venv-iggy010/bin/python ] || python3 -m venv .venv-iggy010
  echo "setup: installing PyPI packages into .venv-iggy010"
  .venv-iggy010/bin/python -m pip install -q --disable-pip-version-check -r scripts/peers/requirements-iggy010.txt ||
    echo "setup: warning: apache-iggy 0.10.x did not install; the Python 0.10 conformance test will be skipped" >&2
fi

# npm ci starts from scratch (and compiles better-sqlite3 again, minutes on a Pi): only when the
# lockfile or Node changed since the last install.
stamp=node_modules/.iggy-edge-install
want="$(sha256sum package-lock.json | cut -d' ' -f1) $(node --version)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
else
  echo "setup: npm packages are installed (package-lock.json and Node unchanged)"
fi
npm run build --silent
echo "setup: done"
