#!/usr/bin/env bash
# Mutation testing (Stryker) of the projects where a silent bug corrupts results or security:
#   scripts/mutate.sh [project|config…]   e.g. scripts/mutate.sh libs/registry libs/zo
# A project runs its stryker.config.mjs; a config file names another part of a project, e.g.
# libs/tensor/stryker.noise.config.mjs (its reports are <project>-<part>: tensor-noise).
# With no argument, every stryker.config.mjs and stryker.*.config.mjs, one after the other (slow: hours).
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
  set -- $(ls -d {libs,apps}/*/stryker.config.mjs {libs,apps}/*/stryker.*.config.mjs 2>/dev/null)
fi
mkdir -p reports/mutation docs/results/mutation
for arg in "$@"; do
  arg="${arg%/}"
  case "$arg" in
    *.config.mjs) config="$arg"; project="$(dirname "$arg")" ;;
    *) config="$arg/stryker.config.mjs"; project="$arg" ;;
  esac
  [ -f "$config" ] || { echo "mutate.sh: no $config" >&2; exit 2; }
  # stryker.config.mjs → <project>; stryker.<part>.config.mjs → <project>-<part> (strykerConfig's name)
  part="$(basename "$config" .config.mjs)"; part="${part#stryker}"; part="${part#.}"
  name="$(basename "$project")${part:+-$part}"
  echo "mutate.sh: $config (log: reports/mutation/$name.log)"
  # STRYKER_ARGS=--force: a full run despite the incremental file (see docs/mutation.md)
  npx stryker run "$config" ${STRYKER_ARGS:-} 2>&1 | tee "reports/mutation/$name.log"
  # the previous summary's hand-written "## Survivors judged …" section is carried over
  summary="docs/results/mutation/$name.md"
  [ -f "reports/mutation/$name.json" ] || { echo "mutate.sh: $config wrote no reports/mutation/$name.json (its strykerConfig name must be $name)" >&2; exit 1; }
  node tools/mutation-summary.mjs "reports/mutation/$name.json" "$arg" "$summary" > "$summary.tmp"
  mv "$summary.tmp" "$summary"
  echo "mutate.sh: wrote docs/results/mutation/$name.md"
done
