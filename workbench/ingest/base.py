"""Shared pieces of every importer: the parsed-file record, the ImportReport,
safe reading and decoding of bytes, CSV reading that names file, row and column,
import options, and :func:`finish`, which turns an importer's raw frames into
validated canonical tables with their data-quality figures.

Every importer follows the same path::

    data = read_source(path)            # size limit, OSError -> InputError
    ctx  = Context(path, data, FORMAT, source_tz, options, OPTIONS)
    ...  build raw frames (text / Datetime(UTC) / numbers) with a ``_row`` column
         holding the 1-based row (CSV data row, NDJSON line, JSON line of the record)
    return finish(ctx, {table: frame}, rows_read=n)

``finish`` drops exact duplicate rows (counted), refuses conflicting duplicates of
a key (or keeps the first/last with ``--option duplicates=keep_first|keep_last``),
validates through :func:`workbench.schema.validate` (errors are re-pointed at the
source row), and fills the report: rows read/kept/rejected/skipped, duplicates,
timestamps out of order, clock-skew suspects and field statistics.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError
from ..schema import TABLES, validate

__all__ = ["ParsedFile", "ImportReport", "Context", "Options", "decode_text", "read_csv_text",
           "csv_header", "ragged_suspect",
           "field_stats", "stats_exprs", "stats_from_row", "sha256_bytes", "read_source", "finish", "MAX_FILE_BYTES",
           "MAX_JSON_BYTES", "MAX_LISTED", "COMMON_OPTIONS"]

#: files larger than this are refused with a clear message (the canonical CSV path
#: streams through Polars, but a 4 GiB export is almost always a mistake)
MAX_FILE_BYTES = 4 * 1024**3
#: JSON / NDJSON / spreadsheet exports are parsed in memory: refuse more than this
MAX_JSON_BYTES = 1024**3
#: at most this many rejected rows / examples are listed in a report (all are counted)
MAX_LISTED = 200

#: options every format accepts (name -> meaning); importers add their own
COMMON_OPTIONS = {
    "duplicates": "error (default) | keep_first | keep_last: what to do when two records "
                  "share a key but differ",
    "max_mb": "refuse files larger than this many MB (default 1024 for JSON/XLSX, 4096 for CSV)",
    "skew_tolerance_s": "out-of-order timestamps closer than this many seconds are reported "
                        "as clock-skew suspects (default 300)",
    "service_map": "rename services: 'vendor name=CMDB name,other=name2'",
}


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
    #: what the file holds, in words ("Jenkins api/json builds", "Opsgenie teams")
    entity: str = ""
    #: False when the file holds none of the canonical entities (users, teams, ...)
    canonical: bool = True
    rows_skipped: int = 0
    skipped: dict[str, int] = field(default_factory=dict)          # reason -> records
    duplicate_rows: list[dict[str, Any]] = field(default_factory=list)
    out_of_order: int = 0
    out_of_order_rows: list[dict[str, Any]] = field(default_factory=list)
    clock_skew: int = 0
    clock_skew_rows: list[dict[str, Any]] = field(default_factory=list)
    #: how the file was read (import options in force, defaults included)
    options: dict[str, str] = field(default_factory=dict)
    #: counts of the cross-source reconciliation checks after this import (workspace)
    cross_source: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "sha256": self.sha256, "format": self.format,
            "entity": self.entity, "canonical": self.canonical,
            "tables": dict(self.tables), "rows_read": self.rows_read,
            "rows_kept": self.rows_kept, "rows_rejected": self.rows_rejected,
            "rejected": list(self.rejected), "rows_skipped": self.rows_skipped,
            "skipped": dict(self.skipped), "duplicates": self.duplicates,
            "duplicate_rows": list(self.duplicate_rows),
            "out_of_order": self.out_of_order, "out_of_order_rows": list(self.out_of_order_rows),
            "clock_skew": self.clock_skew, "clock_skew_rows": list(self.clock_skew_rows),
            "already_imported": self.already_imported, "notes": list(self.notes),
            "options": dict(self.options), "cross_source": dict(self.cross_source),
            "stats": self.stats,
        }

    def summary(self) -> str:
        if self.already_imported:
            return f"{self.file}: already in the workspace (sha256 {self.sha256[:12]}), nothing added"
        what = f" ({self.entity})" if self.entity else ""
        if not self.canonical:
            line = (f"{self.file} [{self.format}]{what}: holds no deployments, runs, stages, "
                    f"changes, incidents or CIs; {self.rows_read} record(s) kept as evidence only")
        else:
            tabs = ", ".join(f"{t} {n}" for t, n in self.tables.items()) or "no canonical rows"
            line = (f"{self.file} [{self.format}]{what}: read {self.rows_read}, kept {self.rows_kept}, "
                    f"rejected {self.rows_rejected}, skipped {self.rows_skipped}, "
                    f"duplicates {self.duplicates} -> {tabs}")
        extra = []
        if self.rejected:
            first = self.rejected[0]
            n = max(self.rows_rejected, len(self.rejected))
            more = f" (+{n - 1} more)" if n > 1 else ""
            extra.append(f"rejected: row {first['row']}, column {first['column']!r}: "
                         f"{first['reason']}{more}")
        if self.skipped:
            extra.append("skipped: " + "; ".join(f"{n} {why}" for why, n in self.skipped.items()))
        if self.out_of_order or self.clock_skew:
            extra.append(f"timestamps out of order: {self.out_of_order}; "
                         f"clock-skew suspects: {self.clock_skew}")
        extra += self.notes
        if extra:
            line += "\n  " + "\n  ".join(extra)
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


# ---- reading ---------------------------------------------------------------------------
def read_source(path: Path, data: bytes | None = None, *, limit: int = MAX_FILE_BYTES,
                what: str = "file") -> bytes:
    """The bytes of ``path``; refuses files over ``limit`` before reading them."""
    if data is not None:
        if len(data) > limit:
            raise InputError(_too_big(len(data), limit, what), file=str(path))
        return data
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputError(_too_big(size, limit, what), file=str(path))
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    except MemoryError:
        raise InputError("not enough memory to read this file", file=str(path)) from None


def _too_big(size: int, limit: int, what: str) -> str:
    return (f"the {what} is {size / 1024**2:,.0f} MB, over the import limit of "
            f"{limit / 1024**2:,.0f} MB; split the export (by date range) or raise the limit "
            "with --option max_mb=N")


def decode_text(data: bytes, file: str, *, lines: bool = False) -> str:
    """Bytes -> text.  UTF-8 (with or without BOM) and UTF-16 with BOM are accepted;
    anything else is an InputError naming the row and byte where decoding failed.
    The row is the CSV data row (header = 0), or with ``lines`` the 1-based line."""
    if not data.strip() or data in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        raise InputError("the file is empty", file=file)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"not valid UTF-16 text at byte {exc.start}", file=file) from None
        if not text.strip():
            raise InputError("the file is empty", file=file)
        return text
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + (1 if lines else 0)
        raise InputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "re-export as UTF-8, or convert it (e.g. from cp1252)",
            file=file, row=row) from None
    if not text.strip():
        raise InputError("the file is empty", file=file)
    return text


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


def read_csv_text(text: str | bytes, file: str) -> pl.DataFrame:
    """Read CSV (text, or UTF-8 bytes) with every column as text; errors name file,
    row and column."""
    raw = text.encode() if isinstance(text, str) else text
    if not raw.strip():
        raise InputError("the file is empty", file=file)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw:
        at = raw.index(b"\x00")
        raise InputError(f"binary data (a NUL byte at offset {at}), not CSV text",
                         file=file, row=raw.count(b"\n", 0, at))
    header = csv_header(raw)
    dup = {n for n in header if header.count(n) > 1}
    if dup:
        raise InputError("column appears twice in the header", file=file, row=0,
                         column=sorted(dup)[0])
    try:
        df = pl.read_csv(raw, infer_schema=False)
    except Exception as exc:  # polars raises ComputeError/NoDataError/ShapeError
        found = _find_ragged_row(raw.decode("utf-8", "replace"), file)
        if found is not None:
            raise found from None
        raise InputError(f"cannot read as CSV: {str(exc).splitlines()[0]}", file=file) from None
    if ragged_suspect(raw, df.width, df.height):
        found = _find_ragged_row(raw.decode("utf-8", "replace"), file)
        if found is not None:
            raise found from None
    names = [c.strip() for c in df.columns]
    if names != df.columns:
        df = df.rename(dict(zip(df.columns, names)))
    return df


def csv_header(raw: bytes) -> list[str]:
    """The column names of a CSV's first line (as written, stripped)."""
    end = raw.find(b"\n")
    first = (raw if end < 0 else raw[:end]).decode("utf-8", "replace").rstrip("\r")
    try:
        return [h.strip() for h in next(csv.reader([first]))]
    except (StopIteration, csv.Error):
        return []


#: above this size a quoted CSV is not re-read by the csv module to look for short rows
RAGGED_SCAN_BYTES = 64 * 1024**2


def ragged_suspect(raw: bytes, width: int, height: int, commas: int | None = None) -> bool:
    """Whether some row may have fewer fields than the header (Polars pads such rows
    with nulls instead of refusing them).  Without quotes, every one of the
    ``height + 1`` lines of a well-formed file has ``width - 1`` separators: one count
    decides (``commas`` may be counted beforehand, e.g. in a thread); quoted files
    are scanned by the csv module up to :data:`RAGGED_SCAN_BYTES`."""
    if width <= 1 or height == 0:
        return False
    if b'"' in raw:
        return len(raw) <= RAGGED_SCAN_BYTES
    n = raw.count(b",") if commas is None else commas
    return n != (height + 1) * (width - 1)


#: above this many rows, distinct counts of text columns count 64-bit hashes (twice as
#: fast; a collision -- probability below 1e-7 at a million values -- would undercount
#: by one)
HASHED_DISTINCT_ROWS = 200_000


def stats_exprs(schema: dict[str, pl.DataType], height: int,
                expr: Any = None) -> list[pl.Expr]:
    """The expressions of :func:`field_stats` for columns ``schema`` of a frame of
    ``height`` rows, to be evaluated in one ``select`` (with other expressions);
    ``expr(name)`` gives the expression of a column (default ``pl.col(name)``).
    :func:`stats_from_row` turns the selected row into the statistics."""
    col = expr or pl.col
    cols = [c for c in schema if c not in ("source", "evidence_sha256", "_row")]
    big = height > HASHED_DISTINCT_ROWS

    def distinct(c: str) -> pl.Expr:
        if big and schema[c] == pl.String:
            # nulls hash to one value too, as n_unique counts null as one distinct value
            return col(c).hash().n_unique()
        return col(c).n_unique()

    return [
        *[col(c).null_count().alias(f"{c}\x00nulls") for c in cols],
        *[distinct(c).alias(f"{c}\x00distinct") for c in cols],
        *[col(c).min().cast(pl.String).alias(f"{c}\x00min") for c in cols
          if schema[c] != pl.Boolean],
        *[col(c).max().cast(pl.String).alias(f"{c}\x00max") for c in cols
          if schema[c] != pl.Boolean],
    ]


def stats_from_row(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The statistics out of a row selected with :func:`stats_exprs` (other keys,
    without a NUL in their name, are ignored)."""
    out: dict[str, dict[str, Any]] = {}
    for key, v in row.items():
        if "\x00" in key:
            c, what = key.split("\x00")
            out.setdefault(c, {})[what] = v
    return out


def field_stats(df: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """IDEA-style field statistics: nulls, distinct, min and max per column."""
    if df.height == 0:
        return {}
    return stats_from_row(df.select(stats_exprs(dict(df.schema), df.height)).row(0, named=True))


# ---- options ---------------------------------------------------------------------------
class Options:
    """Import options (``--option key=value``) of one file, with typed getters that
    raise an InputError naming the option.  Every value read is remembered so the
    report can say how the file was interpreted."""

    def __init__(self, values: dict[str, Any] | None, file: str) -> None:
        self.values = {k: v for k, v in (values or {}).items() if v is not None}
        self.file = file
        self.used: dict[str, str] = {}

    def _bad(self, name: str, msg: str) -> InputError:
        return InputError(f"option {name}={self.values.get(name)!r}: {msg}", file=self.file)

    def str(self, name: str, default: str | None = None) -> str | None:
        v = self.values.get(name, default)
        v = None if v is None else str(v)
        if v is not None:
            self.used[name] = v
        return v

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        v = (self.str(name, default) or default).strip().lower()
        if v not in choices:
            raise self._bad(name, f"must be one of {', '.join(choices)}")
        return v

    def bool(self, name: str, default: bool) -> bool:
        v = self.values.get(name, default)
        if isinstance(v, bool):
            self.used[name] = str(v).lower()
            return v
        low = str(v).strip().lower()
        if low in ("1", "true", "yes", "y", "on"):
            self.used[name] = "true"
            return True
        if low in ("0", "false", "no", "n", "off"):
            self.used[name] = "false"
            return False
        raise self._bad(name, "expected true or false")

    def float(self, name: str, default: float) -> float:
        v = self.values.get(name, default)
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise self._bad(name, "expected a number") from None
        if f != f or f < 0:
            raise self._bad(name, "expected a number >= 0")
        self.used[name] = f"{f:g}"
        return f

    def regex(self, name: str, default: str | None) -> re.Pattern[str] | None:
        v = self.str(name, default)
        if v is None or v == "":
            return None
        try:
            return re.compile(v)
        except re.error as exc:
            raise self._bad(name, f"not a valid regular expression ({exc})") from None

    def list(self, name: str, default: str = "") -> list[str]:
        v = self.str(name, default) or ""
        return [p.strip() for p in v.split(",") if p.strip()]

    def mapping(self, name: str) -> dict[str, str]:
        """``a=b,c=d`` -> {"a": "b", "c": "d"} (keys compared case-insensitively by callers)."""
        out: dict[str, str] = {}
        for part in self.list(name):
            if "=" not in part:
                raise self._bad(name, f"expected key=value pairs separated by commas, got {part!r}")
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
        return out


class Context:
    """Per-file state of an import: name, hash, options, and the report being built."""

    def __init__(self, path: Path, data: bytes, fmt: str, *, source_tz: str | None,
                 options: dict[str, Any] | None, entity: str = "", sha: str | None = None) -> None:
        self.path = path
        self.file = str(path)
        self.data = data
        self.sha = sha or sha256_bytes(data)
        self.format = fmt
        self.source_tz = source_tz
        self.opts = Options(options, self.file)
        self.report = ImportReport(file=path.name, sha256=self.sha, format=fmt, entity=entity)
        #: source row -> vendor record (JSON formats), for telling duplicate records apart
        self.records: dict[int, Any] | None = None
        self._rejected_rows: set[int] = set()
        self._skipped: dict[int, str] = {}
        self.service_map = {k.lower(): v for k, v in self.opts.mapping("service_map").items()}

    # -- row bookkeeping --------------------------------------------------------------
    def reject(self, row: int, column: str | None, reason: str) -> None:
        """A record that cannot be mapped (unknown status, ...): left out, listed."""
        if row not in self._rejected_rows:
            self._rejected_rows.add(row)
            if len(self.report.rejected) < MAX_LISTED:
                self.report.rejected.append({"row": row, "column": column, "reason": reason})

    def skip(self, row: int, reason: str) -> None:
        """A record deliberately not mapped (still running, not a deployment, ...)."""
        self._skipped.setdefault(row, reason)

    def note(self, text: str) -> None:
        if text not in self.report.notes:
            self.report.notes.append(text)

    def service(self, name: str | None) -> str | None:
        if name is None:
            return None
        return self.service_map.get(name.lower(), name)


# ---- finishing: validate, dedupe, quality --------------------------------------------------
def _remap(exc: InputError, rows: list[int], file: str) -> InputError:
    row = exc.row
    if row is not None and 1 <= row <= len(rows):
        row = rows[row - 1]
    return InputError(exc.reason, file=file, row=row, column=exc.column)


def _same_records(ctx: Context, a: int, b: int) -> bool:
    """Whether source rows ``a`` and ``b`` hold identical vendor records."""
    if ctx.records is None:
        return True
    ra, rb = ctx.records.get(a), ctx.records.get(b)
    if ra is None or rb is None:
        return False
    if ra is rb:
        return True
    return json.dumps(ra, sort_keys=True, default=str) == json.dumps(rb, sort_keys=True, default=str)


def _dedupe(ctx: Context, table: str, df: pl.DataFrame, policy: str) -> pl.DataFrame:
    """Drop duplicate rows (counted) and resolve key conflicts per ``policy``.

    A row identical to an earlier one is a duplicate when the table has a key (the
    same entity recorded twice with the same facts) or when both rows come from
    identical source records (a page exported twice).  Rows of distinct records
    that merely look alike (two retries of a job with the same times) are kept."""
    cols = [c for c in df.columns if c != "_row"]
    if df.height < 2:
        return df
    keyed = bool(TABLES[table].key)
    dup = df.select(pl.struct(cols).is_duplicated()).to_series()
    if dup.any():
        sub = df.with_row_index("_i").filter(dup)
        grp = sub.group_by(pl.struct(cols).hash().alias("_h"), maintain_order=True).agg(
            pl.col("_i"), pl.col("_row"))
        drop_idx: list[int] = []
        for idxs, rows in zip(grp["_i"].to_list(), grp["_row"].to_list()):
            first_row = rows[0]
            for i, r in zip(idxs[1:], rows[1:]):
                if r == first_row or keyed or _same_records(ctx, first_row, r):
                    drop_idx.append(i)
        if drop_idx:
            drop = pl.Series([False] * df.height).scatter(drop_idx, True)
            ctx.report.duplicates += len(drop_idx)
            key = TABLES[table].key or tuple(cols[:2])
            shown = df.filter(drop).head(max(0, MAX_LISTED - len(ctx.report.duplicate_rows)))
            for rec in shown.iter_rows(named=True):
                ctx.report.duplicate_rows.append(
                    {"table": table, "row": rec["_row"], "key": "/".join(str(rec[k]) for k in key),
                     "kind": "identical"})
            df = df.filter(~drop)
    key = list(TABLES[table].key)
    if not key or df.height < 2:
        return df
    kdup = df.select(pl.struct(key).is_duplicated()).to_series()
    if not kdup.any():
        return df
    clash = df.filter(kdup)
    if policy == "error":
        k0 = clash[key[0]][0]
        both = clash.filter(pl.col(key[0]) == k0)
        diff = [c for c in cols if both[c].n_unique() > 1]
        r1, r2 = both["_row"][0], both["_row"][1]
        raise InputError(
            f"{key[0]} {k0!r} appears twice with different content (rows {r1} and {r2} differ "
            f"in {', '.join(diff[:4])}); resolve it at the source, or choose one with "
            "--option duplicates=keep_first|keep_last",
            file=ctx.file, row=r2, column=key[0])
    keep = "first" if policy == "keep_first" else "last"
    kept = df.unique(subset=key, keep=keep, maintain_order=True)
    dropped = df.join(kept.select("_row"), on="_row", how="anti")
    ctx.report.duplicates += dropped.height
    for rec in dropped.head(max(0, MAX_LISTED - len(ctx.report.duplicate_rows))).iter_rows(named=True):
        ctx.report.duplicate_rows.append(
            {"table": table, "row": rec["_row"], "key": str(rec[key[0]]),
             "kind": f"conflicting; the {keep} was kept"})
    return kept


def finish(ctx: Context, frames: dict[str, pl.DataFrame], *, rows_read: int,
           canonical: bool = True) -> ParsedFile:
    """Validate the raw frames of one file and complete its ImportReport.

    Each frame holds canonical column names (missing optional columns are added by
    validation) and ``_row``, the source row of every canonical row."""
    from .quality import order_checks  # local: quality imports base

    policy = ctx.opts.choice("duplicates", ("error", "keep_first", "keep_last"), "error")
    skew_s = ctx.opts.float("skew_tolerance_s", 300)
    report = ctx.report
    report.rows_read = rows_read
    report.canonical = canonical
    out: dict[str, pl.DataFrame] = {}
    kept_rows: set[int] = set()
    for table, raw in frames.items():
        if raw.height == 0:
            continue
        if "_row" not in raw.columns:
            raw = raw.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))
        if "service" in raw.columns and ctx.service_map and raw.schema["service"] == pl.String:
            raw = raw.with_columns(pl.col("service").replace(
                {k: v for k, v in ctx.service_map.items()} |
                {k.upper(): v for k, v in ctx.service_map.items()}))
        raw = _dedupe(ctx, table, raw, policy)
        rows = raw["_row"].to_list()
        try:
            frame = validate(table, raw.drop("_row"), file=ctx.file, source=ctx.format,
                             evidence_sha256=ctx.sha, source_tz=ctx.source_tz, row_offset=1)
        except InputError as exc:
            raise _remap(exc, rows, ctx.file) from None
        order_checks(ctx, table, frame, rows, skew_s)
        out[table] = frame
        report.tables[table] = frame.height
        report.stats[table] = field_stats(frame)
        kept_rows.update(rows)
    report.rows_kept = len(kept_rows)
    rejected = ctx._rejected_rows - kept_rows
    report.rows_rejected = len(rejected)
    # a part of a kept record (a stage of a kept run) can be rejected too: it stays
    # listed, marked, so nothing left out goes unmentioned
    for r in report.rejected:
        r["record_kept"] = r["row"] in kept_rows
    skipped = {r: why for r, why in ctx._skipped.items() if r not in kept_rows and r not in rejected}
    dup_only = max(0, rows_read - len(kept_rows) - len(rejected) - len(skipped))
    report.rows_skipped = len(skipped)
    report.skipped = dict(Counter(skipped.values()).most_common())
    if canonical and dup_only and report.duplicates:
        report.notes.append(f"{dup_only} record(s) only repeated records already read")
    report.options = dict(sorted(ctx.opts.used.items()))
    return ParsedFile(path=ctx.path, data=ctx.data, sha256=ctx.sha, format=ctx.format,
                      tables=out, report=report)


def rows_to_frame(ctx: Context, table: str, rows: list[dict[str, Any]], *,
                  times: dict[str, str] | None = None, fmt: str | None = None) -> pl.DataFrame:
    """Raw row dicts (canonical column names plus ``_row``) -> a frame for :func:`finish`.

    ``times`` names the timestamp columns and how their raw values are written:
    ``"iso"`` (text, see :mod:`.timeparse`), ``"ms"`` / ``"s"`` (epoch numbers) or
    ``"dt"`` (already ``datetime``/None).  Other columns are kept as given; the
    schema validation casts them."""
    from .timeparse import epoch_to_utc, iso_to_utc

    spec = TABLES[table]
    all_names = spec.names
    names = [c for c in all_names if any(c in r for r in rows[:1000])] if rows else []
    if len(rows) > 1000 and len(names) < len(all_names):
        # keys that only appear after the first 1000 rows, in the order they are met
        missing = set(all_names) - set(names)
        for r in rows[1000:]:
            if not missing.isdisjoint(r):
                for c in r:
                    if c in missing:
                        names.append(c)
                        missing.discard(c)
                if not missing:
                    break
    src = [r["_row"] for r in rows]
    cols: dict[str, pl.Series] = {"_row": pl.Series("_row", src, dtype=pl.Int64)}
    times = times or {}
    for c in names:
        vals = [r.get(c) for r in rows]
        kind = times.get(c)
        if kind == "iso":
            cols[c] = iso_to_utc(vals, file=ctx.file, column=c, rows=src,
                                 source_tz=ctx.source_tz, fmt=fmt)
        elif kind in ("ms", "s"):
            cols[c] = epoch_to_utc(vals, file=ctx.file, column=c, rows=src, unit=kind)
        elif kind == "dt":
            cols[c] = pl.Series(c, vals, dtype=pl.Datetime("us", "UTC"))
        elif spec.column(c).dtype == pl.Boolean:
            cols[c] = pl.Series(c, vals, dtype=pl.Boolean)
        elif spec.column(c).dtype in (pl.Int64, pl.Float64):
            cols[c] = _numbers(ctx, c, vals, src, spec.column(c).dtype)
        else:
            cols[c] = pl.Series(c, [None if v is None else str(v) for v in vals], dtype=pl.String)
    return pl.DataFrame(cols)


def _numbers(ctx: Context, column: str, vals: list[Any], src: list[int],
             dtype: pl.DataType) -> pl.Series:
    out: list[Any] = []
    for i, v in enumerate(vals):
        if v is None or v == "":
            out.append(None)
            continue
        try:
            f = float(v)
            if f != f or f in (float("inf"), float("-inf")):
                raise ValueError
            out.append(int(f) if dtype == pl.Int64 and f == int(f) else
                       (f if dtype == pl.Float64 else _not_whole(v)))
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"expected a number, found {v!r}", file=ctx.file, row=src[i],
                             column=column) from None
    return pl.Series(column, out, dtype=dtype)


def _not_whole(v: Any) -> Any:
    raise ValueError(v)
