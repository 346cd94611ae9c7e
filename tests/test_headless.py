"""The dependency rule: only ``workbench.ui`` imports Qt (DESIGN section 1)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "workbench"
QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6")


def _qt_imports(source: str, name: str) -> list[str]:
    """``name:line imports module`` for every Qt import in ``source`` (static imports,
    ``importlib.import_module("...")`` and ``__import__("...")``)."""
    tree = ast.parse(source, filename=name)
    hits = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (isinstance(node, ast.Call) and node.args
              and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__")
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]
        hits += [f"{name}:{node.lineno} imports {n}" for n in names
                 if n.split(".")[0] in QT_MODULES]
    return hits


def test_no_qt_outside_ui():
    files = [p for p in PKG.rglob("*.py") if p.relative_to(PKG).parts[0] != "ui"]
    assert len(files) > 10  # the scan does see the core
    hits = [h for f in files
            for h in _qt_imports(f.read_text(encoding="utf-8"), str(f.relative_to(PKG.parent)))]
    assert not hits, "Qt imported outside workbench/ui:\n" + "\n".join(hits)


def test_scan_catches_qt_imports():
    src = ("import os\nfrom PySide6.QtCore import Qt\nimport pyqtgraph as pg\n"
           "def f():\n    import importlib\n    return importlib.import_module('shiboken6')\n"
           "from . import ui\n")
    assert _qt_imports(src, "x.py") == ["x.py:2 imports PySide6.QtCore", "x.py:3 imports pyqtgraph",
                                        "x.py:6 imports shiboken6"]


def test_core_imports_leave_qt_out():
    code = ("import json, sys\n"
            "import workbench.cli, workbench.engine, workbench.workspace, workbench.policy\n"
            "import workbench.ingest, workbench.audit, workbench.progress\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
