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
