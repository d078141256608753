#!/usr/bin/env bash
# Regenerates gateway/codecs/generated/ from gateway/codecs/reading-batch.fbs with flatc
# (Debian: apt-get install flatbuffers-compiler), then makes the imports ESM-friendly (explicit .js).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v flatc >/dev/null || { echo "flatc not found: apt-get install flatbuffers-compiler" >&2; exit 1; }
out=gateway/codecs/generated
rm -rf "$out"
flatc --ts --ts-no-import-ext -o "$out" gateway/codecs/reading-batch.fbs 2>/dev/null || flatc --ts -o "$out" gateway/codecs/reading-batch.fbs
find "$out" -name '*.ts' -print0 | xargs -0 sed -i -E "s#from '(\.{1,2}/[^']+)'#from '\1.js'#g; s#\.js\.js'#.js'#g"
echo "generated $(find "$out" -name '*.ts' | wc -l) files in $out with $(flatc --version)"
