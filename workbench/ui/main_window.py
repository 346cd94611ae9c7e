"""The workbench main window: menus, status bar and the views.

Everything the window shows comes from :func:`workbench.ui.jobs.recompute_workspace`,
the same code path as ``workbench recompute``; long work (recompute, import,
verify, export) runs in a :class:`~workbench.ui.tasks.TaskRunner` off the GUI
thread with a progress dialog and Cancel.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import polars as pl
import pyqtgraph as pg
import PySide6
from PySide6.QtCore import QSettings, Qt, Signal, qVersion
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from .. import __version__
from ..errors import WorkbenchError
from ..paths import config_dir
from ..workspace import Workspace
from . import jobs
from .tasks import TaskRunner, run_sync
from .views import VIEWS

__all__ = ["MainWindow", "settings", "VIEW_NAMES"]

VIEW_NAMES = tuple(VIEWS)
APP_TITLE = "Release SLA Workbench"


def settings() -> QSettings:
    """The GUI's settings: ``QSettings("ReleaseSLA", "Workbench")``, or an INI file in
    ``WORKBENCH_CONFIG_DIR`` when that is set (tests, portable installs)."""
    import os

    if os.environ.get("WORKBENCH_CONFIG_DIR"):
        return QSettings(str(config_dir() / "gui.ini"), QSettings.Format.IniFormat)
    return QSettings("ReleaseSLA", "Workbench")


def _short(h: str | None, n: int = 12) -> str:
    return (h or "")[:n] or "—"


class MainWindow(QMainWindow):
    """The workbench window on one workspace.

    ``recompute=False`` opens without starting a recompute (screenshots call
    :meth:`recompute_now`); ``remember=False`` leaves the "last workspace" setting
    alone.

    ``recomputed(object)`` is emitted with the :class:`~workbench.ui.jobs.Outcome`
    once the views show new figures, ``exported(list)`` with the report paths,
    ``verified(list)`` with the verification lines; ``task_failed(str)`` and
    ``task_cancelled(str)`` mirror the runner for tests and scripting.
    """

    recomputed = Signal(object)
    exported = Signal(list)
    verified = Signal(list)
    workspace_changed = Signal(str)
    task_failed = Signal(str)
    task_cancelled = Signal(str)

    def __init__(self, workspace: str | Path, *, policy: str | None = None,
                 recompute: bool = True, remember: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.remember = remember
        self.setWindowTitle(APP_TITLE)
        self.ws: Workspace | None = None
        self.workspace_path: Path | None = None
        self.policy_path = policy
        self.outcome: jobs.Outcome | None = None
        self._on_task_done: Any = None
        self._after_task: Any = None

        self.runner = TaskRunner(self, dialog_parent=self)
        self.runner.finished.connect(self._task_finished)
        self.runner.failed.connect(self._task_failed)
        self.runner.cancelled.connect(self._task_cancelled)
        self.runner.started.connect(lambda t: self.statusBar().showMessage(f"{t}…"))

        self.views: dict[str, QWidget] = {name: cls(self) for name, cls in VIEWS.items()}
        self.stack = QStackedWidget()
        for v in self.views.values():
            self.stack.addWidget(v)
        self.setCentralWidget(self.stack)

        self._build_status_bar()
        self._build_menus()
        self.open_workspace(workspace, recompute=recompute)
        self.resize(1400, 900)

    # ---- construction -------------------------------------------------------
    def _action(self, text: str, slot: Any, shortcut: QKeySequence | str | None = None,
                tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        return a

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        self.open_action = self._action("&Open workspace…", self._ask_open_workspace,
                                        QKeySequence.StandardKey.Open, "Open a workspace folder")
        self.import_files_action = self._action("&Import files…", self._ask_import_files, "Ctrl+I",
                                                "Import evidence files into this workspace")
        self.import_folder_action = self._action("Import &folder…", self._ask_import_folder, None,
                                                 "Import every evidence file in a folder")
        self.export_action = self._action("&Export report…", self._ask_export, "Ctrl+E",
                                          "Write the signed PDF and Excel report")
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        m.addAction(self.open_action)
        m.addSeparator()
        m.addAction(self.import_files_action)
        m.addAction(self.import_folder_action)
        m.addSeparator()
        m.addAction(self.export_action)
        m.addSeparator()
        m.addAction(self.quit_action)

        m = mb.addMenu("&View")
        group = QActionGroup(self)
        self.view_actions: dict[str, QAction] = {}
        for i, (name, view) in enumerate(self.views.items()):
            a = self._action(getattr(view, "title", name.capitalize()),
                             lambda checked=False, n=name: self.show_view(n), f"Ctrl+{i + 1}")
            a.setCheckable(True)
            group.addAction(a)
            m.addAction(a)
            self.view_actions[name] = a
        self.view_actions[VIEW_NAMES[0]].setChecked(True)

        m = mb.addMenu("&Tools")
        self.recompute_action = self._action("&Recompute", self.recompute, "F5",
                                             "Recompute every figure from the evidence")
        self.verify_action = self._action("&Verify workspace", self.verify_workspace, None,
                                          "Re-hash every evidence file and check the access log")
        m.addAction(self.recompute_action)
        m.addAction(self.verify_action)

        m = mb.addMenu("&Help")
        self.about_action = self._action("&About", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        m.addAction(self.about_action)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_labels: dict[str, QLabel] = {}
        for key in ("workspace", "evidence", "root", "policy", "figures"):
            lab = QLabel()
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            lab.setContentsMargins(6, 0, 6, 0)
            sb.addPermanentWidget(lab)
            self.status_labels[key] = lab

    # ---- workspace ----------------------------------------------------------
    def open_workspace(self, path: str | Path, *, recompute: bool = True) -> None:
        """Show the workspace at ``path`` (created when the folder does not exist yet)."""
        self.runner.cancel(quiet=True)
        ws = Workspace.open(path)
        if self.ws is not None:
            self.ws.close()
        self.ws = ws
        self.workspace_path = Path(path).resolve()
        self.outcome = None
        for v in self.views.values():
            v.set_results(None)  # type: ignore[attr-defined]
        if self.remember:
            settings().setValue("last_workspace", str(self.workspace_path))
        self.setWindowTitle(f"{self.workspace_path.name} — {APP_TITLE}")
        self._update_status()
        self.workspace_changed.emit(str(self.workspace_path))
        if recompute:
            self.recompute()

    def _update_status(self) -> None:
        lab = self.status_labels
        p = self.workspace_path
        lab["workspace"].setText(f"Workspace <b>{p.name if p else '—'}</b>")
        lab["workspace"].setToolTip(str(p or ""))
        n = len(self.ws.manifest()) if self.ws is not None else 0
        lab["evidence"].setText(f"{n} evidence file{'s' if n != 1 else ''}")
        root = self.ws.evidence_root() if self.ws is not None else ""
        lab["root"].setText(f"root {_short(root)}")
        lab["root"].setToolTip(f"evidence_root (RFC 6962 Merkle root over the evidence): {root}")
        o = self.outcome
        pol = o.policy.sha256 if o else ""
        lab["policy"].setText(f"policy {_short(pol)}")
        lab["policy"].setToolTip(f"policy sha256 {pol}\n{(o.policy.path if o else None) or 'default policy'}")
        if o is None:
            lab["figures"].setText("not computed")
        else:
            r = o.results
            nb = r.breaches.filter(pl.col("status") == "breach").height if r.breaches.height else 0
            lab["figures"].setText(f"{r.metrics.height:,} figures · {nb} breaches · "
                                   f"{r.findings.height} findings")
            lab["figures"].setToolTip(f"{r.breaches.height} SLO misses, {nb} past their grace period")

    # ---- views --------------------------------------------------------------
    def show_view(self, name: str) -> QWidget:
        """Bring the view ``name`` to the front (WorkbenchError for unknown names)."""
        if name not in self.views:
            raise WorkbenchError(f"unknown view {name!r} (known views: {', '.join(VIEW_NAMES)})")
        view = self.views[name]
        self.stack.setCurrentWidget(view)
        self.view_actions[name].setChecked(True)
        return view

    @property
    def overview(self) -> Any:
        return self.views["overview"]

    # ---- tasks --------------------------------------------------------------
    def _start(self, fn: Any, *args: Any, title: str, on_done: Any, after: Any = None,
               **kwargs: Any) -> None:
        self._on_task_done = on_done
        self._after_task = after
        self.runner.start(fn, *args, title=title, **kwargs)

    def _task_finished(self, result: object) -> None:
        done, self._on_task_done = self._on_task_done, None
        after, self._after_task = self._after_task, None
        if done is not None:
            done(result)
        if after is not None:
            after()

    def _task_failed(self, message: str) -> None:
        self._on_task_done = self._after_task = None
        self.statusBar().showMessage(f"{self.runner.title} failed", 10_000)
        self._update_status()
        self.task_failed.emit(message)
        box = QMessageBox(QMessageBox.Icon.Critical, f"{self.runner.title} failed", message,
                          QMessageBox.StandardButton.Ok, self)
        if self.runner.last_traceback:  # an unexpected error: keep the details at hand
            box.setDetailedText(self.runner.last_traceback)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _task_cancelled(self, message: str) -> None:
        self._on_task_done = self._after_task = None
        self.statusBar().showMessage(f"{message}; nothing was changed", 10_000)
        self._update_status()
        self.task_cancelled.emit(message)

    def recompute(self) -> None:
        """Recompute every figure off the GUI thread (F5)."""
        if self.workspace_path is None:
            return
        self._start(jobs.recompute_workspace, self.workspace_path, self.policy_path,
                    title="Recompute", on_done=self._show_outcome)

    def recompute_now(self) -> jobs.Outcome:
        """Recompute on the calling thread (screenshots: the result is complete
        before anything is drawn)."""
        assert self.workspace_path is not None
        outcome = run_sync(jobs.recompute_workspace, self.workspace_path, self.policy_path)
        self._show_outcome(outcome)
        return outcome

    def _show_outcome(self, outcome: object) -> None:
        assert isinstance(outcome, jobs.Outcome)
        if self.workspace_path is None or outcome.workspace != self.workspace_path:
            return  # a result for a workspace no longer shown
        self.outcome = outcome
        for v in self.views.values():
            v.set_results(outcome.results)  # type: ignore[attr-defined]
        self._update_status()
        r = outcome.results
        self.statusBar().showMessage(
            f"Recomputed {r.metrics.height:,} figures from {outcome.evidence_files} evidence files", 8000)
        self.recomputed.emit(outcome)

    def import_paths(self, paths: list[str | Path]) -> None:
        """Import files or folders off the GUI thread, then recompute."""
        if not paths or self.workspace_path is None:
            return
        self._start(jobs.import_into, self.workspace_path, list(paths), title="Import",
                    on_done=self._imported, after=self.recompute)

    def _imported(self, reports: object) -> None:
        reps = list(reports)  # type: ignore[call-overload]
        new = sum(not getattr(r, "already_imported", False) for r in reps)
        self._update_status()
        self.statusBar().showMessage(
            f"Imported {new} new evidence file(s); {len(reps) - new} already in the workspace", 8000)

    def verify_workspace(self) -> None:
        if self.workspace_path is None:
            return
        self._start(jobs.verify_workspace, self.workspace_path, title="Verify workspace",
                    on_done=self._verified)

    def _verified(self, lines: object) -> None:
        text = list(lines)  # type: ignore[call-overload]
        box = QMessageBox(QMessageBox.Icon.Information, "Workspace verified",
                          f"Every evidence file and the access log verified.\n{text[-1] if text else ''}",
                          QMessageBox.StandardButton.Ok, self)
        box.setDetailedText("\n".join(text))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.statusBar().showMessage("Workspace verified", 8000)
        self.verified.emit(text)

    def export_report(self, pdf: str | None, xlsx: str | None, *, period: str | None = None) -> None:
        """Write the signed report(s) off the GUI thread (File > Export report…)."""
        if self.workspace_path is None:
            return
        self._start(jobs.export_reports, self.workspace_path, pdf=pdf, xlsx=xlsx,
                    policy_path=self.policy_path, period=period, title="Export report",
                    on_done=self._exported)

    def _exported(self, paths: object) -> None:
        files = [str(p) for p in paths]  # type: ignore[attr-defined]
        self.statusBar().showMessage("Wrote " + ", ".join(files), 15_000)
        box = QMessageBox(QMessageBox.Icon.Information, "Report exported",
                          "Wrote the signed report:\n" + "\n".join(files), QMessageBox.StandardButton.Ok,
                          self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.exported.emit(files)

    # ---- dialogs ------------------------------------------------------------
    def _ask_open_workspace(self) -> None:
        start = str(self.workspace_path.parent) if self.workspace_path else str(Path.home())
        d = QFileDialog.getExistingDirectory(self, "Open workspace", start)
        if not d:
            return
        p = Path(d)
        if not (p / "workspace.sqlite").exists() and any(p.iterdir()):
            ans = QMessageBox.question(
                self, "Create workspace?",
                f"{p} is not a workspace. Create a new workspace in this folder?")
            if ans != QMessageBox.StandardButton.Yes:
                return
        try:
            self.open_workspace(p)
        except WorkbenchError as exc:
            QMessageBox.critical(self, "Cannot open workspace", str(exc))

    def _ask_import_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Import evidence files", str(Path.home()),
            "Evidence exports (*.csv *.json *.jsonl *.xlsx *.xml *.zip);;All files (*)")
        self.import_paths(files)

    def _ask_import_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Import evidence folder", str(Path.home()))
        if d:
            self.import_paths([d])

    def _ask_export(self) -> None:
        start = str((self.workspace_path.parent if self.workspace_path else Path.home()) / "report.pdf")
        out, _ = QFileDialog.getSaveFileName(
            self, "Export signed report (PDF; the Excel workbook is written next to it)", start,
            "PDF report (*.pdf)")
        if not out:
            return
        pdf = Path(out).with_suffix(".pdf")
        self.export_report(str(pdf), str(pdf.with_suffix(".xlsx")))

    def show_about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, f"About {APP_TITLE}", about_text(),
                          QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # ---- lifecycle ----------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.runner.shutdown()
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        super().closeEvent(event)


def versions() -> dict[str, str]:
    return {"Release SLA Workbench": __version__, "Python": platform.python_version(),
            "Qt": qVersion(), "PySide6": PySide6.__version__, "polars": pl.__version__,
            "pyqtgraph": pg.__version__}


def about_text() -> str:
    rows = "".join(f"<tr><td>{k}</td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in versions().items())
    return (f"<h3>{APP_TITLE}</h3><p>Recomputes DORA and SLA figures from hashed evidence "
            f"under an explicit policy.</p><table>{rows}</table>")
