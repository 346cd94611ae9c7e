"""Importers: one module per source format -> canonical tables + ImportReport.

``parse_paths`` reads and validates everything *before* anything is stored, so a
bad file leaves the workspace untouched.

Each format module provides ``FORMAT`` (its name), ``OPTIONS`` (the ``--option``
names it understands, with their meaning), ``looks_like(path)`` (cheap content
sniffing: JSON keys, CSV headers), ``files_in(path)`` and ``parse_file(path,
data=None, *, source_tz=None, **options) -> ParsedFile``.

Detection: a file named ``<table>.csv`` after a canonical table is canonical;
otherwise the first format whose ``looks_like`` accepts the content wins, in the
order of :data:`FORMATS`.  A folder is read file by file (canonical tables first,
in table order, then the other files by name); files no format recognises are
skipped with a note.  ``--format`` overrides detection for every file.
"""

from __future__ import annotations

import contextlib
import gc
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError
from ..progress import Progress, step
from . import (azure_devops, canonical, events, github_actions, gitlab, jenkins, logexport,
               mapped, opsgenie, otlp, pagerduty, reported, servicenow)
from .base import ImportReport, ParsedFile

__all__ = ["FORMATS", "detect", "parse_paths", "format_options", "ImportReport", "ParsedFile"]

#: format name -> module (detection order)
FORMATS = {m.FORMAT: m for m in (canonical, mapped, jenkins, gitlab, github_actions, azure_devops,
                                  servicenow, pagerduty, opsgenie, reported, events, otlp,
                                  logexport)}


def format_options(name: str) -> dict[str, str]:
    """The ``--option`` names a format understands, with their meaning."""
    return dict(getattr(FORMATS[name], "OPTIONS", {}))


def detect(path: Path, options: dict[str, Any] | None = None) -> str:
    """The format of ``path``, or an InputError that lists the known formats."""
    if options and options.get("mapping") and not path.is_dir():
        return mapped.FORMAT
    for name, mod in FORMATS.items():
        if name == mapped.FORMAT:
            continue
        if mod.looks_like(path):
            return name
    raise InputError(
        "cannot tell the format of this file; name it with --format "
        f"({', '.join(FORMATS)})", file=str(path))


def _folder(p: Path, options: dict[str, Any] | None) -> tuple[list[tuple[Path, str]], list[str]]:
    """Every file of a folder with its detected format, canonical tables first."""
    from ..schema import TABLES

    files = [f for f in sorted(p.iterdir()) if f.is_file() and not f.name.startswith(".")]
    canon = [p / f"{t}.csv" for t in TABLES if (p / f"{t}.csv").is_file()]
    rest = [f for f in files if f not in canon]
    jobs: list[tuple[Path, str]] = [(f, canonical.FORMAT) for f in canon]
    notes: list[str] = []
    for f in rest:
        if f.suffix.lower() in (".md", ".txt", ".toml", ".pdf", ".png", ".p7s"):
            notes.append(f"{f.name}: not an export, skipped")
            continue
        try:
            jobs.append((f, detect(f, options)))
        except InputError:
            _damaged(f)
            notes.append(f"{f.name}: format not recognised, skipped (name it with --format)")
    if not jobs:
        raise InputError("no file in this folder is an export of a known format "
                         f"({', '.join(FORMATS)})", file=str(p))
    return jobs, notes


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while one file is parsed: parsing a JSON
    export allocates millions of acyclic dicts and lists, and the collector's repeated
    passes over them made a 170 MB Jenkins export four times slower to read."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _damaged(f: Path) -> None:
    """A JSON file of a folder that no format recognises because it does not even
    parse is damaged evidence, not an unrelated file: say what is wrong with it."""
    from .base import MAX_JSON_BYTES, read_source
    from .records import load

    if f.suffix.lower() not in (".json", ".ndjson", ".jsonl"):
        return
    try:
        with open(f, "rb") as fh:
            head = fh.read(64).lstrip()
    except OSError:
        return
    if head[:1] in (b"{", b"[") or head.startswith(b"\xef\xbb\xbf"):
        load(f, read_source(f, limit=MAX_JSON_BYTES, what="JSON export"))


def parse_paths(paths: list[str | Path], *, format: str | None = None,
                source_tz: str | None = None, options: dict[str, Any] | None = None,
                progress: Progress | None = None) -> tuple[list[ParsedFile], list[str]]:
    """Parse every file under ``paths``.  Returns the parsed files and notes about
    files that were skipped.  Raises InputError on the first bad file."""
    if format is not None and format not in FORMATS:
        raise InputError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
    options = dict(options or {})
    jobs: list[tuple[Path, str]] = []
    notes: list[str] = []
    for p in map(Path, paths):
        if not p.exists():
            raise InputError("no such file or folder", file=str(p))
        if format is not None:
            files, skipped = FORMATS[format].files_in(p)
            notes += skipped
            jobs += [(f, format) for f in files]
        elif p.is_dir():
            found, skipped = _folder(p, options)
            jobs += found
            notes += skipped
        else:
            jobs.append((p, detect(p, options)))
    if options:
        known: set[str] = set()
        for fmt in {f for _, f in jobs}:
            known |= set(format_options(fmt))
        unknown = sorted(set(options) - known)
        if unknown:
            fmts = ", ".join(sorted({f for _, f in jobs}))
            raise InputError(f"unknown option {unknown[0]!r} for {fmts} "
                             f"(known: {', '.join(sorted(known)) or 'none'})",
                             file=", ".join(str(f) for f, _ in jobs[:3]) + (" ..." if len(jobs) > 3 else ""))
    parsed = []
    for i, (f, fmt) in enumerate(jobs):
        step(progress, i / max(1, len(jobs)), f"reading {f.name}")
        mod = FORMATS[fmt]
        own = {k: v for k, v in options.items() if k in format_options(fmt)}
        with _gc_paused():
            parsed.append(mod.parse_file(f, source_tz=source_tz, **own))
    step(progress, 1.0, "parsed")
    return parsed, notes
