#!/usr/bin/env bash
# System packages (Debian/Ubuntu) that pip cannot provide. Usage:
#   scripts/install-system-deps.sh runtime   # python3-venv only: soundfile and PyAV wheels bundle
#                                            # libsndfile and FFmpeg
#   scripts/install-system-deps.sh test      # + ffmpeg (makes MP3/M4A test files), fluidsynth,
#                                            #   GM soundfonts, espeak-ng (the synthesizer)
#   scripts/install-system-deps.sh train     # the synthesizer's packages
set -euo pipefail
want=(python3-venv)
case "${1:-runtime}" in
  runtime) ;;
  test) want+=(ffmpeg fluidsynth fluid-soundfont-gm timgm6mb-soundfont espeak-ng) ;;
  train) want+=(fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont espeak-ng) ;;
  *) echo "usage: $0 runtime|test|train" >&2; exit 2 ;;
esac
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "stemma: please install these packages with your system's package manager: ${missing[*]}" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "stemma: installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
