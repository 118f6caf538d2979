#!/usr/bin/env bash
# Refresh constraints.txt, the exact dependency set the README commands and CI install (`pip install -c`):
# resolves the newest releases pyproject.toml admits in a fresh venv and freezes them. Then run `bash .ci/run`, and
# if torch or transformers moved, set LOCKED in vleval/engine/tested.py (tests/engine/test_tested.py checks they agree).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 -m venv "$dir/venv"
"$dir/venv/bin/pip" install -q --disable-pip-version-check torch==2.13.0 -e '.[dev,ray]'
{
  echo "# The tested dependency set. Refresh: bash tools/lock.sh (see README, Development)."
  "$dir/venv/bin/pip" freeze --all --exclude-editable | grep -vE '^(pip|vleval)==' | sed -E 's/^(torch==[^+]+)\+.*/\1/'
} > constraints.txt
echo "constraints.txt: $(grep -c '==' constraints.txt) pinned packages"
