#!/usr/bin/env bash
# Install Stemma into .venv (Python >= 3.11). Usage:
#   scripts/install.sh [--demo] [--no-gui] [--cpu] [--test] [--train] [--eval] [--demucs] [--roformer]
#     --demo    afterwards, separate the bundled demo song and say where the stems went
#     --no-gui  leave out the desktop app (stemma-app) and its system libraries: a server
#     --cpu     CPU torch and onnxruntime even where there is an NVIDIA GPU (installer/build.sh)
#     --test    also install what the test suite needs (includes --train and --eval)
#     --train   the lab (`stemma-lab`): training tools, the synthesizer's system packages, ONNX export
#     --eval    the lab's evaluation metrics (`stemma-lab eval`: ViSQOL, DNSMOS, NISQA's runtime)
#     --demucs  run Demucs/HTDemucs checkpoints you add (`stemma models add`): the demucs package
#     --roformer  run BS-/Mel-RoFormer checkpoints you add: YAML configs, librosa's mel bands
# onnxruntime and onnxruntime-gpu install the same module and break each other, so exactly one
# is installed: the GPU build where an NVIDIA driver is present, the CPU build otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=0; gui=1; cpu_only=0; extras=(lm); deps=(runtime)  # lm: tokenlm runs its LM loop in torch
for arg in "$@"; do
  case "$arg" in
    --demo) demo=1 ;;
    --no-gui) gui=0 ;;
    --cpu) cpu_only=1 ;;
    --test) extras+=(test); deps+=(test) ;;
    --train) extras+=(train); deps+=(train) ;;
    --eval) extras+=(eval) ;;
    --demucs) extras+=(demucs) ;;
    --roformer) extras+=(roformer) ;;
    *) echo "usage: $0 [--demo] [--no-gui] [--cpu] [--test] [--train] [--eval] [--demucs] [--roformer]" >&2
       exit 2 ;;
  esac
done
if [ "$gui" = 1 ]; then extras+=(gui); deps+=(gui); fi

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "stemma: Python 3.11 or newer is needed (found $("$python" --version 2>&1))" >&2; exit 1; }
scripts/install-system-deps.sh "${deps[@]}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)

if [ "$cpu_only" = 0 ] && command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  runtime=gpu; other=onnxruntime
else
  runtime=cpu; other=onnxruntime-gpu
fi
.venv/bin/python -m pip uninstall -y -q "$other" 2>/dev/null || true
extras+=("$runtime")

# torch before anything that depends on it: from PyPI (CUDA) with a GPU, else the CPU build
# from PyTorch's own index (plain PyPI would pull several GB of CUDA libraries).
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if [ "$runtime" = gpu ]; then
    "${pip[@]}" torch==2.13.0
  else
    # PyPI stays an index for torch's own dependencies; pip takes the highest matching
    # version, and the CPU build's local tag (2.13.0+cpu) ranks above PyPI's CUDA build
    # (a wheel of it in pip's configured find-links serves where PyTorch's index is unreachable)
    "${pip[@]}" --retries 1 --index-url https://pypi.org/simple \
      --extra-index-url https://download.pytorch.org/whl/cpu torch==2.13.0
  fi
fi
"${pip[@]}" -e ".[$(IFS=,; echo "${extras[*]}")]"
echo "stemma: installed into .venv (onnxruntime build: $runtime); run .venv/bin/stemma --help"
case " ${extras[*]} " in
  *" train "* | *" test "*) echo "stemma: the lab is .venv/bin/stemma-lab (train, eval, export ...)" ;;
esac
[ "$gui" = 1 ] && echo "stemma: the desktop app is .venv/bin/stemma-app"

if [ "$demo" = 1 ]; then
  rm -rf stems/demo_song
  .venv/bin/stemma separate assets/demo/demo_song.flac -o stems
  echo "stemma: the demo's stems are in $(pwd)/stems/demo_song/"
fi
