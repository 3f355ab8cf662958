#!/usr/bin/env bash
# Sweep throughput and coordination overhead (issue 11): the same sweep (configs/sweeps/bench.json,
# 4 short runs) run locally with 1 and 2 workers, and through Redis with 2
# `zotune worker` processes; runs/hour of each, the 2-worker speedup, and the coordination overhead
# per run as a share of a run's own time. Starts its own redis-server (Debian package) on a free
# loopback port. Writes every `--json` result and the summary to OUT (default bench/results/sweep.json).
#   scripts/sweep-bench.sh [OUT] [SPEC]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench/results/sweep.json}"
spec="${2:-configs/sweeps/bench.json}"
: "${ZOTUNE_DATA:=../shared/data}"
export ZOTUNE_DATA
zotune=(node apps/cli/bin/zotune.js)
tmp=$(mktemp -d)
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
password=$(node -e "console.log(require('crypto').randomBytes(16).toString('hex'))")
redis-server --port "$port" --bind 127.0.0.1 --requirepass "$password" --save '' --appendonly no --dir "$tmp" \
  --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
trap 'kill "$(cat "$tmp/redis.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [ -s "$tmp/redis.pid" ] && break; sleep 0.1; done
url="redis://:$password@127.0.0.1:$port"

"${zotune[@]}" sweep "$spec" --out "$tmp/local1" --workers 1 --json > "$tmp/local1.json"
"${zotune[@]}" sweep "$spec" --out "$tmp/local2" --workers 2 --json > "$tmp/local2.json"
"${zotune[@]}" worker --queue "$url" --work "$tmp/w1" --until-empty --json > "$tmp/w1.json" 2> "$tmp/w1.log" &
"${zotune[@]}" worker --queue "$url" --work "$tmp/w2" --until-empty --json > "$tmp/w2.json" 2> "$tmp/w2.log" &
"${zotune[@]}" sweep "$spec" --out "$tmp/queue" --queue "$url" --json > "$tmp/queue.json"
wait

node - "$tmp" "$out" "$spec" <<'JS'
const fs = require('fs');
const [tmp, out, spec] = process.argv.slice(2);
const read = (f) => JSON.parse(fs.readFileSync(`${tmp}/${f}.json`, 'utf8').trim().split('\n').at(-1));
const l1 = read('local1'), l2 = read('local2'), q = read('queue');
const runSeconds = l1.childSeconds / l1.done; // a run's own time (one at a time: no contention between runs)
// the same runs at 1,000 forward passes: their time plus the extra steps at their measured s/step
const results = fs.readdirSync(`${tmp}/local1/results`).map((f) => JSON.parse(fs.readFileSync(`${tmp}/local1/results/${f}`, 'utf8')));
const run1000Seconds = results.reduce((a, r) => a + r.childSeconds + r.summary.steps * (1000 / r.summary.forwardPasses - 1) * r.summary.secondsPerStep, 0) / results.length;
const perRun = (r, slots) => Math.max(0, r.seconds * slots - r.childSeconds) / r.done;
const result = {
  spec, runs: l1.runs, date: new Date().toISOString(),
  runsPerHour: { local1: l1.runsPerHour, local2: l2.runsPerHour, queue2: q.runsPerHour },
  speedup: { local2VsLocal1: l2.runsPerHour / l1.runsPerHour, queue2VsLocal1: q.runsPerHour / l1.runsPerHour, queue2VsLocal2: q.runsPerHour / l2.runsPerHour },
  runSecondsAlone: runSeconds,
  run1000SecondsEstimate: run1000Seconds,
  // slot time not spent in a finetune process, per run (includes the idle tail of the last runs)
  overheadPerRunSeconds: { local1: perRun(l1, 1), local2: perRun(l2, 2), queue2: perRun(q, 2) },
  overheadShareOfRun: { local1: perRun(l1, 1) / runSeconds, local2: perRun(l2, 2) / runSeconds, queue2: perRun(q, 2) / runSeconds },
  overheadShareOf1000Run: { local1: perRun(l1, 1) / run1000Seconds, local2: perRun(l2, 2) / run1000Seconds, queue2: perRun(q, 2) / run1000Seconds },
  // the worker's own work per job (validate, write the policy, read and encode the results), without any waiting
  workerOverheadPerRunSeconds: q.workerOverheadPerRunSeconds,
  workerOverheadShareOfRun: q.workerOverheadPerRunSeconds / runSeconds,
  workerOverheadShareOf1000Run: q.workerOverheadPerRunSeconds / run1000Seconds,
  raw: { local1: l1, local2: l2, queue: q },
};
fs.mkdirSync(require('path').dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
const { raw, ...shown } = result;
console.log(JSON.stringify(shown, null, 2));
JS
