"""The desktop application: ``workbench`` / ``workbench gui`` / ``workbench-gui``.

Which workspace opens: the one given, else the last one used (QSettings), else the
sample workspace in ``config_dir()/sample-workspace``, built once from the bundled
sample data by a background import with a progress dialog.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from .. import __version__
from ..errors import WorkbenchError
from ..paths import sample_data_dir
from . import jobs
from .main_window import MainWindow, app_icon, settings
from .theme import THEMES, apply_theme

__all__ = ["run_gui", "main", "application", "default_workspace", "open_window",
           "unclip_step_curves", "collect_garbage_in_gui_thread"]


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
        collect_garbage_in_gui_thread(app)
    assert isinstance(app, QApplication)
    return app


def collect_garbage_in_gui_thread(app: QApplication) -> GarbageCollector:
    """Python's cyclic garbage collector, run by a timer in the GUI thread only.

    Recomputes and cache reads run on worker threads; a collection that starts there
    can finalize a Qt object outside its thread and crash the process (pyqtgraph's
    ``GarbageCollector`` exists for this).  Automatic collection is switched off and
    the timer collects, every half second, what the thresholds would have."""
    collector = getattr(app, "_workbench_gc", None)
    if collector is None:
        collector = GarbageCollector(interval=0.5)
        app._workbench_gc = collector     # lives as long as the application
    return collector


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


def open_window(workspace: str | Path, *, recompute: bool = True, policy: str | None = None,
                remember: bool = True) -> MainWindow:
    """The main window on ``workspace`` as the application opens it: views that are
    not on screen build their tables and plots when first shown
    (:attr:`workbench.ui.views.base.View.defer_hidden`), and the figures come from
    the workspace's results cache when the evidence, policy and code are those of
    the last recompute (read while the window is being built,
    :func:`workbench.ui.jobs.prefetch_saved`); otherwise they are recomputed in the
    background (:func:`workbench.ui.jobs.recompute_workspace`).
    ``MainWindow.recomputed`` fires once the view on screen shows them.  Deferring
    hidden views is process-wide: the application has one main window."""
    from .views.base import View

    View.defer_hidden = True
    if recompute and (Path(workspace) / "workspace.sqlite").exists():
        # read the saved figures while the window is being built
        jobs.prefetch_saved(workspace, policy)
    try:
        win = MainWindow(workspace, policy=policy, recompute=recompute, remember=remember)
    except BaseException:
        jobs.cancel_prefetch(workspace, policy)
        raise
    unclip_step_curves(win)
    return win


def unclip_step_curves(root: QWidget) -> int:
    """Turn clip-to-view and downsampling off for the step-mode curves (histogram
    bars) of every plot under ``root``; returns how many.

    pyqtgraph 0.14 clips and downsamples X and Y of a curve alike, but a step curve
    has one X more than Y, so once its data extends past the visible range
    ``setData`` raises ("len(X) must be len(Y)+1") -- the overview's monthly bars
    when the window is on screen before the first figures arrive.  Bars are a few
    dozen points: neither setting helps them; line curves keep both."""
    import pyqtgraph as pg

    n = 0
    for plot in root.findChildren(pg.PlotWidget):
        for item in plot.getPlotItem().items:
            if isinstance(item, pg.PlotDataItem) and item.opts.get("stepMode"):
                item.setClipToView(False)
                item.setDownsampling(ds=1, auto=False)
                n += 1
    return n


def run_gui(workspace: str | None = None) -> int:
    """Open the main window; returns the application's exit code."""
    app = application()
    needs_sample = False
    if workspace is not None:
        path = Path(workspace)
    else:
        path, needs_sample = default_workspace()
    try:
        win = open_window(path, recompute=not needs_sample)
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
