from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HANDMADE = ROOT / "tests" / "data" / "handmade"
SHARED = ROOT.parent / "shared"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory, monkeypatch):
    """Never touch the user's real config folder (demo key, recent workspaces)."""
    monkeypatch.setenv("WORKBENCH_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(autouse=True)
def _gc_in_gui_thread(request):
    """In GUI tests the cyclic garbage collector runs in the GUI thread only, as in
    the application (a collection on a worker thread can finalize a Qt object there
    and crash); afterwards automatic collection is on again for the other tests."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    import gc

    from pyqtgraph.util.garbage_collector import GarbageCollector

    request.getfixturevalue("qapp")
    collector = GarbageCollector(interval=0.2)
    try:
        yield
    finally:
        collector.timer.stop()
        gc.collect()
        gc.enable()


@pytest.fixture
def handmade_tables():
    from workbench.ingest.canonical import read_dir

    tables, _ = read_dir(HANDMADE)
    return tables


@pytest.fixture
def handmade_ws(tmp_path):
    from workbench.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    ws.import_paths([HANDMADE])
    yield ws
    ws.close()


def _handmade_folder(p: Path) -> Path:
    """A workspace at ``p`` holding the hand-made evidence, closed again."""
    from workbench.workspace import Workspace

    with Workspace.open(p) as ws:
        ws.import_paths([HANDMADE])
    return p


@pytest.fixture
def ws_path(tmp_path):
    """A workspace folder holding the hand-made evidence (closed: GUI tests open it)."""
    return _handmade_folder(tmp_path / "ws")


# ---- GUI fixtures (Qt is imported inside them: headless tests never load it) ----------
@pytest.fixture
def handmade_ws_path(tmp_path):
    """Like ws_path, in another folder (GUI tests that open two workspaces use both)."""
    return _handmade_folder(tmp_path / "hand")


@pytest.fixture
def make_window(qtbot):
    """Create main windows (shown, offscreen); at teardown close and delete them and
    fail on leaked top-level widgets."""
    from workbench.ui.main_window import MainWindow

    from .qt_helpers import assert_no_leaked_windows, close_boxes

    windows = []

    def make(path, *, outcome=None, **kwargs):
        kwargs.setdefault("remember", False)
        if outcome is not None:
            kwargs["recompute"] = False
        w = MainWindow(path, **kwargs)
        windows.append(w)
        w.resize(1400, 900)
        w.show()
        qtbot.waitExposed(w)
        if outcome is not None:
            w.show_outcome(outcome)
        return w

    yield make
    close_boxes()
    assert_no_leaked_windows(windows)


@pytest.fixture
def utc_display():
    """Tests that change the display time zone leave it at UTC."""
    from workbench.ui.models import set_display_timezone

    yield
    set_display_timezone("UTC")
