#!/usr/bin/env bash
# Mutation testing (Stryker) of the projects where a silent bug corrupts results or security:
#   scripts/mutate.sh [project…]     e.g. scripts/mutate.sh libs/registry libs/zo
# With no argument, every project that has a stryker.config.mjs, one after the other (slow: hours).
# Not part of `npm test`. Each run writes reports/mutation/<name>.json (kept out of git) and the
# summary docs/results/mutation/<name>.md (committed); docs/mutation.md describes the habit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# the tests need the data dir; resolve it as tests/data-setup.ts does, but from the workspace root
# (inside Stryker's sandbox, ./data and ../shared/data would point elsewhere)
if [ -z "${ZOTUNE_DATA:-}" ]; then
  if [ -d "$root/data" ]; then export ZOTUNE_DATA="$root/data"
  elif [ -d "$root/../shared/data" ]; then export ZOTUNE_DATA="$(cd "$root/../shared/data" && pwd)"
  fi
fi

if [ "$#" -eq 0 ]; then
  set -- $(ls -d libs/*/stryker.config.mjs apps/*/stryker.config.mjs 2>/dev/null | xargs -n1 dirname)
fi
mkdir -p reports/mutation docs/results/mutation
for project in "$@"; do
  project="${project%/}"
  [ -f "$project/stryker.config.mjs" ] || { echo "mutate.sh: $project has no stryker.config.mjs" >&2; exit 2; }
  name="$(basename "$project")"
  echo "mutate.sh: $project (log: reports/mutation/$name.log)"
  # STRYKER_ARGS=--force: a full run despite the incremental file (see docs/mutation.md)
  npx stryker run "$project/stryker.config.mjs" ${STRYKER_ARGS:-} 2>&1 | tee "reports/mutation/$name.log"
  # the previous summary's hand-written "## Survivors judged …" section is carried over
  summary="docs/results/mutation/$name.md"
  node tools/mutation-summary.mjs "reports/mutation/$name.json" "$project" "$summary" > "$summary.tmp"
  mv "$summary.tmp" "$summary"
  echo "mutate.sh: wrote docs/results/mutation/$name.md"
done
