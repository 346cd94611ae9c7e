#!/usr/bin/env bash
# Quick start: set up, build a workspace from sample_data/, recompute every figure,
# write a signed PDF and Excel report, then open the desktop workbench when a display
# is available (headless, it prints where everything is).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out="${1:-out/demo}"
rm -rf "$out"
.venv/bin/workbench demo --out "$out"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${CI:-}" ]; then
  echo "opening the workbench on $out/workspace"
  exec .venv/bin/workbench gui --workspace "$out/workspace"
else
  echo "no display: open the reports above, or run '.venv/bin/workbench gui --workspace $out/workspace' on a desktop"
fi
