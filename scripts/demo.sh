#!/usr/bin/env bash
# The demo command of the README: installs and builds, then runs the demo (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/scripts/demo.js "$@"
