"""What keeps the GUI fast on big workspaces (issue 8), checked for behaviour, not
timed (``benchmarks/bench_gui.py`` measures): the window starts from the results
cache without recomputing, views off screen wait until shown, the evidence tables
are read only when asked for, the trend plot downsamples and clips, and table
models stay lazy over Polars frames."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from PySide6.QtCore import QCoreApplication, QEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog  # noqa: E402

from workbench.ui import jobs  # noqa: E402
from workbench.ui.app import open_window, unclip_step_curves  # noqa: E402
from workbench.ui.drill import trend_points  # noqa: E402
from workbench.ui.main_window import MainWindow  # noqa: E402
from workbench.ui.models import PolarsTableModel  # noqa: E402
from workbench.ui.views.base import View  # noqa: E402
from workbench.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui]

HANDMADE = Path(__file__).resolve().parent / "data" / "handmade"
TIMEOUT = 60_000




@pytest.fixture
def windows(qtbot):
    made: list[MainWindow] = []
    yield made
    for w in made:
        w.close()
        w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    View.defer_hidden = False
    leaked = [w for w in QApplication.topLevelWidgets()
              if isinstance(w, (MainWindow, QProgressDialog, QMessageBox)) or w.isVisible()]
    assert not leaked, f"leaked top-level widgets: {leaked}"


def _open(qtbot, windows, path: Path) -> MainWindow:
    win = open_window(path, remember=False)
    windows.append(win)
    win.resize(1200, 800)
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        win.show()
    return win


def test_second_start_loads_the_saved_figures(qtbot, windows, ws_path, monkeypatch):
    first = _open(qtbot, windows, ws_path)
    assert first.outcome.cache == "empty"
    shown = first.outcome.results.to_json()
    first.close()
    # the second window must not recompute at all
    import workbench.service as service

    def no_recompute(*a, **k):
        raise AssertionError("recomputed although the cache holds the figures")

    monkeypatch.setattr(service, "recompute_workspace", no_recompute)
    second = _open(qtbot, windows, ws_path)
    o = second.outcome
    assert o.cache == "hit" and o.seconds is not None
    assert o.results.to_json() == shown
    assert second.overview.table_model.rowCount() > 0
    assert isinstance(o.tables, jobs.LazyTables)
    # small tables came with the figures; the others are read on first use only
    assert o.tables["services"].height > 0 and not o.tables.loaded
    assert set(o.tables) >= {"deployments", "pipeline_stages", "waivers"}
    assert "deployments" in o.tables and len(o.tables) >= 10
    # the access log says the figures were shown from the cache
    with Workspace.open(ws_path, create=False) as ws:
        last = [e for e in ws.access_log() if e["action"] == "recompute"][-1]
    assert '"cache": "hit"' in last["detail"]


def test_evidence_change_recomputes_in_the_background(qtbot, windows, ws_path):
    _open(qtbot, windows, ws_path).close()
    with Workspace.open(ws_path) as ws:
        ws.import_paths([Path(__file__).resolve().parent / "data" / "reported_handmade.csv"],
                        format="reported")
    win = _open(qtbot, windows, ws_path)
    assert win.outcome.cache.startswith("stale") and "evidence_root" in win.outcome.cache
    assert win.outcome.results.reconciliation.height > 0


def test_lazy_tables_read_on_first_use_and_in_a_thread(ws_path):
    with Workspace.open(ws_path) as ws:
        from workbench.governance import engine_tables

        want = engine_tables(ws)
    t = jobs.LazyTables(ws_path, {"services": want["services"]})
    assert t["services"] is not None and not t.loaded
    with pytest.raises(KeyError):
        t["no_such_table"]
    assert t.get("no_such_table") is None
    th = t.prefetch()
    th.join(30)
    assert t.loaded and t["deployments"].equals(want["deployments"])
    assert t["waivers"].equals(want["waivers"])


def test_hidden_views_wait_until_shown(qtbot, windows, ws_path):
    win = _open(qtbot, windows, ws_path)
    hidden = [v for n, v in win.views.items() if n != "overview" and isinstance(v, View)]
    assert hidden and all(v.pending or v.outcome is None for v in hidden)
    assert not win.overview.pending
    release = win.views["release"]
    assert release.pending and release.results is None
    win.show_view("release")
    assert not release.pending and release.results is win.outcome.results
    # without the flag (tests, screenshots) views take figures at once
    View.defer_hidden = False
    win.show_outcome(win.outcome)
    assert all(not v.pending for v in hidden)


def test_prefetch_is_used_once_and_only_for_its_workspace(ws_path, tmp_path):
    jobs.recompute_workspace(ws_path, log=False)           # fills the cache
    fut = jobs.prefetch_saved(ws_path, None, log=False)
    got = fut.result(30)
    assert got is not None and got.cache == "hit"
    assert jobs.recompute_workspace(ws_path, log=False) is got   # taken ...
    again = jobs.recompute_workspace(ws_path, log=False)         # ... once
    assert again is not got and again.cache == "hit"
    # a miss prefetches nothing and the recompute recomputes
    other = tmp_path / "other"
    with Workspace.open(other) as ws:
        ws.import_paths([HANDMADE])
    assert jobs.prefetch_saved(other, None, log=False).result(30) is None
    assert jobs.recompute_workspace(other, log=False).cache == "empty"
    # a prefetch of a folder that is not a workspace fails quietly; the recompute reports it
    jobs.prefetch_saved(tmp_path / "nothing", None, log=False)
    from workbench.errors import WorkspaceError

    with pytest.raises(WorkspaceError):
        jobs.recompute_workspace(tmp_path / "nothing", log=False)


def test_capabilities_fast_agrees_with_importing():
    assert jobs.capabilities(fast=True)["compare"][0] == jobs.capabilities()["compare"][0]


def test_trend_points_are_sorted_arrays_of_the_deployments(ws_path):
    o = jobs.recompute_workspace(ws_path, log=False, use_cache=False)
    x, y = trend_points(o.results, "lead_time_h")
    d = o.results.deployments.filter(pl.col("lead_time_h").is_not_null() & pl.col("finished_at").is_not_null())
    assert isinstance(x, np.ndarray) and x.dtype == np.float64 and len(x) == len(y) == d.height
    assert np.all(np.diff(x) >= 0)
    assert x[0] == d["finished_at"].min().timestamp()
    xp, _ = trend_points(o.results, "lead_time_h", environment="production")
    assert 0 < len(xp) <= len(x)
    with pytest.raises(ValueError):
        trend_points(o.results, "lead_time_h", colour="red")
    assert len(trend_points(o.results, "no_such_column")[0]) == 0


def test_million_point_trend_downsamples_and_clips(qtbot):
    from workbench.ui.widgets import ThemedPlot

    plot = ThemedPlot(title="trend")
    qtbot.addWidget(plot)
    n = 1_000_000
    x = np.arange(n, dtype=float) * 60.0
    y = np.sin(np.arange(n) / 5000.0)
    curve = plot.plot_item.plot(x=x, y=y)
    assert curve.opts["autoDownsample"] and curve.opts["downsampleMethod"] == "peak"
    assert curve.opts["clipToView"]
    plot.resize(800, 300)
    plot.show()
    plot.plot_item.setXRange(x[n // 2], x[n // 2 + 50_000], padding=0)
    qtbot.waitUntil(lambda: curve.curve.xData is not None and len(curve.curve.xData) < 20_000,
                    timeout=10_000)
    shown = curve.curve.xData
    # only the visible part (plus a margin), downsampled to about two points a pixel
    assert shown[0] >= x[n // 2] - 60.0 * 200 and shown[-1] <= x[n // 2 + 50_000] + 60.0 * 200


def test_step_curves_are_not_clipped(qtbot, windows, ws_path):
    win = open_window(ws_path, remember=False, recompute=False)
    windows.append(win)
    curve = win.overview.deploy_curve
    assert curve.opts["stepMode"] and not curve.opts["clipToView"] and not curve.opts["autoDownsample"]
    assert unclip_step_curves(win) >= 1


def test_table_model_is_lazy_over_a_large_frame():
    n = 300_000
    df = pl.DataFrame({"id": pl.int_range(n, eager=True).cast(pl.String),
                       "v": pl.Series(np.arange(n, dtype=float)[::-1])})
    m = PolarsTableModel(df)
    calls = {"n": 0}
    real = m._series

    class Counting(list):
        def __getitem__(self, i):
            calls["n"] += 1
            return real[i]

    m._series = Counting(real)
    assert m.rowCount() == n and calls["n"] == 0
    m._series = real
    m.sort(1)   # ascending by v: the last row first, through an index array
    assert m.value(0, "id") == str(n - 1)
    out = m.rows_frame()
    assert out.height == n and out["id"][0] == str(n - 1)
    assert m.rows_frame([0, 2])["id"].to_list() == [str(n - 1), str(n - 3)]
    m.set_filter(pl.col("v") < 10)
    assert m.rowCount() == 10 and m.rows_frame()["v"].to_list() == [float(i) for i in range(10)]
    from PySide6.QtCore import Qt

    assert m.data(m.index(0, 0), Qt.ItemDataRole.DecorationRole) is None
    assert m.data(m.index(0, 1)) == "0"
