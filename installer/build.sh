#!/usr/bin/env bash
# Build the Stemma bundle: dist/stemma/ (stemma, stemma-app, the shipped models, the demo song,
# a desktop entry) and dist/stemma-VERSION-OS-ARCH.tar.zst (.tar.gz where zstd is missing).
# Usage: installer/build.sh [--gpu]
#   --gpu  the separate GPU build (CUDA torch + onnxruntime-gpu must be in the project venv):
#          dist/stemma-gpu/ and stemma-gpu-VERSION-... ; never mixed into the default CPU build
# On a fresh Debian/Ubuntu machine this one command does everything: system packages, the
# project in .venv (scripts/install.sh, CPU torch), PyInstaller in a build venv layered over
# it (so the project's venv stays as it was), the build, the archive. Environment:
#   STEMMA_PYTHON      the project's Python (default .venv/bin/python; made if missing)
#   STEMMA_BUILD_VENV  where PyInstaller goes (default build/installer/venv)
set -euo pipefail
cd "$(dirname "$0")/.."
variant=cpu
for arg in "$@"; do
  case "$arg" in
    --gpu) variant=gpu ;;
    *) echo "usage: $0 [--gpu]" >&2; exit 2 ;;
  esac
done
pyinstaller_version=6.22.3
python=${STEMMA_PYTHON:-.venv/bin/python}
build_venv=${STEMMA_BUILD_VENV:-build/installer/venv}
start=$(date +%s)

if [ "$(uname -s)" = Linux ]; then
  scripts/install-system-deps.sh gui build  # Qt's libraries, PortAudio, objdump, zstd
fi
ready() { "$python" -c "import engine, app, torch, onnxruntime, PySide6, sounddevice" 2>/dev/null; }
if ! ready; then
  [ "$python" = .venv/bin/python ] || { echo "stemma: $python lacks the app's packages" >&2; exit 1; }
  if [ "$variant" = cpu ]; then scripts/install.sh --cpu; else scripts/install.sh; fi
fi
"$python" - "$variant" <<'EOF'
import importlib.metadata as md, sys
import torch
variant = sys.argv[1]
ort = {d.metadata["Name"].lower() for d in md.distributions()} & {"onnxruntime", "onnxruntime-gpu"}
cuda = torch.version.cuda is not None
if variant == "cpu" and (cuda or "onnxruntime-gpu" in ort):
    sys.exit("stemma: this environment has CUDA torch or onnxruntime-gpu; the default build is "
             "CPU only: build it from a CPU environment (scripts/install.sh --cpu), or pass --gpu")
if variant == "gpu" and not (cuda and "onnxruntime-gpu" in ort):
    sys.exit("stemma: --gpu needs CUDA torch and onnxruntime-gpu (scripts/install.sh on a "
             "machine with an NVIDIA driver)")
EOF

# The build venv sees the project's packages through a .pth file and adds only PyInstaller.
purelib=$("$python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
[ -e "$build_venv/pyvenv.cfg" ] || "$python" -m venv "$build_venv"
bpy=$build_venv/bin/python; [ -x "$bpy" ] || bpy=$build_venv/Scripts/python.exe  # Windows
bsite=$("$bpy" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "import site; site.addsitedir(r'$purelib')" > "$bsite/stemma_project.pth"
if ! "$bpy" -c "import PyInstaller, sys; sys.exit(PyInstaller.__version__ != '$pyinstaller_version')" 2>/dev/null
then
  pillow=(); [ "$(uname -s)" = Linux ] || pillow=(pillow)  # icon conversion (.ico, .icns)
  "$bpy" -m pip install -q --disable-pip-version-check "pyinstaller==$pyinstaller_version" "${pillow[@]}"
fi

name=stemma; [ "$variant" = gpu ] && name=stemma-gpu
rm -rf "dist/$name"
STEMMA_VARIANT=$variant "$bpy" -m PyInstaller --noconfirm --log-level WARN --distpath dist \
  --workpath "build/installer/work-$variant" installer/stemma.spec
cp assets/demo/demo_song.flac "dist/$name/"
if [ "$(uname -s)" = Linux ]; then
  cp installer/linux/stemma.desktop installer/linux/install-desktop-entry.sh \
    installer/icons/stemma.png "dist/$name/"
fi

version=$("$python" -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])")
os=$(uname -s | tr '[:upper:]' '[:lower:]'); arch=$(uname -m)
archive=dist/$name-$version-$os-$arch
rm -f "$archive.tar.zst" "$archive.tar.gz"
if command -v zstd >/dev/null; then
  archive=$archive.tar.zst
  tar -C dist -cf - "$name" | zstd -q -T0 -"${STEMMA_ZSTD_LEVEL:-12}" -o "$archive"
else
  archive=$archive.tar.gz
  tar -C dist -czf "$archive" "$name"
fi
echo "stemma: built dist/$name/ ($(du -sh "dist/$name" | cut -f1)) and $archive" \
  "($(du -sh "$archive" | cut -f1)) in $(( $(date +%s) - start )) s"
