"""The desktop application: ``workbench`` / ``workbench gui`` / ``workbench-gui``.

Which workspace opens: the one given, else the last one used (QSettings), else the
sample workspace in ``config_dir()/sample-workspace``, built once from the bundled
sample data by a background import with a progress dialog.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from .. import __version__
from ..errors import WorkbenchError
from ..paths import sample_data_dir
from . import jobs
from .main_window import MainWindow, app_icon, settings
from .theme import THEMES, apply_theme

__all__ = ["run_gui", "main", "application", "default_workspace"]


def application(argv: list[str] | None = None) -> QApplication:
    """The running QApplication, created when there is none.  High-DPI scaling is
    on by default in Qt 6; the palette follows the system's light/dark scheme, or
    the theme chosen in View > Theme (:mod:`workbench.ui.theme`)."""
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName("ReleaseSLA")
        QCoreApplication.setApplicationName("Workbench")
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
        app.setApplicationDisplayName("Release SLA Workbench")
        app.setApplicationVersion(__version__)
        app.setDesktopFileName("release-sla-workbench")
        app.setWindowIcon(app_icon())
        theme = str(settings().value("theme") or "system")
        apply_theme(app, theme if theme in THEMES else "system")
    assert isinstance(app, QApplication)
    return app


def _last_workspace() -> Path | None:
    value = settings().value("last_workspace")
    if not value:
        return None
    p = Path(str(value))
    return p if (p / "workspace.sqlite").exists() else None


def default_workspace() -> tuple[Path, bool]:
    """The workspace to open when none is given, and whether it still needs the
    sample data imported."""
    last = _last_workspace()
    if last is not None:
        return last, False
    path = jobs.sample_workspace_path()
    has_samples = sample_data_dir().is_dir() and any(
        f.is_file() for f in sample_data_dir().iterdir())
    return path, has_samples and not jobs.has_evidence(path)


def run_gui(workspace: str | None = None) -> int:
    """Open the main window; returns the application's exit code."""
    app = application()
    needs_sample = False
    if workspace is not None:
        path = Path(workspace)
    else:
        path, needs_sample = default_workspace()
    try:
        win = MainWindow(path, recompute=not needs_sample)
    except WorkbenchError as exc:
        QMessageBox.critical(None, "Cannot open workspace", str(exc))
        return 2
    win.show()
    if needs_sample:
        win.statusBar().showMessage("Building the sample workspace from the bundled sample data…")
        win.import_paths([sample_data_dir()])
    return int(app.exec())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``workbench-gui`` script: ``workbench-gui [WORKSPACE]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print("usage: workbench-gui [WORKSPACE]")
        return 0
    return run_gui(args[0] if args else None)


if __name__ == "__main__":
    raise SystemExit(main())
