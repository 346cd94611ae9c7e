"""Render a view of the main window to a PNG, headless (``workbench screenshot``).

The recompute runs synchronously on this thread, so the picture shows complete
figures; with no display the offscreen Qt platform is used, so this works in CI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import WorkbenchError

__all__ = ["screenshot", "ensure_platform"]


def ensure_platform() -> None:
    """Use Qt's offscreen platform when there is no display to talk to."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return
    if sys.platform.startswith(("linux", "freebsd")) and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def screenshot(view: str, out: str | Path, workspace: str | Path | None = None,
               width: int = 1400, height: int = 900) -> Path:
    """Build the main window on ``workspace`` (default: as ``run_gui``), recompute,
    show ``view`` at ``width`` x ``height`` and save the window as PNG to ``out``."""
    ensure_platform()
    from .views import VIEWS

    if view not in VIEWS:
        raise WorkbenchError(f"unknown view {view!r} (known views: {', '.join(VIEWS)})")
    if width < 200 or height < 150:
        raise WorkbenchError(f"a screenshot needs at least 200 x 150 pixels, not {width} x {height}")

    from PySide6.QtCore import QCoreApplication, Qt

    from . import jobs
    from .app import application, default_workspace
    from .main_window import MainWindow

    app = application()
    if workspace is None:
        path, needs_sample = default_workspace()
        if needs_sample:
            jobs.build_sample_workspace()
    else:
        path = Path(workspace)
        if not (path / "workspace.sqlite").exists():
            raise WorkbenchError(f"{path} is not a workspace (no workspace.sqlite)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import qInstallMessageHandler

    def _handler(mode: object, context: object, message: str) -> None:
        # the offscreen platform's notes about window-manager hints are noise here
        if "propagateSizeHints" not in message:
            sys.stderr.write(message + "\n")

    previous = qInstallMessageHandler(_handler)
    win = MainWindow(path, recompute=False, remember=False)
    try:
        win.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        win.recompute_now()
        shown = win.show_view(view)
        prepare = getattr(shown, "prepare_screenshot", None)
        if prepare is not None:
            prepare()
        win.resize(width, height)
        win.show()
        for _ in range(5):
            QCoreApplication.processEvents()
            app.sendPostedEvents()
        win.resize(width, height)
        QCoreApplication.processEvents()
        pix = win.grab()
        if not pix.save(str(out), "PNG"):
            raise WorkbenchError(f"cannot write {out}")
    finally:
        win.close()
        win.deleteLater()
        QCoreApplication.processEvents()
        qInstallMessageHandler(previous)
    return out
