"""Render ``resources/icons/release-sla-workbench.svg`` to PNG with Qt (QtSvg):

    QT_QPA_PLATFORM=offscreen python packaging/render_icon.py [SIZE ...]

writes ``resources/icons/release-sla-workbench.png`` (256 px) and, for each extra
size, ``release-sla-workbench-<SIZE>.png`` (hicolor theme sizes for Linux packages).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"
SVG = ICONS / "release-sla-workbench.svg"


def render(size: int, out: Path) -> Path:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 - keeps Qt alive
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {SVG}")
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(p)
    p.end()
    if not img.save(str(out), "PNG"):
        raise SystemExit(f"cannot write {out}")
    return out


def main(argv: list[str]) -> int:
    print(render(256, ICONS / "release-sla-workbench.png"))
    for s in (int(a) for a in argv):
        print(render(s, ICONS / f"release-sla-workbench-{s}.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
