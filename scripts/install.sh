#!/usr/bin/env bash
# Install Stemma into .venv (Python >= 3.11). Usage:
#   scripts/install.sh [--demo] [--test] [--gui]
#     --demo   afterwards, separate the bundled demo song and say where the stems went
#     --test   also install what the test suite needs
# onnxruntime and onnxruntime-gpu install the same module and break each other, so exactly one
# is installed: the GPU build where an NVIDIA driver is present, the CPU build otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=0; extras=(); deps=runtime
for arg in "$@"; do
  case "$arg" in
    --demo) demo=1 ;;
    --test) extras+=(test); deps=test ;;
    --gui) extras+=(gui) ;;
    *) echo "usage: $0 [--demo] [--test] [--gui]" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "stemma: Python 3.11 or newer is needed (found $("$python" --version 2>&1))" >&2; exit 1; }
scripts/install-system-deps.sh "$deps"
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)

if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  runtime=gpu; other=onnxruntime
else
  runtime=cpu; other=onnxruntime-gpu
fi
.venv/bin/python -m pip uninstall -y -q "$other" 2>/dev/null || true
extras+=("$runtime")
"${pip[@]}" -e ".[$(IFS=,; echo "${extras[*]}")]"
echo "stemma: installed into .venv (onnxruntime build: $runtime); run .venv/bin/stemma --help"

if [ "$demo" = 1 ]; then
  rm -rf stems/demo_song
  .venv/bin/stemma separate assets/demo/demo_song.flac -o stems
  echo "stemma: the demo's stems are in $(pwd)/stems/demo_song/"
fi
