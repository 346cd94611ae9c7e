#!/usr/bin/env bash
# Set up everything the workbench needs, idempotently:
#  - on a root Debian/Ubuntu machine, the few system libraries Qt needs offscreen
#    (elsewhere it prints the exact install line instead);
#  - a virtual environment in .venv with the package and its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

QT_LIBS="libglib2.0-0 libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3"
EXTRA_LIBS="${WORKBENCH_EXTRA_APT:-}"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $QT_LIBS $EXTRA_LIBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "setup: installing system libraries:$missing"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      # shellcheck disable=SC2086
      apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
      echo "setup: Qt needs these system libraries; install them with:"
      echo "  sudo apt-get install -y$missing"
    fi
  fi
else
  echo "setup: not a Debian system; make sure Qt 6's runtime libraries (OpenGL/EGL, xkbcommon, fontconfig, D-Bus) are installed."
fi

PY=""
for c in python3.13 python3.12 python3.11 python3; do
  if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; raise SystemExit(sys.version_info < (3, 11))' 2>/dev/null; then
    PY="$c"; break
  fi
done
if [ -z "$PY" ]; then
  echo "setup: Python 3.11 or newer is required (apt-get install -y python3 python3-venv)" >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=".venv/.workbench-installed"
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing the workbench and its test tools into .venv (a few minutes the first time)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  echo "$want" > "$stamp"
fi
