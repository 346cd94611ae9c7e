"""The canonical CSV format: ``DIR/<table>.csv`` with the column names of DESIGN
section 3 (ISO 8601 timestamps with offset; empty = null).

It is the format for hand-made test data and the escape hatch for any tool that
has no importer yet.  Each CSV is its own evidence file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import InputError
from ..schema import TABLES, validate
from .base import ImportReport, ParsedFile, decode_text, field_stats, read_csv_text, sha256_bytes

__all__ = ["FORMAT", "parse_file", "read_dir", "files_in", "looks_like"]

FORMAT = "canonical"


def looks_like(path: Path) -> bool:
    if path.is_dir():
        return any((path / f"{t}.csv").is_file() for t in TABLES)
    return path.suffix.lower() == ".csv" and path.stem in TABLES


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    """The canonical CSVs of a folder (in table order) and notes on what was skipped."""
    if not path.is_dir():
        return [path], []
    files = [path / f"{t}.csv" for t in TABLES if (path / f"{t}.csv").is_file()]
    known = {f.name for f in files}
    notes = [f"{p.name}: not a canonical table ({', '.join(TABLES)}), skipped"
             for p in sorted(path.iterdir())
             if p.is_file() and p.suffix.lower() == ".csv" and p.name not in known]
    if not files:
        raise InputError(f"no canonical table files (<table>.csv for {', '.join(TABLES)})",
                         file=str(path))
    return files, notes


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               table: str | None = None) -> ParsedFile:
    """Parse one canonical CSV.  ``table`` defaults to the file's stem."""
    table = table or path.stem
    name = str(path)
    if table not in TABLES:
        raise InputError(f"{table!r} is not a canonical table ({', '.join(TABLES)})", file=name)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    sha = sha256_bytes(data)
    text = decode_text(data, name)
    raw = read_csv_text(text, name)
    frame = validate(table, raw, file=name, source=FORMAT, evidence_sha256=sha,
                     source_tz=source_tz)
    report = ImportReport(file=path.name, sha256=sha, format=FORMAT, tables={table: frame.height},
                          rows_read=raw.height, rows_kept=frame.height)
    extra = [c for c in raw.columns if c not in TABLES[table].names]
    if extra:
        report.notes.append(f"columns not in the canonical {table} table were ignored: "
                            + ", ".join(extra))
    report.stats = {table: field_stats(frame)}
    return ParsedFile(path=path, data=data, sha256=sha, format=FORMAT,
                      tables={table: frame}, report=report)


def read_dir(path: str | Path, *, source_tz: str | None = None) -> tuple[dict[str, pl.DataFrame], list[ImportReport]]:
    """Read every canonical table of a folder into validated frames (no workspace)."""
    files, _ = files_in(Path(path))
    tables: dict[str, pl.DataFrame] = {}
    reports = []
    for f in files:
        parsed = parse_file(f, source_tz=source_tz)
        reports.append(parsed.report)
        for t, df in parsed.tables.items():
            tables[t] = pl.concat([tables[t], df]) if t in tables else df
    return tables, reports
