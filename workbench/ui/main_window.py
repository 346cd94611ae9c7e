"""The workbench main window: navigation, menus, toolbar, status bar and the views.

Everything the window shows comes from :func:`workbench.ui.jobs.recompute_workspace`,
the same code path as ``workbench recompute``; long work (recompute, import,
verify, export, sampling) runs in a :class:`~workbench.ui.tasks.TaskRunner` off the
GUI thread with a progress dialog and Cancel.

The views sit in a stack behind a navigation list (Ctrl+1..9).  Views ask for
the deployments behind a figure with ``drillRequested``; the window answers with a
:class:`~workbench.ui.drilldown.DrillDownDialog`.  Files dropped on the window open
the import wizard.  Window geometry, recent workspaces, the display time zone and
the theme are kept in QSettings.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any, Callable

import polars as pl
import pyqtgraph as pg
import PySide6
from PySide6.QtCore import QSettings, QSize, Qt, Signal, qVersion
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from .. import __version__
from ..errors import WorkbenchError
from ..paths import config_dir, resources_dir
from ..workspace import Workspace
from . import jobs
from .drill import deployments_behind
from .drilldown import DrillDownDialog
from .models import display_timezone_name, set_display_timezone
from .tasks import TaskRunner, run_sync
from .theme import THEMES, apply_theme
from .views import VIEWS

__all__ = ["MainWindow", "settings", "VIEW_NAMES", "versions", "about_text", "app_icon"]

VIEW_NAMES = tuple(VIEWS)
APP_TITLE = "Release SLA Workbench"
MAX_RECENT = 8
#: zones offered in View > Display time zone besides UTC, the system's and the
#: policy's calendar zones
COMMON_ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles",
                "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney")


def settings() -> QSettings:
    """The GUI's settings: ``QSettings("ReleaseSLA", "Workbench")``, or an INI file in
    ``WORKBENCH_CONFIG_DIR`` when that is set (tests, portable installs)."""
    import os

    if os.environ.get("WORKBENCH_CONFIG_DIR"):
        return QSettings(str(config_dir() / "gui.ini"), QSettings.Format.IniFormat)
    return QSettings("ReleaseSLA", "Workbench")


def app_icon() -> QIcon:
    icons = resources_dir() / "icons"
    icon = QIcon()
    for name in ("release-sla-workbench.svg", "release-sla-workbench.png"):
        if (icons / name).is_file():
            icon.addFile(str(icons / name))
    return icon


def _short(h: str | None, n: int = 12) -> str:
    return (h or "")[:n] or "—"


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


class MainWindow(QMainWindow):
    """The workbench window on one workspace.

    ``recompute=False`` opens without starting a recompute (screenshots call
    :meth:`recompute_now`); ``remember=False`` leaves the settings (last and recent
    workspaces, geometry) alone.

    Signals: ``recomputed(object)`` with the :class:`~workbench.ui.jobs.Outcome` once
    the views show new figures; ``exported(list)`` with the report paths;
    ``reportVerified(list)`` with ``(path, ok, messages)`` per report file;
    ``verified(list)`` with the workspace verification lines; ``imported(list)``
    with ImportReports; ``sampled(object)`` with an AttributeSample;
    ``drilled(object)`` with a drill-down dialog; ``viewSaved(object)`` /
    ``viewLoaded(object)`` with a :class:`~workbench.workspace.views.SavedView`;
    ``task_failed(str)`` and
    ``task_cancelled(str)`` mirror the runner.
    """

    recomputed = Signal(object)
    exported = Signal(list)
    reportVerified = Signal(list)
    verified = Signal(list)
    imported = Signal(list)
    sampled = Signal(object)
    drilled = Signal(object)
    viewSaved = Signal(object)
    viewLoaded = Signal(object)
    workspace_changed = Signal(str)
    task_failed = Signal(str)
    task_cancelled = Signal(str)

    def __init__(self, workspace: str | Path, *, policy: str | None = None,
                 recompute: bool = True, remember: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.remember = remember
        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.ws: Workspace | None = None
        self.workspace_path: Path | None = None
        self.policy_path = policy
        self.outcome: jobs.Outcome | None = None
        self._on_task_done: Any = None
        self._on_task_fail: Any = None
        self._after_task: Any = None
        self.drilldowns: list[DrillDownDialog] = []
        self.wizard: Any = None
        self.policy_editor: Any = None
        self.export_dialog: Any = None
        self.view_dialog: Any = None

        self.runner = TaskRunner(self, dialog_parent=self)
        self.runner.finished.connect(self._task_finished)
        self.runner.failed.connect(self._task_failed)
        self.runner.cancelled.connect(self._task_cancelled)
        self.runner.started.connect(lambda t: self.statusBar().showMessage(f"{t}…"))

        self.views: dict[str, QWidget] = {name: cls(self) for name, cls in VIEWS.items()}
        self.stack = QStackedWidget()
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setUniformItemSizes(True)
        self.nav.setSpacing(2)
        for i, (name, view) in enumerate(self.views.items()):
            self.stack.addWidget(view)
            it = QListWidgetItem(getattr(view, "title", name.capitalize()))
            it.setData(Qt.ItemDataRole.UserRole, name)
            it.setToolTip(f"{getattr(view, 'tooltip', '')}  (Ctrl+{i + 1})")
            it.setSizeHint(QSize(120, self.nav.fontMetrics().height() + 14))
            self.nav.addItem(it)
        fw = max(self.nav.fontMetrics().horizontalAdvance(self.nav.item(i).text())
                 for i in range(self.nav.count()))
        self.nav.setFixedWidth(fw + 40)
        self.nav.currentRowChanged.connect(lambda r: self.show_view(VIEW_NAMES[r]) if r >= 0 else None)
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.nav.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        body = QWidget()
        bl = QHBoxLayout(body)
        bl.setContentsMargins(4, 4, 0, 0)
        bl.setSpacing(2)
        bl.addWidget(self.nav)
        bl.addWidget(self.stack, 1)
        self.setCentralWidget(body)
        self._connect_views()

        self._build_status_bar()
        self._build_menus()
        self._build_toolbar()
        self._restore_settings()
        self.open_workspace(workspace, recompute=recompute)
        self.nav.setCurrentRow(0)

    # ---- construction -------------------------------------------------------
    def _action(self, text: str, slot: Any, shortcut: QKeySequence | str | None = None,
                tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        a.triggered.connect(slot)
        return a

    def _connect_views(self) -> None:
        for view in self.views.values():
            sig = getattr(view, "drillRequested", None)
            if sig is not None:
                sig.connect(self.open_drilldown)
        a = self.views.get("auditor")
        if a is not None:
            a.verifyRequested.connect(self.verify_workspace)
            a.sampleRequested.connect(lambda req: self.draw_sample(**req))
            a.openViewRequested.connect(self.show_view)
        e = self.views.get("evidence")
        if e is not None:
            e.verifyRequested.connect(self.verify_workspace)
        x = self.views.get("executive")
        if x is not None and hasattr(x, "governanceChanged"):
            x.governanceChanged.connect(self._governance_changed)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        self.new_action = self._action("&New workspace…", self._ask_new_workspace,
                                       QKeySequence.StandardKey.New, "Create a workspace in a new folder")
        self.open_action = self._action("&Open workspace…", self._ask_open_workspace,
                                        QKeySequence.StandardKey.Open, "Open a workspace folder")
        self.recent_menu = m.addMenu("Open &recent")
        self.import_files_action = self._action("&Import evidence…", lambda: self.open_import_wizard(),
                                                "Ctrl+I", "Import evidence files with a preview")
        self.import_folder_action = self._action("Import &folder…", self._ask_import_folder, None,
                                                 "Import every evidence file in a folder")
        self.export_action = self._action("&Export report…", self._ask_export, "Ctrl+E",
                                          "Write the signed PDF and Excel report")
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        m.insertAction(self.recent_menu.menuAction(), self.new_action)
        m.insertAction(self.recent_menu.menuAction(), self.open_action)
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
                             lambda checked=False, n=name: self.show_view(n),
                             f"Ctrl+{i + 1}" if i < 9 else None, getattr(view, "tooltip", ""))
            a.setCheckable(True)
            group.addAction(a)
            m.addAction(a)
            self.view_actions[name] = a
        self.view_actions[VIEW_NAMES[0]].setChecked(True)
        m.addSeparator()
        self.save_view_action = self._action(
            "&Save view…", self.open_save_view_dialog, "Ctrl+Shift+S",
            "Save the dashboard filters, the view shown and the time zone as a named view "
            "(each save adds a version)")
        self.load_view_action = self._action(
            "&Load view…", self.open_load_view_dialog, "Ctrl+Shift+L",
            "Show a saved view, any of its versions")
        m.addAction(self.save_view_action)
        m.addAction(self.load_view_action)
        m.addSeparator()
        self.tz_menu = m.addMenu("Display &time zone")
        self.tz_menu.aboutToShow.connect(self._fill_tz_menu)
        self.theme_menu = m.addMenu("T&heme")
        tg = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for t in THEMES:
            a = self._action(t.capitalize() + (" (follow the system)" if t == "system" else ""),
                             lambda checked=False, t=t: self.set_theme(t))
            a.setCheckable(True)
            tg.addAction(a)
            self.theme_menu.addAction(a)
            self.theme_actions[t] = a

        m = mb.addMenu("&Tools")
        self.recompute_action = self._action("&Recompute", lambda: self.recompute(use_cache=False), "F5",
                                             "Recompute every figure from the evidence")
        self.verify_action = self._action("&Verify workspace", self.verify_workspace, "Ctrl+Shift+V",
                                          "Re-hash every evidence file and check the access log")
        self.policy_action = self._action("&Policy editor…", self.open_policy_editor, "Ctrl+Shift+P",
                                          "Edit the SLA policy, validate it and recompute")
        self.sample_action = self._action("Draw an audit &sample…", lambda: self.show_view("auditor"),
                                          None, "Attribute sampling in the auditor view")
        self.sprints_action = self._action(
            "Sprint &calendar…", lambda: self._ask_nonprod_input("sprints"), None,
            "A sprint calendar (CSV sprint,start,end or Jira sprint JSON): test-environment "
            "availability in each sprint's critical window (release view)")
        self.reservations_action = self._action(
            "Environment &reservations…", lambda: self._ask_nonprod_input("reservations"), None,
            "Environment reservations (CSV environment,reserved_by,start,end): reservation "
            "violations (release view)")
        for a in (self.recompute_action, self.verify_action, self.policy_action, self.sample_action):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.sprints_action)
        m.addAction(self.reservations_action)

        m = mb.addMenu("&Help")
        self.about_action = self._action("&About", self.show_about, QKeySequence.StandardKey.HelpContents)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        m.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for a in (self.import_files_action, self.recompute_action, self.verify_action,
                  self.export_action, self.policy_action):
            tb.addAction(a)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tb.addWidget(spacer)
        tb.addWidget(QLabel("Times shown in "))
        self.tz_combo = QComboBox()
        self.tz_combo.setToolTip("Display time zone of timestamps in tables. Figures and periods "
                                 "stay in UTC.")
        self._fill_tz_combo()
        self.tz_combo.activated.connect(lambda i: self.set_display_timezone(self.tz_combo.itemData(i)))
        tb.addWidget(self.tz_combo)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

    def _zone_choices(self) -> list[str]:
        zones = ["UTC", "local"]
        if self.outcome is not None:
            for cal in self.outcome.policy.calendars.values():
                z = cal.get("timezone")
                if z and z not in zones:
                    zones.append(z)
        for z in COMMON_ZONES:
            if z not in zones:
                zones.append(z)
        cur = display_timezone_name()
        if cur not in zones:
            zones.append(cur)
        return zones

    def _fill_tz_combo(self) -> None:
        self.tz_combo.blockSignals(True)
        self.tz_combo.clear()
        for z in self._zone_choices():
            self.tz_combo.addItem("system zone" if z == "local" else z, z)
        self.tz_combo.setCurrentIndex(max(0, self.tz_combo.findData(display_timezone_name())))
        self.tz_combo.blockSignals(False)

    def _fill_tz_menu(self) -> None:
        self.tz_menu.clear()
        g = QActionGroup(self.tz_menu)
        for z in self._zone_choices():
            a = self.tz_menu.addAction("System zone" if z == "local" else z)
            a.setCheckable(True)
            a.setChecked(z == display_timezone_name())
            a.triggered.connect(lambda checked=False, z=z: self.set_display_timezone(z))
            g.addAction(a)
        self.tz_menu.addSeparator()
        self.tz_menu.addAction("Other…", self._ask_timezone)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_labels: dict[str, QLabel] = {}
        for key in ("workspace", "evidence", "root", "policy", "figures"):
            lab = QLabel()
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            lab.setContentsMargins(6, 0, 6, 0)
            sb.addPermanentWidget(lab)
            self.status_labels[key] = lab

    # ---- settings -----------------------------------------------------------
    def _restore_settings(self) -> None:
        s = settings()
        tz = s.value("display_timezone")
        if tz:
            try:
                set_display_timezone(str(tz))
            except ValueError:
                set_display_timezone("UTC")
        self._fill_tz_combo()
        theme = str(s.value("theme") or "system")
        self.theme_actions.get(theme, self.theme_actions["system"]).setChecked(True)
        self._update_recent_menu()
        if self.remember:
            geo = s.value("geometry")
            if geo:
                self.restoreGeometry(geo)
            state = s.value("window_state")
            if state:
                self.restoreState(state)

    def set_display_timezone(self, name: str | None) -> str:
        """Show timestamps in ``name`` (UTC, ``local`` or an IANA zone); figures stay UTC."""
        name = set_display_timezone(name)
        settings().setValue("display_timezone", name)
        self._fill_tz_combo()
        self.statusBar().showMessage(f"Timestamps shown in {name}; figures and periods stay in UTC", 6000)
        return name

    def _ask_timezone(self) -> None:
        from .wizard import time_zones

        zones = time_zones()
        cur = display_timezone_name()
        z, ok = QInputDialog.getItem(self, "Display time zone", "Show timestamps in:", zones,
                                     zones.index(cur) if cur in zones else 0, True)
        if ok and z:
            try:
                self.set_display_timezone(z)
            except ValueError as exc:
                QMessageBox.warning(self, "Unknown time zone", str(exc))

    def set_theme(self, mode: str) -> str:
        app = QApplication.instance()
        scheme = apply_theme(app, mode) if app is not None else "light"  # type: ignore[arg-type]
        settings().setValue("theme", mode)
        if mode in self.theme_actions:
            self.theme_actions[mode].setChecked(True)
        return scheme

    def recent_workspaces(self) -> list[str]:
        return [p for p in _as_list(settings().value("recent_workspaces"))
                if (Path(p) / "workspace.sqlite").exists()]

    def _remember_workspace(self, path: Path) -> None:
        s = settings()
        s.setValue("last_workspace", str(path))
        recent = [p for p in _as_list(s.value("recent_workspaces")) if p != str(path)]
        s.setValue("recent_workspaces", [str(path), *recent][:MAX_RECENT])
        self._update_recent_menu()

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_workspaces()
        for i, p in enumerate(recent):
            a = self.recent_menu.addAction(f"&{i + 1} {Path(p).name}  —  {p}")
            a.triggered.connect(lambda checked=False, p=p: self._open_checked(Path(p)))
        self.recent_menu.setEnabled(bool(recent))

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
            v.set_outcome(None)  # type: ignore[attr-defined]
        if self.remember:
            self._remember_workspace(self.workspace_path)
        self.setWindowTitle(f"{self.workspace_path.name} — {APP_TITLE}")
        self._update_status()
        self.workspace_changed.emit(str(self.workspace_path))
        if recompute:
            self.recompute()

    def _open_checked(self, p: Path) -> None:
        try:
            self.open_workspace(p)
        except WorkbenchError as exc:
            QMessageBox.critical(self, "Cannot open workspace", str(exc))

    # ---- sprint calendar and reservations (inputs of the non-production analyses) ----
    def nonprod_inputs(self) -> dict[str, str | None]:
        """The sprint calendar and reservations files of the shown workspace (kept in
        the settings per workspace), as ``recompute_workspace`` takes them."""
        out: dict[str, str | None] = {"sprints": None, "reservations": None}
        if self.workspace_path is None:
            return out
        st = settings()
        for k in out:
            v = st.value(f"nonprod/{self.workspace_path.as_posix()}/{k}", "")
            out[k] = str(v) if v and Path(str(v)).is_file() else None
        return out

    def set_nonprod_input(self, kind: str, path: str | None, *, recompute: bool = True) -> None:
        """Use ``path`` as the ``kind`` ("sprints" or "reservations") file of this
        workspace (None: none) and recompute."""
        if kind not in ("sprints", "reservations") or self.workspace_path is None:
            return
        st = settings()
        key = f"nonprod/{self.workspace_path.as_posix()}/{kind}"
        if path:
            st.setValue(key, str(Path(path).resolve()))
        else:
            st.remove(key)
        st.sync()
        if recompute:
            self.recompute()

    def _ask_nonprod_input(self, kind: str) -> None:
        what = "sprint calendar" if kind == "sprints" else "environment reservations"
        current = self.nonprod_inputs().get(kind)
        if current:
            box = QMessageBox(QMessageBox.Icon.Question, f"The {what}",
                              f"The figures use {current}.", parent=self)
            change = box.addButton("Choose another…", QMessageBox.ButtonRole.AcceptRole)
            forget = box.addButton("Use none", QMessageBox.ButtonRole.DestructiveRole)
            box.addButton(QMessageBox.StandardButton.Cancel)
            box.exec()
            if box.clickedButton() is forget:
                self.set_nonprod_input(kind, None)
                return
            if box.clickedButton() is not change:
                return
        filters = ("Sprint calendars (*.csv *.json);;All files (*)" if kind == "sprints"
                   else "Reservations (*.csv);;All files (*)")
        path, _ = QFileDialog.getOpenFileName(self, f"Choose the {what}", str(self._start_dir()), filters)
        if path:
            self.set_nonprod_input(kind, path)

    def set_policy(self, path: str | None, *, recompute: bool = True) -> None:
        """Compute under the policy file ``path`` (None: the default policy)."""
        self.policy_path = path
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
        row = VIEW_NAMES.index(name)
        if self.nav.currentRow() != row:
            self.nav.blockSignals(True)
            self.nav.setCurrentRow(row)
            self.nav.blockSignals(False)
        return view

    def current_view(self) -> str:
        w = self.stack.currentWidget()
        return next(n for n, v in self.views.items() if v is w)

    @property
    def overview(self) -> Any:
        return self.views["overview"]

    # ---- drill-down ---------------------------------------------------------
    def open_drilldown(self, spec: dict[str, Any]) -> DrillDownDialog | None:
        """Open the deployments behind a figure (``spec`` as in
        :func:`workbench.ui.drill.deployments_behind`, plus ``title``)."""
        if self.outcome is None:
            return None
        keys = {k: spec.get(k) for k in ("service", "team", "tier", "environment", "strategy",
                                         "deployment_id", "status")}
        frame = deployments_behind(self.outcome.results, self.outcome.policy, period=spec.get("period"),
                                   only_failures=bool(spec.get("only_failures")), **keys)
        dlg = DrillDownDialog(frame, spec, self)
        self.drilldowns.append(dlg)
        dlg.finished.connect(lambda _r, d=dlg: self.drilldowns.remove(d) if d in self.drilldowns else None)
        dlg.show()
        self.drilled.emit(dlg)
        return dlg

    # ---- tasks --------------------------------------------------------------
    def _start(self, fn: Any, *args: Any, title: str, on_done: Any, after: Any = None,
               on_fail: Callable[[str], None] | None = None, **kwargs: Any) -> None:
        self._on_task_done = on_done
        self._on_task_fail = on_fail
        self._after_task = after
        self.runner.start(fn, *args, title=title, **kwargs)

    def _task_finished(self, result: object) -> None:
        done, self._on_task_done = self._on_task_done, None
        after, self._after_task = self._after_task, None
        self._on_task_fail = None
        if done is not None:
            done(result)
        if after is not None:
            after()

    def _task_failed(self, message: str) -> None:
        fail = self._on_task_fail
        self._on_task_done = self._after_task = self._on_task_fail = None
        self.statusBar().showMessage(f"{self.runner.title} failed", 10_000)
        self._update_status()
        if fail is not None:
            fail(message)
        self.task_failed.emit(message)
        box = QMessageBox(QMessageBox.Icon.Critical, f"{self.runner.title} failed", message,
                          QMessageBox.StandardButton.Ok, self)
        if self.runner.last_traceback:  # an unexpected error: keep the details at hand
            box.setDetailedText(self.runner.last_traceback)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _task_cancelled(self, message: str) -> None:
        self._on_task_done = self._after_task = self._on_task_fail = None
        self.statusBar().showMessage(f"{message}; nothing was changed", 10_000)
        self._update_status()
        self.task_cancelled.emit(message)

    def recompute(self, *, use_cache: bool = True) -> None:
        """The figures, off the GUI thread: the saved ones when they are of exactly
        these inputs, else recomputed.  F5 (``use_cache=False``) always recomputes."""
        if self.workspace_path is None:
            return
        self._start(jobs.recompute_workspace, self.workspace_path, self.policy_path,
                    use_cache=use_cache, **self.nonprod_inputs(),
                    title="Recompute", on_done=self._show_outcome)

    def recompute_now(self) -> jobs.Outcome:
        """Recompute on the calling thread (screenshots: the result is complete
        before anything is drawn)."""
        assert self.workspace_path is not None
        outcome = run_sync(jobs.recompute_workspace, self.workspace_path, self.policy_path,
                           **self.nonprod_inputs())
        self._show_outcome(outcome)
        return outcome

    def show_outcome(self, outcome: jobs.Outcome) -> None:
        """Show a recompute made elsewhere (tests reuse one recompute for many windows)."""
        self._show_outcome(outcome)

    def _show_outcome(self, outcome: object) -> None:
        assert isinstance(outcome, jobs.Outcome)
        if self.workspace_path is None or outcome.workspace.resolve() != self.workspace_path:
            return  # a result for a workspace no longer shown
        self.outcome = outcome
        for v in self.views.values():
            v.set_outcome(outcome)  # type: ignore[attr-defined]
        self._update_status()
        self._fill_tz_combo()
        r = outcome.results
        how = "Loaded the saved" if getattr(outcome, "cache", "") == "hit" else "Recomputed"
        self.statusBar().showMessage(
            f"{how} {r.metrics.height:,} figures from {outcome.evidence_files} evidence files", 8000)
        self.recomputed.emit(outcome)

    def _governance_changed(self, action: str, record: dict) -> None:
        """A waiver or RCA changed: approved waivers exempt breaches and RCAs change
        findings, so the figures are recomputed."""
        what = record.get("waiver_id") or record.get("rca_id") or ""
        self.statusBar().showMessage(f"{what}: {action.replace('_', ' ')} recorded; recomputing", 8000)
        self.recompute()

    # ---- import -------------------------------------------------------------
    def import_paths(self, paths: list[str | Path]) -> None:
        """Import files or folders off the GUI thread (no preview), then recompute."""
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
        self.imported.emit(reps)

    def open_import_wizard(self, paths: list[str | Path] | None = None) -> Any:
        """Open the import wizard (with ``paths`` preselected: straight to the preview)."""
        from .wizard import ImportWizard

        if self.workspace_path is None:
            return None
        if self.wizard is not None:
            self.wizard.close()
        wiz = ImportWizard(self.workspace_path, paths, self)
        wiz.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wiz.imported.connect(self._wizard_imported)
        wiz.finished.connect(lambda _r: self._wizard_closed(wiz))
        self.wizard = wiz
        wiz.open()
        return wiz

    def _wizard_imported(self, reports: list) -> None:
        self._imported(reports)
        self.recompute()

    def _wizard_closed(self, wiz: Any) -> None:
        if self.wizard is wiz:
            self.wizard = None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        md = event.mimeData()
        if md.hasUrls() and any(u.isLocalFile() for u in md.urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_import_wizard(paths)

    # ---- verify -------------------------------------------------------------
    def verify_workspace(self) -> None:
        if self.workspace_path is None:
            return
        self._start(jobs.verify_workspace, self.workspace_path, title="Verify workspace",
                    on_done=self._verified, on_fail=self._verify_failed)

    def _views_with(self, method: str) -> list[Any]:
        return [v for v in self.views.values() if hasattr(v, method)]

    def _verified(self, lines: object) -> None:
        text = list(lines)  # type: ignore[call-overload]
        from datetime import datetime

        when = datetime.now().strftime("%H:%M:%S")
        for v in self._views_with("set_verification"):
            if v.name == "evidence":
                v.set_verification(True, f"at {when}: {len(text) - 2} files re-hashed", text)
            else:
                v.set_verification(True, f"at {when}, this session")
        box = QMessageBox(QMessageBox.Icon.Information, "Workspace verified",
                          f"Every evidence file and the access log verified.\n{text[-1] if text else ''}",
                          QMessageBox.StandardButton.Ok, self)
        box.setDetailedText("\n".join(text))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.statusBar().showMessage("Workspace verified", 8000)
        self.verified.emit(text)

    def _verify_failed(self, message: str) -> None:
        for v in self._views_with("set_verification"):
            if v.name == "evidence":
                v.set_verification(False, message[:120], [message])
            else:
                v.set_verification(False, message[:120])

    # ---- export ---------------------------------------------------------------
    def export_report(self, pdf: str | None, xlsx: str | None, *, period: str | None = None,
                      key: str | None = None, passphrase: bytes | None = None,
                      verify: bool = False) -> None:
        """Write the signed report(s) off the GUI thread (File > Export report…);
        with ``verify`` the files are verified afterwards, also off the GUI thread."""
        if self.workspace_path is None:
            return
        self._start(jobs.export_reports, self.workspace_path, pdf=pdf, xlsx=xlsx,
                    policy_path=self.policy_path, period=period, key=key, passphrase=passphrase,
                    title="Export report",
                    on_done=lambda paths: self._exported(paths, verify=verify))

    def _exported(self, paths: object, *, verify: bool = False) -> None:
        files = [str(p) for p in paths]  # type: ignore[attr-defined]
        self.statusBar().showMessage("Wrote " + ", ".join(files), 15_000)
        self.exported.emit(files)
        if verify:
            root = self.ws.evidence_root() if self.ws is not None else None
            self._start(jobs.verify_report_files, files, workspace_root=root, title="Verify report",
                        on_done=lambda res: self._report_verified(files, res))
            return
        box = QMessageBox(QMessageBox.Icon.Information, "Report exported",
                          "Wrote the signed report:\n" + "\n".join(files), QMessageBox.StandardButton.Ok,
                          self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _report_verified(self, files: list[str], results: object) -> None:
        rows = [(f, bool(r.ok), list(r.messages)) for f, r in zip(files, results)]  # type: ignore[call-overload]
        ok = all(r[1] for r in rows)
        text = "\n\n".join(f"{'VERIFIED' if good else 'FAILED'}  {f}\n  " + "\n  ".join(msgs)
                           for f, good, msgs in rows)
        box = QMessageBox(QMessageBox.Icon.Information if ok else QMessageBox.Icon.Critical,
                          "Report exported and verified" if ok else "Report verification failed",
                          ("Wrote and verified the signed report:\n" if ok else
                           "The report was written but does not verify:\n") + "\n".join(files),
                          QMessageBox.StandardButton.Ok, self)
        box.setDetailedText(text)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.reportVerified.emit(rows)

    # ---- sampling -------------------------------------------------------------
    def draw_sample(self, *, population: str, seed: int, out: str | None = None,
                    risk: float = 0.05, tolerable: float = 0.05, expected: float = 0.0) -> None:
        """Draw an attribute sample from the figures shown and save the tick sheet."""
        if self.outcome is None:
            return
        self._start(jobs.draw_sample, self.outcome, population, seed=seed, out=out, risk=risk,
                    tolerable=tolerable, expected=expected, title="Draw sample",
                    on_done=lambda s: self._sampled(s, out))

    def _sampled(self, sample: Any, out: str | None) -> None:
        a = self.views.get("auditor")
        if a is not None:
            a.show_sample(sample, out)
        self.statusBar().showMessage(f"Drew {sample.size} items" + (f"; wrote {out}" if out else ""), 10_000)
        self.sampled.emit(sample)

    # ---- dialogs ------------------------------------------------------------
    def _start_dir(self) -> Path:
        return self.workspace_path.parent if self.workspace_path else Path.home()

    def _ask_new_workspace(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New workspace (a new folder)",
                                              str(self._start_dir() / "new-workspace"), "Folder (*)")
        if not path:
            return
        p = Path(path)
        if p.exists() and (not p.is_dir() or any(p.iterdir())) and not (p / "workspace.sqlite").exists():
            QMessageBox.warning(self, "Not an empty folder",
                                f"{p} exists and is not empty; choose a new folder name.")
            return
        self._open_checked(p)

    def _ask_open_workspace(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open workspace", str(self._start_dir()))
        if not d:
            return
        p = Path(d)
        if not (p / "workspace.sqlite").exists() and any(p.iterdir()):
            ans = QMessageBox.question(
                self, "Create workspace?",
                f"{p} is not a workspace. Create a new workspace in this folder?")
            if ans != QMessageBox.StandardButton.Yes:
                return
        self._open_checked(p)

    def _ask_import_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Import evidence folder", str(Path.home()))
        if d:
            self.open_import_wizard([d])

    def _periods(self) -> list[str]:
        if self.outcome is None or self.outcome.results.metrics.height == 0:
            return []
        return sorted(self.outcome.results.metrics["period"].unique().to_list(), reverse=True)

    def open_export_dialog(self) -> Any:
        from .dialogs import ExportDialog

        dlg = ExportDialog(self._start_dir(), self._periods(), self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.accepted.connect(lambda: self.export_report(**dlg.values()))
        self.export_dialog = dlg
        dlg.open()
        return dlg

    def _ask_export(self) -> None:
        self.open_export_dialog()

    def open_policy_editor(self) -> Any:
        from .dialogs import PolicyEditor

        if self.policy_editor is not None:
            self.policy_editor.raise_()
            return self.policy_editor
        ed = PolicyEditor(self.policy_path, self)
        ed.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        ed.policySaved.connect(lambda p: self.set_policy(p))
        ed.finished.connect(lambda _r: setattr(self, "policy_editor", None))
        self.policy_editor = ed
        ed.show()
        return ed

    # ---- saved views (View > Save view… / Load view…) --------------------------------------
    def current_view_state(self) -> dict[str, Any]:
        """What a saved view keeps: the dashboard (overview) filters, the view shown and
        the display time zone -- :func:`workbench.workspace.views.save_view`'s arguments."""
        f = dict(self.views["overview"].filters()) if "overview" in self.views else {}
        shown = self.stack.currentWidget()
        return {"filters": {k: v for k, v in f.items() if v is not None and v != ""},
                "view": getattr(shown, "name", None), "display_tz": display_timezone_name()}

    def save_current_view(self, name: str, note: str | None = None) -> Any:
        """Save the current filters as the next version of ``name`` (recorded in the
        access log); returns the SavedView."""
        from ..workspace.views import save_view

        if self.ws is None:
            raise WorkbenchError("no workspace is open")
        sv = save_view(self.ws, name, note=note, **self.current_view_state())
        self.statusBar().showMessage(f"Saved view {sv.name!r} version {sv.version}", 8000)
        self.viewSaved.emit(sv)
        return sv

    def apply_saved_view(self, sv: Any) -> list[str]:
        """Show a saved view: its filters on the dashboard, its time zone and view.
        Returns what could not be applied (a team this workspace does not have, ...)."""
        problems: list[str] = []
        if sv.display_tz and sv.display_tz != display_timezone_name():
            try:
                self.set_display_timezone(sv.display_tz)
            except Exception as exc:  # noqa: BLE001 - an unknown zone on this machine
                problems.append(f"time zone {sv.display_tz}: {exc}")
        ov = self.views.get("overview")
        f = sv.filters
        if ov is not None:
            wanted = {"environment": f.get("environment"), "team": f.get("team"),
                      "tier": f.get("tier"), "period_kind": f.get("period_kind"),
                      "text": f.get("text", ""), "slo_only": bool(f.get("slo_only", False))}
            for key, value in wanted.items():
                if value is None and key in ("environment", "period_kind"):
                    continue
                try:
                    ov.set_filter(**{key: value})
                except ValueError as exc:
                    problems.append(str(exc))
            for key in ("service", "metric", "period"):
                if f.get(key) is not None:
                    problems.append(f"{key} {f[key]!r} has no filter on the dashboard")
        if sv.view and sv.view in self.views:
            self.show_view(sv.view)
        msg = f"Showing view {sv.name!r} version {sv.version}"
        self.statusBar().showMessage(msg + (f"; not applied: {'; '.join(problems)}" if problems else ""),
                                     10_000)
        self.viewLoaded.emit(sv)
        return problems

    def load_saved_view(self, name: str, version: int | None = None) -> Any:
        from ..workspace.views import load_view

        if self.ws is None:
            raise WorkbenchError("no workspace is open")
        sv = load_view(self.ws, name, version)
        self.apply_saved_view(sv)
        return sv

    def open_save_view_dialog(self) -> Any:
        from ..workspace.views import list_views
        from .dialogs import SaveViewDialog, describe_view_state

        if self.ws is None:
            return None
        st = self.current_view_state()
        dlg = SaveViewDialog(list_views(self.ws), describe_view_state(**st), self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.accepted.connect(lambda: self._save_view_from(dlg))
        self.view_dialog = dlg
        dlg.open()
        return dlg

    def _save_view_from(self, dlg: Any) -> None:
        try:
            self.save_current_view(**dlg.values())
        except WorkbenchError as exc:
            QMessageBox.critical(self, "Cannot save the view", str(exc))

    def open_load_view_dialog(self) -> Any:
        from ..workspace import views as V
        from .dialogs import LoadViewDialog

        if self.ws is None:
            return None
        ws = self.ws
        dlg = LoadViewDialog(V.list_views(ws), lambda n: V.view_history(ws, n),
                             lambda n, a, b: V.diff_views(ws, n, a, b), self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.accepted.connect(lambda: self._load_view_from(dlg))
        self.view_dialog = dlg
        dlg.open()
        return dlg

    def _load_view_from(self, dlg: Any) -> None:
        v = dlg.selected_view()
        if v is not None:
            self.apply_saved_view(v)

    def show_about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.NoIcon, f"About {APP_TITLE}", about_text(),
                          QMessageBox.StandardButton.Ok, self)
        icon = app_icon()
        if not icon.isNull():
            box.setIconPixmap(icon.pixmap(64, 64))
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # ---- lifecycle ----------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self.remember:
            s = settings()
            s.setValue("geometry", self.saveGeometry())
            s.setValue("window_state", self.saveState())
        for v in self.views.values():
            if hasattr(v, "shutdown"):
                v.shutdown()
        if self.wizard is not None:
            self.wizard.done(0)
        self.runner.shutdown()
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        super().closeEvent(event)


def versions() -> dict[str, str]:
    import numpy
    import scipy

    return {"Release SLA Workbench": __version__, "Python": platform.python_version(),
            "Qt": qVersion(), "PySide6": PySide6.__version__, "polars": pl.__version__,
            "pyqtgraph": pg.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
            "Platform": platform.platform(terse=True)}


def about_text() -> str:
    rows = "".join(f"<tr><td>{k}</td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in versions().items())
    return (f"<h3>{APP_TITLE}</h3><p>Recomputes DORA and SLA figures from hashed evidence "
            f"under an explicit policy, explains every gap to the reported figures, and "
            f"exports signed, verifiable reports.</p><table>{rows}</table>"
            f"<p><small>Display time zone: {display_timezone_name()}; figures are computed in UTC."
            f"</small></p>")
