"""GUI tests (pytest-qt, offscreen).  Threaded work is awaited with
``qtbot.waitSignal``; every window is closed and deleted at the end of its test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QImage, QKeySequence  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QWidget,
)

from workbench.errors import Cancelled, InputError, WorkbenchError  # noqa: E402
from workbench.progress import step  # noqa: E402
from workbench.ui import jobs  # noqa: E402
from workbench.ui.main_window import MainWindow  # noqa: E402
from workbench.ui.models import PolarsTableModel, format_value, text_filter_expr  # noqa: E402
from workbench.ui.tasks import TaskRunner  # noqa: E402
from tests.qt_helpers import assert_no_leaked_windows, close_boxes, flush_deletes  # noqa: E402
from workbench.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui]

HANDMADE = Path(__file__).resolve().parent / "data" / "handmade"
TIMEOUT = 60_000


# ---- fixtures (ws_path: tests/conftest.py) -----------------------------------



@pytest.fixture
def make_window(qtbot):
    """Create main windows; at teardown close and delete them and fail on leaks."""
    windows: list[MainWindow] = []

    def make(path: Path, **kwargs) -> MainWindow:
        w = MainWindow(path, **kwargs)
        windows.append(w)
        return w

    yield make
    assert_no_leaked_windows(windows)


def _wait_recompute(qtbot, win: MainWindow) -> None:
    # the result arrives through a queued signal, so it cannot be delivered before
    # this wait starts the event loop
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        pass


def _metric_rows(win: MainWindow, **eq) -> pl.DataFrame:
    m = win.outcome.results.metrics.filter(pl.col("variant") == "policy",
                                           pl.col("period_kind") == "month")
    for k, v in eq.items():
        m = m.filter(pl.col(k) == v)
    return m.sort("period")


# ---- main window ------------------------------------------------------------
def test_window_recomputes_and_filters(qtbot, ws_path, make_window):
    win = make_window(ws_path)
    _wait_recompute(qtbot, win)
    view = win.overview
    assert win.stack.currentWidget() is view
    assert view.filters()["environment"] == "production"
    assert view.filters()["team"] is None
    assert view.filters()["period_kind"] == "quarter"
    model = view.table_model
    n_all = model.rowCount()
    assert n_all > 0
    assert set(model.view_frame["environment"]) == {"production"}
    assert set(model.view_frame["period_kind"]) == {"quarter"}
    # rows with an SLO come first
    slo = model.view_frame["slo"].is_not_null().to_list()
    assert slo[0] and slo == sorted(slo, reverse=True)

    # the plot shows the engine's environment-level monthly figures
    env = _metric_rows(win, level="environment", environment="production")
    x, y = view.deploy_curve.getOriginalDataset()
    assert len(x) == len(y) + 1
    dep = env.filter(pl.col("metric") == "deployments")
    assert y.tolist() == dep["value"].to_list()
    _, cfr_before = view.cfr_curve.getOriginalDataset()
    cfr = env.filter(pl.col("metric") == "change_failure_rate")["value"].to_numpy() * 100
    np.testing.assert_allclose(cfr_before, cfr)
    dep_before = view.deploy_curve.getData()[1].copy()
    cfr_before = view.cfr_curve.getData()[1].copy()

    # one team: fewer rows, different curves, same objects updated with setData
    curve = view.deploy_curve
    with qtbot.waitSignal(view.filtersChanged, timeout=TIMEOUT) as sig:
        view.team_combo.setCurrentIndex(view.team_combo.findData("beta"))
    assert sig.args[0]["team"] == "beta"
    assert 0 < model.rowCount() < n_all
    assert set(model.view_frame["team"]) == {"beta"}
    assert view.deploy_curve is curve
    assert not np.array_equal(view.deploy_curve.getData()[1], dep_before)
    assert not np.array_equal(view.cfr_curve.getData()[1], cfr_before, equal_nan=True)
    team = _metric_rows(win, level="team", team="beta", environment="production")
    beta = dict(zip(*team.filter(pl.col("metric") == "deployments")
                    .select("period", "value").to_dict(as_series=False).values()))
    frame = view.plot_frame()
    assert frame["deployments"].to_list() == [beta.get(p, 0.0) for p in frame["period"]]
    # team beta is all tier 2: the CFR SLO line of tier 2 is drawn at its target
    assert view.plot_tier == 2
    assert view.slo_target == pytest.approx(0.2)
    assert view.slo_curve.isVisible()
    np.testing.assert_allclose(view.slo_curve.getData()[1], [20.0, 20.0])

    # back to all teams through the API, then the free-text filter
    view.set_filter(team=None)
    assert model.rowCount() == n_all
    assert not view.slo_curve.isVisible()  # pay is tier 0, shop tier 2
    view.set_filter(text="SHOP")
    assert set(model.view_frame["service"]) == {"shop"}
    view.set_filter(text="", period_kind="month", slo_only=True)
    assert model.rowCount() == 0  # the default SLOs are all quarterly
    with pytest.raises(ValueError, match="unknown team"):
        view.set_filter(team="nobody")


def test_status_bar_menus_and_shortcuts(qtbot, ws_path, make_window):
    win = make_window(ws_path)
    _wait_recompute(qtbot, win)
    with Workspace.open(ws_path) as ws:
        root = ws.evidence_root()
        n = len(ws.manifest())
    text = " ".join(lab.text() for lab in win.status_labels.values())
    assert ws_path.name in text
    assert f"{n} evidence files" in text
    assert root[:12] in text
    assert win.outcome.policy.sha256[:12] in text
    r = win.outcome.results
    assert f"{r.metrics.height:,} figures" in text and f"{r.findings.height} findings" in text
    menus = [a.text().replace("&", "") for a in win.menuBar().actions()]
    assert menus == ["File", "View", "Tools", "Help"]
    assert win.open_action.shortcut() == QKeySequence("Ctrl+O")
    assert win.import_files_action.shortcut() == QKeySequence("Ctrl+I")
    assert win.export_action.shortcut() == QKeySequence("Ctrl+E")
    assert win.recompute_action.shortcut() == QKeySequence("F5")
    assert win.quit_action.shortcut() == QKeySequence("Ctrl+Q")
    # F5 recomputes off the GUI thread again
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT) as sig:
        win.recompute_action.trigger()
    assert sig.args[0].evidence_root == root
    with pytest.raises(WorkbenchError, match="known views: overview"):
        win.show_view("nope")
    from workbench.ui.main_window import about_text

    about = about_text()
    for name in ("Python", "Qt", "PySide6", "polars", "pyqtgraph"):
        assert name in about


def test_import_then_recompute(qtbot, tmp_path, make_window):
    win = make_window(tmp_path / "new-ws")
    _wait_recompute(qtbot, win)
    assert win.overview.table_model.rowCount() == 0
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        win.import_paths([HANDMADE])
    assert win.overview.table_model.rowCount() > 0
    assert "5 evidence files" in win.status_labels["evidence"].text()


def test_failed_task_shows_error_and_cancel_shows_status(qtbot, ws_path, make_window, tmp_path):
    win = make_window(ws_path, recompute=False)
    with qtbot.waitSignal(win.task_failed, timeout=TIMEOUT) as sig:
        win.import_paths([tmp_path / "missing"])
    assert "no such file or folder" in sig.args[0]
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    assert boxes and boxes[0].isVisible()
    for b in boxes:
        b.close()

    gate = threading.Event()
    with qtbot.waitSignal(win.task_cancelled, timeout=TIMEOUT) as sig:
        win._start(_loop_until_cancelled, gate, title="Long job", on_done=None)
        assert gate.wait(30)
        win.runner.cancel()
    assert "Long job" in sig.args[0]
    assert "cancelled" in win.statusBar().currentMessage()
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)
                and w.isVisible()]


# ---- tasks ------------------------------------------------------------------
def _loop_until_cancelled(started: threading.Event, *, progress) -> str:
    """Steps until cancelled (Cancelled propagates), or gives up after 30 s."""
    deadline = time.monotonic() + 30
    i = 0
    while time.monotonic() < deadline:
        step(progress, (i % 1000) / 1000, f"step {i}")
        started.set()
        i += 1
        threading.Event().wait(0.002)
    return "never cancelled"


def test_task_cancel(qtbot):
    runner = TaskRunner()
    started = threading.Event()
    finished = []
    runner.finished.connect(finished.append)
    with qtbot.waitSignal(runner.progressed, timeout=TIMEOUT):
        runner.start(_loop_until_cancelled, started, title="Loop")
    assert runner.is_running()
    with qtbot.waitSignal(runner.cancelled, timeout=TIMEOUT) as sig:
        runner.cancel()
    assert "Loop" in sig.args[0]
    assert not runner.is_running() and not finished
    assert runner.wait(10_000)
    runner.deleteLater()


def test_task_cancel_button_of_progress_dialog(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    runner = TaskRunner(parent, dialog_parent=parent, dialog_delay_ms=0)
    started = threading.Event()
    runner.start(_loop_until_cancelled, started, title="Loop")
    dialog = runner._dialog
    assert isinstance(dialog, QProgressDialog)
    with qtbot.waitSignal(runner.cancelled, timeout=TIMEOUT):
        assert started.wait(30)
        dialog.findChild(QPushButton).click()
    assert runner._dialog is None
    assert runner.wait(10_000)


def test_task_result_and_failure_on_gui_thread(qtbot):
    runner = TaskRunner()
    gui = threading.get_ident()
    seen = []

    def work(x, *, progress):
        step(progress, 0.5, "half")
        return (x * 2, threading.get_ident())

    runner.finished.connect(lambda r: seen.append(threading.get_ident()))
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT) as sig:
        runner.start(work, 21)
    value, worker = sig.args[0]
    assert value == 42 and worker != gui and seen == [gui]

    def bad(*, progress):
        raise InputError("bad value", file="x.csv", row=3, column="status")

    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT) as sig:
        runner.start(bad)
    assert sig.args[0] == "file x.csv, row 3, column 'status': bad value"

    def cancels(*, progress):
        raise Cancelled("stopped")

    with qtbot.waitSignal(runner.cancelled, timeout=TIMEOUT):
        runner.start(cancels)
    assert runner.wait(10_000)
    runner.deleteLater()


def test_new_task_drops_previous_result(qtbot):
    runner = TaskRunner()
    started = threading.Event()
    results = []
    runner.finished.connect(results.append)
    runner.start(_loop_until_cancelled, started)
    assert started.wait(30)
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT):
        runner.start(lambda *, progress: "second")
    assert results == ["second"]
    assert runner.wait(10_000)
    runner.deleteLater()


# ---- model ------------------------------------------------------------------
def _frame() -> pl.DataFrame:
    return pl.DataFrame({
        "service": ["b", "a", "c", None],
        "value": [0.123456, 12345.678, None, 2.0],
        "at": [datetime(2026, 7, 1, 9, tzinfo=timezone.utc), None,
               datetime(2026, 1, 2, tzinfo=timezone.utc), datetime(2026, 3, 4, tzinfo=timezone.utc)],
        "compliant": [True, False, None, True],
        "breach": [False, True, None, False],
    })


def test_model_sorts_through_index_without_copying(qtbot):
    df = _frame()
    model = PolarsTableModel(df)
    view_frame = model.view_frame
    col = model.columns.index("service")
    shown = lambda: [model.data(model.index(r, col)) for r in range(model.rowCount())]  # noqa: E731
    assert shown() == ["b", "a", "c", ""]
    with qtbot.waitSignal(model.layoutChanged):
        model.sort(col, Qt.SortOrder.AscendingOrder)
    assert shown() == ["a", "b", "c", ""]  # nulls last
    assert model.view_frame is view_frame and model.frame is df  # no copy, no reorder
    model.sort(col, Qt.SortOrder.DescendingOrder)
    assert shown() == ["c", "b", "a", ""]
    assert model.row_dict(0)["service"] == "c"
    model.sort(-1)
    assert shown() == ["b", "a", "c", ""]


def test_model_formatting_roles_and_filter(qtbot):
    model = PolarsTableModel(_frame(), columns=["service", "value", "at", "compliant", "breach"],
                             headers={"value": "Value"})
    d = lambda r, c, role=Qt.ItemDataRole.DisplayRole: model.data(model.index(r, c), role)  # noqa: E731
    assert [d(r, 1) for r in range(4)] == ["0.1235", "12,346", "", "2"]
    assert d(0, 2) == "2026-07-01T09:00:00Z" and d(1, 2) == ""
    assert d(0, 3) == "yes" and d(1, 3) == "no"
    assert d(0, 1, Qt.ItemDataRole.ToolTipRole) == "0.123456"
    good = d(0, 3, Qt.ItemDataRole.BackgroundRole).color()
    bad = d(1, 3, Qt.ItemDataRole.BackgroundRole).color()
    assert good.green() > good.red() and bad.red() > bad.green()
    assert d(1, 4, Qt.ItemDataRole.BackgroundRole).color().red() > 150  # a breach
    assert d(0, 4, Qt.ItemDataRole.BackgroundRole) is None  # no breach: not highlighted
    assert d(2, 3, Qt.ItemDataRole.BackgroundRole) is None  # null
    assert d(0, 0, Qt.ItemDataRole.BackgroundRole) is None  # not a status column
    assert d(0, 0, Qt.ItemDataRole.DecorationRole) is None  # unhandled role
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Value"
    assert model.headerData(0, Qt.Orientation.Horizontal) == "service"

    with qtbot.waitSignal(model.modelReset):
        model.set_filter(pl.col("value") > 1)
    assert model.rowCount() == 2
    model.set_filter(text_filter_expr("A", ["service"]))
    assert model.rowCount() == 1 and d(0, 0) == "a"
    model.set_filter(None)
    assert model.rowCount() == 4
    model.set_frame(_frame().head(0))
    assert model.rowCount() == 0 and model.data(model.index(0, 0)) is None


def test_format_value():
    assert format_value(None) == "" and format_value(float("nan")) == ""
    assert format_value(0.99951234) == "0.9995"
    assert format_value(25.75) == "25.75"
    assert format_value(7939800.0) == "7,939,800"
    assert format_value(datetime(2026, 7, 5, 14, 30, tzinfo=timezone.utc)) == "2026-07-05T14:30:00Z"
    assert format_value(datetime(2026, 7, 5, 14, 30)) == "2026-07-05T14:30:00Z"


# ---- headless helpers and screenshot -----------------------------------------
def test_jobs_run_without_qt_progress(ws_path):
    from workbench.progress import NullProgress

    outcome = jobs.recompute_workspace(ws_path, progress=NullProgress())
    assert outcome.results.metrics.height > 0 and outcome.evidence_files == 5


def test_screenshot_writes_png_of_requested_size(qapp, ws_path, tmp_path):
    from workbench.ui.screenshot import screenshot

    out = screenshot("overview", tmp_path / "shots" / "overview.png", workspace=ws_path,
                     width=1000, height=700)
    assert out.stat().st_size > 10_000
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1000, 700)
    # not blank: the table's status colours and the plot are there
    assert len({img.pixel(x, y) for x in range(0, 1000, 7) for y in range(0, 700, 7)}) > 20
    with pytest.raises(WorkbenchError, match="known views: overview"):
        screenshot("nope", tmp_path / "x.png", workspace=ws_path)
    with pytest.raises(WorkbenchError, match="not a workspace"):
        screenshot("overview", tmp_path / "x.png", workspace=tmp_path / "nothing")
    flush_deletes()
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]


# ---- application ------------------------------------------------------------
def test_run_gui_opens_given_workspace_and_remembers_it(qapp, ws_path, monkeypatch):
    from workbench.ui import app as app_module

    shown = []

    def fake_exec():  # instead of the event loop: look at the window, then close it
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        shown.extend(wins)
        for w in wins:
            w.close()
            w.deleteLater()
        return 0

    monkeypatch.setattr(qapp, "exec", fake_exec, raising=False)
    assert app_module.run_gui(str(ws_path)) == 0
    assert len(shown) == 1 and shown[0].workspace_path == ws_path.resolve()
    flush_deletes()
    # the next start without a workspace opens the same one again
    assert app_module.default_workspace() == (ws_path.resolve(), False)


def test_default_workspace_is_the_sample_workspace(qapp):
    from workbench.ui import app as app_module

    path, _needs_import = app_module.default_workspace()
    assert path == jobs.sample_workspace_path()
    assert path.parent == Path(os.environ["WORKBENCH_CONFIG_DIR"])


def test_qt_binding_survives_many_calls(tmp_path):
    """PySide6 6.12 on CPython 3.11 loses a reference to None/True per call and the
    interpreter aborts (see workbench/ui/_compat.py); the installed binding must not."""
    import subprocess
    import sys

    code = ("import workbench.ui\n"
            "from PySide6.QtCore import QCoreApplication, QObject, Signal\n"
            "app = QCoreApplication([])\n"
            "class R(QObject):\n    s = Signal(int)\n"
            "r = R(); r.s.connect(lambda v: None)\n"
            "for i in range(50_000):\n    r.s.emit(i); app.processEvents()\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_verify_and_export_run_in_background(qtbot, ws_path, tmp_path, make_window):
    win = make_window(ws_path, recompute=False)
    with qtbot.waitSignal(win.verified, timeout=TIMEOUT) as sig:
        win.verify_action.trigger()
    assert sig.args[0][-1].startswith("evidence_root ")
    assert any("verified" in t for t in close_boxes())
    pdf, xlsx = tmp_path / "out" / "report.pdf", tmp_path / "out" / "report.xlsx"
    with qtbot.waitSignal(win.exported, timeout=120_000) as sig:
        win.export_report(str(pdf), str(xlsx))
    assert sig.args[0] == [str(pdf), str(xlsx)]
    assert pdf.stat().st_size > 0 and xlsx.stat().st_size > 0
    assert any("report" in t for t in close_boxes())
    with Workspace.open(ws_path) as ws:
        actions = [e["action"] for e in ws.access_log()]
    assert "verify" in actions and "export" in actions


def test_broken_binding_is_refused_with_a_clear_message():
    from workbench.ui._compat import _affected

    assert _affected("6.12.0", (3, 11)) and _affected("6.13.1", (3, 11))
    assert not _affected("6.11.3", (3, 11)) and not _affected("6.12.0", (3, 12))
