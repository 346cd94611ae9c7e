"""Refuse a PySide6 build that corrupts CPython 3.11's reference counts.

PySide6 6.12's ``abi3`` wheels return ``None`` (from void calls) and ``True`` (from
``Signal.emit``) without taking a reference, as if they were immortal objects --
which they are only from CPython 3.12 on (PEP 683).  On 3.11 every call drops a
reference the caller never owned and, after a few thousand calls, CPython aborts
with ``Fatal Python error: none_dealloc`` / ``bool_dealloc``.  PySide6 6.11 does not
have the defect, and ``pyproject.toml`` pins ``<6.12`` on Python < 3.12.  This check
turns an installation that slipped past the pin into a clear message instead of a
crash minutes into a session.
"""

from __future__ import annotations

import sys

from ..errors import WorkbenchError

__all__ = ["check_qt_binding"]


def _affected(pyside_version: str, python: tuple[int, int]) -> bool:
    major_minor = tuple(int(x) for x in pyside_version.split(".")[:2])
    return python < (3, 12) and major_minor >= (6, 12)


def check_qt_binding() -> None:
    import PySide6

    if sys.implementation.name == "cpython" and _affected(PySide6.__version__, sys.version_info[:2]):
        raise WorkbenchError(
            f"PySide6 {PySide6.__version__} crashes CPython {sys.version.split()[0]} "
            "(it loses references to None/True). Install a working build with: "
            "pip install 'PySide6-Essentials>=6.6,<6.12' -- or use Python 3.12 or newer.")
