#!/usr/bin/env bash
# The test command of the README: installs the build and the real test peers, builds the
# packages, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --peers
# The Pi packages that test/deploy/package-emulated.test.ts runs under qemu (about 5 minutes each),
# and the host's, which test/deploy/package-install.test.ts and systemd-container.test.ts install.
bash scripts/package-deb.sh --arch arm64
bash scripts/package-deb.sh --arch armhf
bash scripts/package-deb.sh --arch "$(dpkg --print-architecture)"
npm test
