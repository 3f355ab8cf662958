#!/usr/bin/env bash
# Run every benchmark and write its JSON to bench/results/ (the figures quoted in the README).
# Run it on a quiet machine: the numbers are wall-clock times on one core.
set -euo pipefail
cd "$(dirname "$0")/.."
export ZOTUNE_DATA="${ZOTUNE_DATA:-$(cd .. && pwd)/shared/data}"
out=bench/results
mkdir -p "$out"
z() { node apps/cli/bin/zotune.js "$@"; }
z bench noise --json --out "$out/noise.json" > /dev/null
z bench forward --model stories260K --batch 16 --seq 64 --json --out "$out/forward-stories260K.json" > /dev/null
z bench forward --shape stories15M --batch 16 --seq 64 --json --out "$out/forward-stories15M.json" > /dev/null
z bench step --model stories260K --task sst2 --batch 16 --json --out "$out/step-stories260K.json" > /dev/null
z bench memory --model stories260K --task sst2 --batch 16 --json --out "$out/memory-stories260K.json" > /dev/null
node --conditions=@zotune/source --import tsx scripts/bench-start.ts --out "$out/cli-start.json" > /dev/null
echo "wrote $out/"
