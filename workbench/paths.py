"""Where the bundled resources, sample data and per-user files live."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["resources_dir", "sample_data_dir", "config_dir", "resource"]

_PKG = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]


def resources_dir() -> Path:
    """``resources/`` of the checkout, or the copy bundled into the wheel."""
    return _first_existing(_PKG.parent / "resources", _PKG / "_resources")


def sample_data_dir() -> Path:
    return _first_existing(_PKG.parent / "sample_data", _PKG / "_sample_data")


def resource(name: str) -> Path:
    return resources_dir() / name


def config_dir() -> Path:
    """Per-user configuration folder (demo signing key, recent workspaces).

    ``WORKBENCH_CONFIG_DIR`` overrides it (tests use a temporary folder).
    """
    env = os.environ.get("WORKBENCH_CONFIG_DIR")
    if env:
        p = Path(env)
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        p = Path(base) / "release-sla-workbench"
    p.mkdir(parents=True, exist_ok=True)
    return p
