#!/usr/bin/env bash
# The test command of the README: installs the build and the real test peers, builds the arm64
# package, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --peers
# The arm64 .deb that test/deploy/package-arm64.test.ts runs under qemu (about 5 minutes).
bash scripts/package-deb.sh
npm test
