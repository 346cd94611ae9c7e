"""The canonical CSV format: ``DIR/<table>.csv`` with the column names of DESIGN
section 3 (ISO 8601 timestamps with offset; empty = null).

It is the format for hand-made test data and the escape hatch for any tool that
has no importer yet.  Each CSV is its own evidence file; ``--option table=NAME``
reads a file not named after its table.

Speed: a large export is first tried on a *fast path* -- UTF-8 bytes straight into
Polars, timestamps parsed with the one ISO shape the file uses (``...Z`` or
``...+01:00``, with or without fractions), every rule of
:func:`workbench.schema.validate` checked as a whole-column expression, the file's
SHA-256 computed in a thread meanwhile.  Anything the fast path does not accept
outright (another encoding, naive or mixed timestamps, a bad value, a duplicate key,
...) goes through ``validate`` itself, which names the file, row and column of the
first problem; the fast path never accepts what ``validate`` would refuse and
produces the same frame (a test compares them).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError
from ..schema import TABLES, TS, validate
from .base import (MAX_FILE_BYTES, Context, ImportReport, ParsedFile, csv_header, decode_text,
                   field_stats, ragged_suspect, read_csv_text, read_source, sha256_bytes)
from .quality import order_checks
from .timeparse import iso_to_utc
from ._vendor import limit_bytes

__all__ = ["FORMAT", "OPTIONS", "parse_file", "read_dir", "files_in", "looks_like", "fast_validate"]

FORMAT = "canonical"
OPTIONS = {"max_mb": "refuse files larger than this many MB (default 4096)",
           "table": "the canonical table of a file not named <table>.csv",
           "skew_tolerance_s": "out-of-order timestamps closer than this are clock-skew suspects (300)"}

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")

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


_FAST_TS = re.compile(r"^\d{4}-\d{2}-\d{2}([T ])\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def _ts_expr(s: pl.Series) -> pl.Expr | None:
    """A fast parse of a text column of timestamps, or None (validate's parser).

    The values must share the first value's separator and offset suffix (``Z`` or
    ``+hh:mm``); they are parsed with that suffix as a literal (three times faster
    than ``%z``) and shifted by the offset.  A value that does not fit parses to
    null, which sends the file to validate."""
    vals = s.drop_nulls()
    if len(vals) == 0:
        return None
    m = _FAST_TS.match(vals[0])
    if not m:
        return None
    sep, suffix = m.group(1), m.group(2)
    if not bool(vals.str.ends_with(suffix).all()):
        return None
    # without fractions and all of one length, a format without %.f takes Polars'
    # fast parser (four times faster)
    plain = "." not in vals[0][:26] and vals.str.len_bytes().n_unique() == 1
    fmt = f"%Y-%m-%d{sep}%H:%M:%S{'' if plain else '%.f'}{suffix}"
    secs = 0 if suffix == "Z" else \
        (int(suffix[1:3]) * 3600 + int(suffix[4:6]) * 60) * (1 if suffix[0] == "+" else -1)
    e = pl.col(s.name).str.to_datetime(format=fmt, time_unit="us", time_zone="UTC", strict=False)
    return e - pl.duration(seconds=secs) if secs else e


def fast_validate(table: str, raw: pl.DataFrame, *, source: str, evidence_sha256: str) -> pl.DataFrame | None:
    """``validate(table, raw, ...)`` for input that is valid as it stands, computed as
    whole-column expressions; ``None`` when anything would need ``validate``'s
    row-by-row diagnosis (or its ``source_tz`` handling)."""
    spec = TABLES[table]
    if any(c.required and c.name not in raw.columns for c in spec.columns):
        return None
    present = {c.name for c in spec.columns if c.name in raw.columns}
    if any(raw.schema[c] != pl.String for c in present):
        return None
    n = raw.height
    try:
        exprs: list[pl.Expr] = []
        lost: list[pl.Expr] = []       # conversions that dropped a given value
        for col in spec.columns:
            name = col.name
            if name not in present:
                exprs.append(pl.lit(col.default if n else None, dtype=col.dtype).alias(name))
                continue
            src = raw.get_column(name)
            if col.dtype == TS:
                e = _ts_expr(src)
                if e is None:
                    if src.drop_nulls().len():
                        return None
                    e = pl.lit(None, dtype=TS)
                lost.append(pl.col(name).is_null().sum().alias(f"lost_{name}"))
            elif col.dtype == pl.Boolean:
                e = pl.col(name).str.to_lowercase().replace_strict(
                    {**{t: True for t in _TRUE}, **{f: False for f in _FALSE}},
                    default=None, return_dtype=pl.Boolean)
                lost.append(pl.col(name).is_null().sum().alias(f"lost_{name}"))
            elif col.dtype == pl.String:
                # enumerated values need no strip: " success" fails the value check
                e = pl.col(name).str.strip_chars() if col.values is None else pl.col(name)
            else:
                e = pl.col(name).cast(col.dtype, strict=False)
                lost.append(pl.col(name).is_null().sum().alias(f"lost_{name}"))
            exprs.append(e.alias(name))
        out = raw.select(exprs)
        # every check in one pass over the result
        checks: list[pl.Expr] = list(lost)
        for col in spec.columns:
            name = col.name
            if name in present and col.dtype == pl.String:
                checks.append((pl.col(name) == "").any().alias(f"empty_{name}"))
            if col.values is not None:
                checks.append((pl.col(name).is_not_null() & ~pl.col(name).is_in(list(col.values)))
                              .any().alias(f"bad_{name}"))
            if (col.required or not col.nullable) and col.default is None:
                checks.append(pl.col(name).is_null().any().alias(f"null_{name}"))
        if spec.key and n:
            checks.append((pl.struct(list(spec.key)).hash().n_unique() != n).alias("dup"))
        order = {"deployments": ("started_at", "finished_at"), "outages": ("start", "end"),
                 "waivers": ("valid_from", "valid_to"),
                 "incidents": ("opened_at", "resolved_at")}.get(table)
        if order:
            checks.append((pl.col(order[1]) < pl.col(order[0])).fill_null(False).any().alias("order"))
        res = out.select(checks).row(0, named=True) if checks else {}
        for key, v in res.items():
            if key.startswith("lost_"):
                name = key[5:]
                if v != raw.get_column(name).null_count():
                    return None
            elif key.startswith("empty_"):
                if v:     # "" -> null, as validate does (rare: quoted empty strings)
                    out = out.with_columns(pl.col(key[6:]).replace("", None))
            elif v:
                return None
        defaults = [pl.col(c.name).fill_null(c.default) for c in spec.columns
                    if c.default is not None and c.name in present]
        if defaults:
            out = out.with_columns(defaults)
        for col in spec.columns:     # a "" that became null must not break a required column
            if col.name in present and col.dtype == pl.String and (col.required or not col.nullable) \
                    and col.default is None and out.get_column(col.name).null_count():
                return None
    except Exception:  # any surprise: let validate explain
        return None
    return out.with_columns(pl.lit(source, dtype=pl.String).alias("source"),
                            pl.lit(evidence_sha256, dtype=pl.String).alias("evidence_sha256"))


def _read_fast(data: bytes, commas: list[int] | None = None,
               counted: threading.Thread | None = None) -> pl.DataFrame | None:
    """UTF-8 CSV bytes -> text columns, or None when the careful path must read them."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:65536]:
        return None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if not re.search(rb"\S", body[:65536]):
        return None
    header = csv_header(body)
    if len(set(header)) != len(header):
        return None
    try:
        df = pl.read_csv(body, infer_schema=False)
    except Exception:
        return None
    if counted is not None:
        counted.join()
    if ragged_suspect(body, df.width, df.height, commas[0] if commas else None):
        return None
    names = [c.strip() for c in df.columns]
    if names != df.columns:
        df = df.rename(dict(zip(df.columns, names)))
    return df


def _timestamps(table: str, raw: pl.DataFrame, file: str, source_tz: str | None) -> pl.DataFrame:
    """Timestamp columns parsed by :func:`~workbench.ingest.timeparse.iso_to_utc`, which
    treats a date without a time (``2026-07-01``) as naive -- it needs ``--source-tz``
    like any other naive value -- where a bare date would otherwise pass as UTC."""
    cols = [c.name for c in TABLES[table].columns if c.dtype == TS and c.name in raw.columns]
    if not cols:
        return raw
    return raw.with_columns([iso_to_utc(raw.get_column(c), file=file, column=c,
                                        source_tz=source_tz) for c in cols])


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               table: str | None = None, max_mb: str | float | None = None,
               skew_tolerance_s: Any = None) -> ParsedFile:
    """Parse one canonical CSV.  ``table`` defaults to the file's stem."""
    table = table or path.stem
    name = str(path)
    if table not in TABLES:
        raise InputError(f"{table!r} is not a canonical table ({', '.join(TABLES)}); "
                         "name the file <table>.csv or pass --option table=NAME", file=name)
    data = read_source(path, data, limit=limit_bytes({"max_mb": max_mb}, MAX_FILE_BYTES, name),
                       what="CSV file")
    digest: list[str] = []
    commas: list[int] = []

    def background() -> None:   # hashing and counting release the GIL / overlap Polars
        digest.append(sha256_bytes(data))
        commas.append(data.count(b","))

    hasher = threading.Thread(target=background, daemon=True)
    hasher.start()
    raw = _read_fast(data, commas, hasher) if len(data) > 1 << 20 else None
    frame = None
    if raw is not None:
        hasher.join()
        frame = fast_validate(table, raw, source=FORMAT, evidence_sha256=digest[0])
    if frame is None:
        hasher.join()
        text = decode_text(data, name)
        raw = read_csv_text(text, name)
        frame = validate(table, _timestamps(table, raw, name, source_tz), file=name, source=FORMAT,
                         evidence_sha256=digest[0], source_tz=source_tz)
    hasher.join()
    sha = digest[0]
    opts = {} if skew_tolerance_s is None else {"skew_tolerance_s": skew_tolerance_s}
    ctx = Context(path, data, FORMAT, source_tz=source_tz, options=opts,
                  entity=f"canonical {table} table", sha=sha)
    report = ctx.report
    report.tables = {table: frame.height}
    report.rows_read = raw.height
    report.rows_kept = frame.height
    extra = [c for c in raw.columns if c not in TABLES[table].names]
    if extra:
        report.notes.append(f"columns not in the canonical {table} table were ignored: "
                            + ", ".join(extra))
    order_checks(ctx, table, frame, list(range(1, frame.height + 1)),
                 ctx.opts.float("skew_tolerance_s", 300))
    report.stats = {table: field_stats(frame)}
    report.options = dict(sorted(ctx.opts.used.items()))
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
