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
z bench forward --model stories260K --batch 16 --seq 64 --engine tfjs --json --out "$out/forward-stories260K.json" > /dev/null
z bench forward --shape stories15M --batch 16 --seq 64 --engine tfjs --json --out "$out/forward-stories15M.json" > /dev/null
z bench step --model stories260K --task sst2 --batch 16 --engine tfjs --json --out "$out/step-stories260K.json" > /dev/null
# engine ort (ONNX Runtime, --threads = cores); --peer: the PyTorch + transformers MeZO peer on the same
# weights and batch, interleaved, at 1 and 2 threads (needs the project venv: bash scripts/python/venv.sh)
z bench forward --model stories260K --batch 16 --seq 64 --engine ort --json --out "$out/forward-stories260K-ort.json" > /dev/null
z bench forward --shape stories15M --batch 16 --seq 64 --engine ort --json --out "$out/forward-stories15M-ort.json" > /dev/null
z bench step --model stories260K --task sst2 --batch 16 --engine ort --estimator mezo,guided --policy none --json --out "$out/step-stories260K-ort.json" > /dev/null
z bench step --model stories260K --task sst2 --batch 16 --engine ort --peer --steps 10 --json --out "$out/step-stories260K-peer.json" > /dev/null
z bench step --shape stories15M --task sst2 --batch 16 --engine ort --estimator mezo --policy none --steps 5 --peer --json --out "$out/step-stories15M-ort.json" > /dev/null
z bench step --shape stories15M --task sst2 --batch 16 --engine tfjs --estimator mezo --policy none --steps 5 --json --out "$out/step-stories15M.json" > /dev/null
# the model families at the stories15M dimensions (random weights), one thread, both engines
mkdir -p "$out/families"
for e in ort tfjs; do for s in stories15M qwen2-15M opt-15M gpt2-15M; do
  z bench forward --shape "$s" --engine "$e" --threads 1 --batch 8 --seq 64 --repeat 5 --json --out "$out/families/forward-$s-$e.json" > /dev/null
done; done
z bench memory --model stories260K --task sst2 --batch 16 --json --out "$out/memory-stories260K.json" > /dev/null
node --conditions=@zotune/source --import tsx scripts/bench-start.ts --out "$out/cli-start.json" > /dev/null
echo "wrote $out/"
