#!/usr/bin/env bash
# The project's Python venv (transformers, torch, gguf: scripts/python/requirements.txt), made once
# and reused. Prints the venv's python on stdout as its last line; all progress goes to stderr.
#
#   PY=$(scripts/python/venv.sh) && "$PY" scripts/fixtures/make-smollm2-ref.py ...
#   scripts/python/venv.sh --check    # the same python if the venv is ready, else one line and exit 1
#                                     # (never installs: what `zotune bench step --peer` asks)
#
# Where: $ZOTUNE_VENV if set, else ${XDG_CACHE_HOME:-~/.cache}/zotune/venv-<first 12 hex of the
# sha256 of requirements.txt>, so a changed requirements file gets a new venv. Idempotent: the stamp
# file .zotune-venv-ok (holding the requirements' sha256) is written only after pip succeeded; a venv
# without it (an interrupted install) is completed by running pip again, and one whose stamp names
# other requirements (possible only with ZOTUNE_VENV) is brought up to date the same way.
# Concurrent callers wait for each other on a lock file beside the venv (flock, when present).
# Needs python3 with the venv module and PyPI (or pip's own PIP_INDEX_URL); any failure ends with one
# line on stderr saying what is missing, and a non-zero exit.
set -euo pipefail

die() {
  echo "venv.sh: $*" >&2
  exit 1
}

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) die "unknown argument \"$1\"; expected none (make the venv) or --check (only report it)" ;;
esac

src="${BASH_SOURCE[0]}"
[[ "$src" == */* ]] || src="./$src"
here="$(cd "${src%/*}" && pwd)"
req="$here/requirements.txt"
[[ -f "$req" ]] || die "$req: not found; expected the pinned requirements beside this script"
command -v python3 >/dev/null 2>&1 || die "python3: not found on PATH; install Python 3 (3.11 is what requirements.txt was resolved on) with its venv module"
for tool in sha256sum cut mkdir cat mv rm; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool: not found on PATH; expected coreutils"
done

sum="$(sha256sum "$req" | cut -c1-64)"
venv="${ZOTUNE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/zotune/venv-${sum:0:12}}"
stamp="$venv/.zotune-venv-ok"
py="$venv/bin/python"

ready() { [[ -x "$py" && -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; }

if ready; then
  echo "venv.sh: $venv is ready" >&2
  echo "$py"
  exit 0
fi
((check)) && die "$venv is not made (or not complete); make it with: bash scripts/python/venv.sh (about 5.6 GB), or set ZOTUNE_PYTHON to a python with its packages"

mkdir -p "$(dirname "$venv")" || die "$(dirname "$venv"): cannot create the venv's parent directory"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$venv.lock" || die "$venv.lock: cannot create the lock file"
  flock 9
  # another caller may have finished it while we waited
  if ready; then
    echo "venv.sh: $venv is ready" >&2
    echo "$py"
    exit 0
  fi
fi

python3 -c 'import venv, ensurepip' 2>/dev/null ||
  die "python3 ($(command -v python3)) lacks the venv/ensurepip modules; install them (Debian/Ubuntu: apt-get install python3-venv)"

rm -f "$stamp"
if [[ ! -x "$py" ]]; then
  echo "venv.sh: creating $venv with $(python3 --version 2>&1)" >&2
  python3 -m venv "$venv" >&2 || die "python3 -m venv $venv failed (see above); on Debian/Ubuntu install python3-venv"
fi
"$py" -m pip --version >/dev/null 2>&1 || die "$py -m pip: pip is missing from the venv; remove $venv and run again"

echo "venv.sh: installing $req into $venv (about 5.6 GB with torch's CUDA runtime wheels)" >&2
# pip's stdout is progress too: stdout carries only the python path
if ! "$py" -m pip install --disable-pip-version-check --retries 2 --timeout 30 -r "$req" 1>&2; then
  die "pip install -r $req failed (see pip's output above): is the package registry (PyPI, or PIP_INDEX_URL) reachable?"
fi

# the stamp is the last thing written, atomically: it exists only for a complete install
printf '%s\n' "$sum" >"$stamp.tmp.$$"
mv -f "$stamp.tmp.$$" "$stamp"
echo "venv.sh: $venv is ready" >&2
echo "$py"
