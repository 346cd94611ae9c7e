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


@pytest.fixture
def ws_path(tmp_path):
    """A workspace folder holding the hand-made evidence (closed: GUI tests open it)."""
    from workbench.workspace import Workspace

    p = tmp_path / "ws"
    with Workspace.open(p) as ws:
        ws.import_paths([HANDMADE])
    return p


# ---- GUI fixtures (Qt is imported inside them: headless tests never load it) ----------
@pytest.fixture
def handmade_ws_path(tmp_path):
    """Like ws_path, in another folder (GUI tests that open two workspaces use both)."""
    from workbench.workspace import Workspace

    p = tmp_path / "hand"
    with Workspace.open(p) as ws:
        ws.import_paths([HANDMADE])
    return p


@pytest.fixture
def make_window(qtbot):
    """Create main windows (shown, offscreen); at teardown close and delete them and
    fail on leaked top-level widgets."""
    from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog

    from workbench.ui.main_window import MainWindow

    from .qt_helpers import close_boxes, flush_deletes

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
    for w in windows:
        w.close()
        w.deleteLater()
    flush_deletes()
    leaked = [w for w in QApplication.topLevelWidgets()
              if isinstance(w, (MainWindow, QProgressDialog, QMessageBox)) or w.isVisible()]
    assert not leaked, f"leaked top-level widgets: {leaked}"


@pytest.fixture
def utc_display():
    """Tests that change the display time zone leave it at UTC."""
    from workbench.ui.models import set_display_timezone

    yield
    set_display_timezone("UTC")
