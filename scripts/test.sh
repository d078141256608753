#!/usr/bin/env bash
# The test command of the README: installs the build and the real test peers, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --peers
npm test
