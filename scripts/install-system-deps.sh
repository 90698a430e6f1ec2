#!/usr/bin/env bash
# System packages (Debian/Ubuntu) that pip cannot provide. Usage:
#   scripts/install-system-deps.sh GROUP...   (GROUP: runtime, gui, train, test, build)
#     runtime  python3-venv only: the soundfile and PyAV wheels bundle libsndfile and FFmpeg
#     gui      Qt's X11/EGL libraries, PortAudio (playback)
#     train    fluidsynth, General MIDI soundfonts and acoustic drum kits, espeak-ng, Festival
#              with English voices (our song synthesizer; v2 sings Festival voices), and what
#              builds pyworld (g++, Python headers), and tcmalloc (scripts/train_models.sh
#              preloads it: training steps were 2.5x faster with it where fresh memory is slow)
#     build    what installer/build.sh needs: objdump (PyInstaller's library analysis), strip,
#              zstd (the archive)
#     test     gui + train + ffmpeg (makes MP3/M4A test files) + PulseAudio with its ALSA
#              plugin (the tests play through a null sink) + curl and Lua 5.4 (the local
#              server's tests drive it with curl and run the Reaper script)
set -euo pipefail
runtime=(python3-venv)
gui=(libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
     libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
     libxcb-render-util0 libxcb-image0 libportaudio2)
train=(fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont espeak-ng
       avldrums.lv2-soundfont festival festvox-us-slt-hts festvox-kallpc16k festvox-kdlpc16k
       g++ python3-dev  # g++ and the headers build pyworld, an sdist on PyPI
       libtcmalloc-minimal4)
want=("${runtime[@]}")
for group in "${@:-runtime}"; do
  case "$group" in
    runtime) ;;
    gui) want+=("${gui[@]}") ;;
    train) want+=("${train[@]}") ;;
    build) want+=(binutils zstd) ;;
    test) want+=("${gui[@]}" "${train[@]}" ffmpeg pulseaudio pulseaudio-utils libasound2-plugins
                curl lua5.4) ;;
    *) echo "usage: $0 runtime|gui|train|test|build..." >&2; exit 2 ;;
  esac
done
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
