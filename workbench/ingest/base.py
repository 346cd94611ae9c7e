"""Shared pieces of every importer: the parsed-file record, the ImportReport,
safe decoding of bytes and CSV reading that names file, row and column."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError

__all__ = ["ParsedFile", "ImportReport", "decode_text", "read_csv_text", "field_stats",
           "sha256_bytes", "MAX_FILE_BYTES"]

#: files larger than this are refused with a clear message (the canonical CSV path
#: streams through Polars, but a 4 GiB export is almost always a mistake)
MAX_FILE_BYTES = 4 * 1024**3


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class ImportReport:
    """What one source file gave: shown by the GUI, printed by the CLI, stored."""

    file: str
    sha256: str
    format: str
    tables: dict[str, int] = field(default_factory=dict)   # table -> rows kept
    rows_read: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)   # row, column, reason
    duplicates: int = 0
    already_imported: bool = False
    notes: list[str] = field(default_factory=list)
    stats: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "sha256": self.sha256, "format": self.format,
            "tables": dict(self.tables), "rows_read": self.rows_read,
            "rows_kept": self.rows_kept, "rows_rejected": self.rows_rejected,
            "rejected": list(self.rejected), "duplicates": self.duplicates,
            "already_imported": self.already_imported, "notes": list(self.notes),
            "stats": self.stats,
        }

    def summary(self) -> str:
        if self.already_imported:
            return f"{self.file}: already in the workspace (sha256 {self.sha256[:12]}), nothing added"
        tabs = ", ".join(f"{t} {n}" for t, n in self.tables.items()) or "no canonical rows"
        line = (f"{self.file} [{self.format}]: read {self.rows_read}, kept {self.rows_kept}, "
                f"rejected {self.rows_rejected} -> {tabs}")
        if self.notes:
            line += "\n  " + "\n  ".join(self.notes)
        return line


@dataclass
class ParsedFile:
    """One source file, parsed but not yet stored."""

    path: Path
    data: bytes
    sha256: str
    format: str
    tables: dict[str, pl.DataFrame]
    report: ImportReport


def decode_text(data: bytes, file: str) -> str:
    """Bytes -> text.  UTF-8 (with or without BOM) and UTF-16 with BOM are accepted;
    anything else is an InputError naming the row and byte where decoding failed."""
    if not data.strip():
        raise InputError("the file is empty", file=file)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"not valid UTF-16 text at byte {exc.start}", file=file) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start)
        raise InputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "re-export as UTF-8, or convert it (e.g. from cp1252)",
            file=file, row=row) from None


def _find_ragged_row(text: str, file: str) -> InputError | None:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return None
    try:
        for i, rec in enumerate(reader, 1):
            if rec and len(rec) != len(header):
                col = header[len(rec)] if len(rec) < len(header) else f"#{len(rec)}"
                return InputError(f"row has {len(rec)} fields, the header has {len(header)}",
                                  file=file, row=i, column=col)
    except csv.Error as exc:
        return InputError(f"malformed CSV: {exc}", file=file, row=reader.line_num - 1)
    return None


def read_csv_text(text: str, file: str) -> pl.DataFrame:
    """Read CSV text with every column as text; errors name file, row and column."""
    if not text.strip():
        raise InputError("the file is empty", file=file)
    try:
        df = pl.read_csv(text.encode(), infer_schema=False)
    except Exception as exc:  # polars raises ComputeError/NoDataError/ShapeError
        found = _find_ragged_row(text, file)
        if found is not None:
            raise found from None
        raise InputError(f"cannot read as CSV: {str(exc).splitlines()[0]}", file=file) from None
    names = [c.strip() for c in df.columns]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise InputError("column appears twice in the header", file=file, row=0,
                         column=sorted(dup)[0])
    if names != df.columns:
        df = df.rename(dict(zip(df.columns, names)))
    return df


def field_stats(df: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """IDEA-style field statistics: nulls, distinct, min and max per column."""
    out: dict[str, dict[str, Any]] = {}
    if df.height == 0:
        return out
    cols = [c for c in df.columns if c not in ("source", "evidence_sha256")]
    agg = df.select(
        *[pl.col(c).null_count().alias(f"{c}\x00nulls") for c in cols],
        *[pl.col(c).n_unique().alias(f"{c}\x00distinct") for c in cols],
        *[pl.col(c).min().cast(pl.String).alias(f"{c}\x00min") for c in cols
          if df.schema[c] != pl.Boolean],
        *[pl.col(c).max().cast(pl.String).alias(f"{c}\x00max") for c in cols
          if df.schema[c] != pl.Boolean],
    ).row(0, named=True)
    for key, v in agg.items():
        c, what = key.split("\x00")
        out.setdefault(c, {})[what] = v
    return out
