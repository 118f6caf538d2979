#!/usr/bin/env bash
# Test vleval against a dependency set other than the lock, in a fresh venv, so drift is found before users find it.
#
#   tools/check_versions.sh newest   # the newest releases pyproject.toml admits
#   tools/check_versions.sh oldest   # every dependency at its declared lower bound
#
# Both run the whole test suite: a new release can break more than the adapters (transformers 5.25's
# untested-release warning, printed first on stderr, once broke a test of the CLI's config errors).
#
# torch stays at 2.13.0 in both: it is the CPU build on this machine's disk, while a newer torch from PyPI is a
# multi-GB CUDA build (set NEWEST_TORCH=1 to let `newest` take it anyway).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: tools/check_versions.sh newest|oldest}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 -m venv "$dir/venv"
pip=("$dir/venv/bin/pip" install -q --disable-pip-version-check)
torch=(torch==2.13.0)
[[ "${NEWEST_TORCH:-0}" == 1 && "$mode" == newest ]] && torch=(torch)
case "$mode" in
  newest)
    "${pip[@]}" "${torch[@]}" -e '.[dev,ray]' ;;
  oldest)
    python3 tools/lower_bounds.py > "$dir/lower.txt"
    "${pip[@]}" -c "$dir/lower.txt" "${torch[@]}" -e '.[dev,ray]' ;;
  *) echo "usage: tools/check_versions.sh newest|oldest" >&2; exit 2 ;;
esac
"$dir/venv/bin/pip" list --format=freeze 2>/dev/null \
  | grep -iE '^(torch|transformers|tokenizers|huggingface.hub|lm.eval|numpy|safetensors|datasets)==' | tr '\n' ' '
echo
"$dir/venv/bin/python" -m pytest -q -p no:cacheprovider -m "not gpu"
