#!/bin/sh
# Install the PyInstaller bundle for the current user (no root, no Python needed):
#
#     pyinstaller --noconfirm --clean packaging/workbench.spec
#     sh packaging/install-linux.sh [dist/release-sla-workbench]
#
# puts the bundle in ~/.local/opt/release-sla-workbench, ``workbench`` on the PATH
# (~/.local/bin), the launcher in the application menu, the icon in the hicolor
# theme and the AppStream metadata where software centres look for it.
# Uninstall: sh packaging/install-linux.sh --uninstall
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
OPT=$HOME/.local/opt/release-sla-workbench
BIN=$HOME/.local/bin
APP=release-sla-workbench
META=io.github.release_sla.Workbench.metainfo.xml

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$OPT" "$BIN/workbench" "$DATA/applications/$APP.desktop" \
           "$DATA/icons/hicolor/256x256/apps/$APP.png" "$DATA/icons/hicolor/scalable/apps/$APP.svg" \
           "$DATA/metainfo/$META"
    echo "uninstalled"
    exit 0
fi

BUNDLE=${1:-$ROOT/dist/$APP}
[ -x "$BUNDLE/workbench" ] || { echo "no bundle at $BUNDLE (build it with pyinstaller first)" >&2; exit 2; }

mkdir -p "$OPT" "$BIN" "$DATA/applications" "$DATA/icons/hicolor/256x256/apps" \
         "$DATA/icons/hicolor/scalable/apps" "$DATA/metainfo"
rm -rf "$OPT"
cp -a "$BUNDLE" "$OPT"
ln -sf "$OPT/workbench" "$BIN/workbench"
sed "s|^Exec=.*|Exec=$OPT/workbench|" "$HERE/$APP.desktop" > "$DATA/applications/$APP.desktop"
cp "$ROOT/resources/icons/$APP.png" "$DATA/icons/hicolor/256x256/apps/$APP.png"
cp "$ROOT/resources/icons/$APP.svg" "$DATA/icons/hicolor/scalable/apps/$APP.svg"
cp "$HERE/$META" "$DATA/metainfo/$META"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$DATA/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q "$DATA/icons/hicolor" || true
echo "installed: $OPT (run 'workbench', or find Release SLA Workbench in the application menu)"
