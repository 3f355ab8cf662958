#!/usr/bin/env bash
# Full-parameter MeZO vs MeZO over LoRA (r 8, alpha 16, q_proj,v_proj) vs over prefixes (5 tokens):
# step time (also as forward passes of the same process), LoRA's merge cost, and the process's peak
# RSS, on stories260K and the 15M random shape, SST-2 batch 16, engine ort. One process per setting
# (each peak RSS is that setting's alone), REPEATS rounds of the three settings interleaved so that
# load from other work falls on each alike; the summary takes medians over the rounds.
# Writes bench/results/peft/<shape>-<setting>-<round>.json and bench/results/peft/summary.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export ZOTUNE_DATA="${ZOTUNE_DATA:-$(cd .. && pwd)/shared/data}"
REPEATS="${REPEATS:-3}"
# SETTINGS="prefix" reruns one setting's processes (the summary reads every setting's files)
SETTINGS="${SETTINGS:-none lora prefix}"
out=bench/results/peft
mkdir -p "$out"
z() { node apps/cli/bin/zotune.js "$@"; }
for round in $(seq 1 "$REPEATS"); do
  for peft in $SETTINGS; do
    z bench step --model stories260K --task sst2 --batch 16 --engine ort --estimator mezo --policy none --steps 20 --peft "$peft" --json --out "$out/stories260K-$peft-$round.json" > /dev/null
    z bench step --shape stories15M --task sst2 --batch 16 --engine ort --estimator mezo --policy none --steps 5 --peft "$peft" --json --out "$out/stories15M-$peft-$round.json" > /dev/null
  done
done
REPEATS="$REPEATS" OUT="$out" node -e '
const fs = require("fs");
const { OUT, REPEATS } = process.env;
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const summary = {};
for (const shape of ["stories260K", "stories15M"]) {
  const rounds = (p) => Array.from({ length: +REPEATS }, (_, i) => JSON.parse(fs.readFileSync(`${OUT}/${shape}-${p}-${i + 1}.json`, "utf8")));
  const rows = {};
  for (const p of ["none", "lora", "prefix"]) {
    const rs = rounds(p);
    rows[p] = {
      peft: rs[0].peft, parameters: rs[0].parameters,
      forwardMs: med(rs.map((r) => r.forwardMs)), stepMs: med(rs.map((r) => r.mezo.stepMs)),
      forwardsPerStep: med(rs.map((r) => r.mezo.forwardsPerStep)), peakRssMiB: med(rs.map((r) => r.peakRssMiB)),
      ...(rs[0].loraMergeMs !== undefined ? { loraMergeMs: med(rs.map((r) => r.loraMergeMs)), mergeForwards: med(rs.map((r) => r.loraMergeMs / r.forwardMs)) } : {}),
    };
  }
  for (const p of ["lora", "prefix"]) rows[p].stepVsFull = rows[p].stepMs / rows.none.stepMs;
  summary[shape] = rows;
  for (const r of Object.values(rows))
    console.log(`${shape} ${r.peft}: ${r.parameters} params, mezo step ${r.stepMs.toFixed(1)} ms = ${r.forwardsPerStep.toFixed(2)} forwards${r.stepVsFull ? ` (${r.stepVsFull.toFixed(2)}x full)` : ""}, peak RSS ${r.peakRssMiB.toFixed(0)} MiB${r.loraMergeMs !== undefined ? `, merge ${r.loraMergeMs.toFixed(2)} ms = ${r.mergeForwards.toFixed(3)} forwards` : ""}`);
}
fs.writeFileSync(`${OUT}/summary.json`, JSON.stringify({ repeats: +REPEATS, note: "medians over interleaved rounds; engine ort, SST-2 batch 16, MeZO", ...summary }, null, 2) + "\n");'
