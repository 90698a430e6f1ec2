#!/usr/bin/env sh
# Add Stemma to the desktop's application menu for this user, pointing at this folder's
# stemma-app (run it again after moving the folder). --remove takes the entry away again.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
apps=${XDG_DATA_HOME:-$HOME/.local/share}/applications
icons=${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps
if [ "${1:-}" = --remove ]; then
  rm -f "$apps/stemma.desktop" "$icons/stemma.png"
  echo "stemma: removed the menu entry"
  exit 0
fi
mkdir -p "$apps" "$icons"
cp "$here/stemma.png" "$icons/stemma.png"
sed "s|^Exec=stemma-app|Exec=\"$here/stemma-app\"|" "$here/stemma.desktop" > "$apps/stemma.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$apps" || true
echo "stemma: added $apps/stemma.desktop (runs $here/stemma-app)"
