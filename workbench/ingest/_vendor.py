"""Boilerplate shared by the vendor importers: reading a file within its size limit,
loading its records, listing a folder's files of one format."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from ..errors import InputError
from .base import MAX_FILE_BYTES, MAX_JSON_BYTES, Context, read_source
from .records import Container, Peek, load, peek, stream

__all__ = ["open_json", "open_bytes", "files_of", "sniff", "limit_bytes", "text_of"]


def limit_bytes(options: dict[str, Any] | None, default: int, file: str | None = None) -> int:
    v = (options or {}).get("max_mb")
    if v is None:
        return default
    try:
        mb = float(v)
        if mb <= 0 or mb != mb:
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(f"option max_mb={v!r}: expected a positive number of megabytes",
                         file=file) from None
    return int(mb * 1024**2)


def open_bytes(path: Path, data: bytes | None, fmt: str, *, source_tz: str | None,
               options: dict[str, Any] | None, default_limit: int = MAX_JSON_BYTES,
               entity: str = "") -> Context:
    limit = limit_bytes(options, default_limit, str(path))
    raw = read_source(path, data, limit=min(limit, MAX_FILE_BYTES * 4), what=f"{fmt} export")
    return Context(path, raw, fmt, source_tz=source_tz, options=options, entity=entity)


def open_json(path: Path, data: bytes | None, fmt: str, *, source_tz: str | None,
              options: dict[str, Any] | None, streamed: bool = False) -> tuple[Context, Container]:
    """Read and load a JSON / NDJSON / DevLake CSV export.

    With ``streamed``, a large JSON array is not decoded here: ``cont.records`` is a
    :class:`~workbench.ingest.records.Streamed` that decodes one record at a time
    (and raises ``StreamBroken`` when the document needs :func:`load` after all;
    call again without ``streamed`` then)."""
    ctx = open_bytes(path, data, fmt, source_tz=source_tz, options=options)
    if streamed:
        st = stream(path, ctx.data)
        if st is not None:
            ctx.records = st
            if st.row_kind == "record":
                ctx.note("several records share a line of this JSON: rows in this report are "
                         "record numbers (1 = first record)")
            return ctx, Container("json", st, row_kind=st.row_kind)   # type: ignore[arg-type]
    try:
        cont = load(path, ctx.data)
    except MemoryError:
        raise InputError("not enough memory to parse this file", file=str(path)) from None
    ctx.records = {r.row: r.obj for r in cont.records}
    if cont.row_kind == "record":
        ctx.note("several records share a line of this JSON: rows in this report are record "
                 "numbers (1 = first record)")
    elif cont.row_kind == "row":
        ctx.note("DevLake raw-table CSV: rows are CSV data rows; the vendor object is in "
                 "column 'data'")
    return ctx, cont


def files_of(mod: ModuleType, path: Path) -> tuple[list[Path], list[str]]:
    """``[path]`` for a file; for a folder, its files that ``mod`` recognises."""
    if not path.is_dir():
        return [path], []
    files, notes = [], []
    for p in sorted(path.iterdir()):
        if not p.is_file() or p.name.startswith("."):
            continue
        if mod.looks_like(p):
            files.append(p)
        else:
            notes.append(f"{p.name}: not a {mod.FORMAT} export, skipped")
    if not files:
        raise InputError(f"no {mod.FORMAT} exports in this folder", file=str(path))
    return files, notes


def sniff(path: Path, test: Callable[[Peek], bool]) -> bool:
    if path.is_dir() or path.suffix.lower() in (".xlsx", ".xlsm", ".toml", ".md", ".txt"):
        return False
    pk = peek(path)
    if pk.kind not in ("json", "ndjson", "devlake"):
        return False
    try:
        return bool(test(pk))
    except (KeyError, TypeError, AttributeError, ValueError):
        return False


def text_of(*parts: Any) -> str:
    """Join the non-empty text parts (used for change-ticket search)."""
    return " ".join(str(p) for p in parts if p not in (None, "", [], {}))
