"""Importers: one module per source format -> canonical tables + ImportReport.

``parse_paths`` reads and validates everything *before* anything is stored, so a
bad file leaves the workspace untouched.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..progress import Progress, step
from . import canonical
from .base import ImportReport, ParsedFile

__all__ = ["FORMATS", "detect", "parse_paths", "ImportReport", "ParsedFile"]

#: format name -> module with ``looks_like(path)``, ``files_in(path)`` and ``parse_file(path, ...)``
FORMATS = {canonical.FORMAT: canonical}


def detect(path: Path) -> str:
    """The format of ``path``, or an InputError that lists the known formats."""
    for name, mod in FORMATS.items():
        if mod.looks_like(path):
            return name
    raise InputError(
        "cannot tell the format of this file; name it with --format "
        f"({', '.join(FORMATS)})", file=str(path))


def parse_paths(paths: list[str | Path], *, format: str | None = None,
                source_tz: str | None = None,
                progress: Progress | None = None) -> tuple[list[ParsedFile], list[str]]:
    """Parse every file under ``paths``.  Returns the parsed files and notes about
    files that were skipped.  Raises InputError on the first bad file."""
    if format is not None and format not in FORMATS:
        raise InputError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
    jobs: list[tuple[Path, str]] = []
    notes: list[str] = []
    for p in map(Path, paths):
        if not p.exists():
            raise InputError("no such file or folder", file=str(p))
        fmt = format or detect(p)
        files, skipped = FORMATS[fmt].files_in(p)
        notes += skipped
        jobs += [(f, fmt) for f in files]
    parsed = []
    for i, (f, fmt) in enumerate(jobs):
        step(progress, i / max(1, len(jobs)), f"reading {f.name}")
        parsed.append(FORMATS[fmt].parse_file(f, source_tz=source_tz))
    step(progress, 1.0, "parsed")
    return parsed, notes
